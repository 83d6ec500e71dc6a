"""The vocabulary of a verification answer: a verdict per field and a code for why a level was not reached.

Both are codes, never data (DESIGN.md §3, invariant 2). docs/verification.md explains which code is
given when, and why some fine-grained reasons are kept for the audit record only.
"""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext, gettext_noop


class FieldVerdict(StrEnum):
    CONSISTENT = "consistent"  # 一致
    INCONSISTENT = "inconsistent"  # 不一致
    SOURCE_UNAVAILABLE = "source_unavailable"  # 数据源不可用 (never a pass)
    NOT_CHECKED = "not_checked"  # 未核验 (not needed for the level, or an earlier step failed)

    @property
    def label(self) -> str:
        return gettext(_VERDICT_LABELS[self])


_VERDICT_LABELS = {
    FieldVerdict.CONSISTENT: gettext_noop("一致"),
    FieldVerdict.INCONSISTENT: gettext_noop("不一致"),
    FieldVerdict.SOURCE_UNAVAILABLE: gettext_noop("数据源不可用"),
    FieldVerdict.NOT_CHECKED: gettext_noop("未核验"),
}


class ReasonCode(StrEnum):
    """Why the requested level was not reached.

    NOT_FOUND and NAME_INCONSISTENT are internal: they go to the audit record, and the caller is
    answered IDENTITY_INCONSISTENT for both, so the answer never says whether a number exists.
    """

    # Identity (L1)
    IDENTITY_INCONSISTENT = "identity_inconsistent"
    NOT_FOUND = "not_found"  # internal only
    NAME_INCONSISTENT = "name_inconsistent"  # internal only
    DECEASED = "deceased"
    CANCELLED = "cancelled"
    EMIGRATED = "emigrated"
    # Resident ID card (L2)
    CARD_NOT_FOUND = "card_not_found"
    CARD_VALIDITY_INCONSISTENT = "card_validity_inconsistent"
    CARD_SUPERSEDED = "card_superseded"
    CARD_LOST = "card_lost"
    CARD_VOID = "card_void"
    CARD_EXPIRED = "card_expired"
    # Mainland Travel Permit for HK/Macao residents (L2)
    PERMIT_SUPERSEDED = "permit_superseded"
    PERMIT_VOID = "permit_void"
    PERMIT_EXPIRED = "permit_expired"
    # The request
    SOURCE_UNAVAILABLE = "source_unavailable"
    LEVEL_NOT_SUPPORTED = "level_not_supported"

    @property
    def label(self) -> str:
        return gettext(_REASON_LABELS[self])

    @property
    def public(self) -> ReasonCode:
        """The code a caller may be told (internal codes fold into identity_inconsistent)."""
        return ReasonCode.IDENTITY_INCONSISTENT if self in INTERNAL_REASONS else self


INTERNAL_REASONS = frozenset({ReasonCode.NOT_FOUND, ReasonCode.NAME_INCONSISTENT})

_REASON_LABELS = {
    ReasonCode.IDENTITY_INCONSISTENT: gettext_noop("姓名与证件号码不一致"),
    ReasonCode.NOT_FOUND: gettext_noop("证件号码不存在（仅审计）"),
    ReasonCode.NAME_INCONSISTENT: gettext_noop("姓名与登记不符（仅审计）"),
    ReasonCode.DECEASED: gettext_noop("已死亡"),
    ReasonCode.CANCELLED: gettext_noop("户口已注销"),
    ReasonCode.EMIGRATED: gettext_noop("已迁出境外"),
    ReasonCode.CARD_NOT_FOUND: gettext_noop("无身份证办理记录"),
    ReasonCode.CARD_VALIDITY_INCONSISTENT: gettext_noop("身份证有效期与现持证件不一致"),
    ReasonCode.CARD_SUPERSEDED: gettext_noop("该身份证已换领或补领，请使用最新证件"),
    ReasonCode.CARD_LOST: gettext_noop("身份证已挂失"),
    ReasonCode.CARD_VOID: gettext_noop("身份证已作废"),
    ReasonCode.CARD_EXPIRED: gettext_noop("身份证已过期"),
    ReasonCode.PERMIT_SUPERSEDED: gettext_noop("通行证已换发，请使用最新证件"),
    ReasonCode.PERMIT_VOID: gettext_noop("通行证已作废"),
    ReasonCode.PERMIT_EXPIRED: gettext_noop("通行证已过期"),
    ReasonCode.SOURCE_UNAVAILABLE: gettext_noop("权威数据源暂不可用"),
    ReasonCode.LEVEL_NOT_SUPPORTED: gettext_noop("暂不支持所请求的认证等级"),
}
