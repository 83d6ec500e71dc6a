"""Assurance levels of identity verification, and the URIs they are known by (the OIDC `acr` value).

L1 实名 (real-name) and L2 实证 (real-credential) are verified against the population registry and
the ID-card issuance records by the engine; L3 实人 (real-person: a face with a liveness challenge against
the card photo) is performed by `tongban.face` on top of L2, where the optional extra `face` is installed
(`supported_levels()`); the engine itself answers `level_not_supported` for L3.
"""

from __future__ import annotations

from enum import IntEnum

from django.utils.translation import gettext, gettext_noop

ACR_PREFIX = "urn:tongban:acr:"


class AssuranceLevel(IntEnum):
    NONE = 0  # 未认证
    L1 = 1  # 实名: name and number consistent in the population registry, status normal
    L2 = 2  # 实证: L1 + the current, valid ID card (validity dates) / a valid travel permit
    L3 = 3  # 实人: L2 + face against the card photo (tongban.face)

    @property
    def label(self) -> str:
        return gettext({0: gettext_noop("未认证"), 1: gettext_noop("实名"), 2: gettext_noop("实证"), 3: gettext_noop("实人")}[self.value])

    @property
    def code_label(self) -> str:
        """How a level code (`l1`, `l2`) is shown to people: `实名 L1`."""
        return f"{self.label} L{self.value}" if self.value else self.label

    @property
    def uri(self) -> str | None:
        """`urn:tongban:acr:l1` …; None for NONE (nothing was asserted)."""
        return None if self is AssuranceLevel.NONE else f"{ACR_PREFIX}l{self.value}"

    @classmethod
    def from_uri(cls, uri: str) -> AssuranceLevel:
        """The level for an `acr` URI; ValueError for anything else."""
        for level in cls:
            if level.uri is not None and level.uri == uri:
                return level
        raise ValueError(f"unknown assurance level URI {uri!r}")


# The levels the engine verifies from a claim alone.
SUPPORTED_LEVELS = frozenset({AssuranceLevel.L1, AssuranceLevel.L2})


def supported_levels() -> frozenset[AssuranceLevel]:
    """The levels this platform can verify: the engine's, and L3 where face matching is installed."""
    from tongban.face.matcher import available

    return SUPPORTED_LEVELS | {AssuranceLevel.L3} if available() else SUPPORTED_LEVELS
