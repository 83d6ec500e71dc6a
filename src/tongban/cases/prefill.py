"""免提交: what the platform obtains itself instead of asking — the applicant's verified identity, the
household address, vehicle and licence data from the reference sources — and the materials whose source
says "the platform obtains it". Each read of personal data is audited; a source that does not answer
means the field is asked for instead (never a failed application).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.cases.catalog_bridge import ItemSpec, MaterialSpec
from tongban.cases.form_schema import PREFILL_SOURCES, fields_of
from tongban.cases.models import AttachmentSource, Case
from tongban.core import clock
from tongban.core.logging import get_logger
from tongban.registry.interfaces import SourceUnavailable

log = get_logger("tongban.cases")


@dataclass
class Prefill:
    values: dict[str, Any] = field(default_factory=dict)  # field name -> value the platform obtained
    vehicle_choices: list[tuple[str, str]] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)  # sources that did not answer


def _profile(user: Any) -> Any:
    from tongban.accounts.models import CitizenProfile

    return CitizenProfile.objects.filter(user_id=user.pk, closed_at__isnull=True).first()


def _household(id_number: str) -> str | None:
    from tongban.registry.interfaces import population

    return population().household_address(id_number)


def _vehicles(id_number: str) -> list[tuple[str, str]]:
    from tongban.registry.interfaces import traffic

    return [(v.plate, f"{v.plate}（{v.vehicle_type}）") for v in traffic().vehicles_by_owner(id_number)]


def _licence(id_number: str, name: str) -> Any:
    from tongban.registry.interfaces import traffic

    return traffic().licence_status(id_number, name)


def prefill_for(*, user: Any, item: ItemSpec, request: HttpRequest | None = None) -> Prefill:
    """The values of the item's prefilled fields for this applicant (audited as a personal-data read)."""
    wanted = {f["name"]: f["prefill"] for f in fields_of(item.application_form)
              if isinstance(f, dict) and f.get("prefill") in PREFILL_SOURCES}
    result = Prefill()
    if not wanted:
        return result
    profile = _profile(user)
    if profile is None or not profile.level:
        return result
    id_number, name = str(profile.id_number or ""), str(profile.name or "")
    resident = profile.id_type == "resident_id"
    licence: Any = None
    for field_name, source in wanted.items():
        try:
            if source == "identity.name":
                result.values[field_name] = name
            elif source == "identity.id_number":
                result.values[field_name] = id_number
            elif source == "identity.id_type":
                result.values[field_name] = profile.get_id_type_display()
            elif source == "account.phone" and profile.phone:
                result.values[field_name] = str(profile.phone)
            elif source == "household.address" and resident:
                address = _household(id_number)
                if address:
                    result.values[field_name] = address
            elif source == "vehicle.plate" and resident:
                result.vehicle_choices = _vehicles(id_number)
            elif source.startswith("licence.") and resident:
                licence = licence or _licence(id_number, name)
                if licence.found and licence.name_consistent:
                    value = {"licence.number": id_number, "licence.class": licence.licence_class,
                             "licence.valid_to": licence.valid_to.isoformat() if licence.valid_to else "长期"
                             }.get(source)
                    if value:
                        result.values[field_name] = value
        except SourceUnavailable as exc:
            result.unavailable.append(str(exc))
            log.warning("cases.prefill_source_unavailable", source=source)
    with transaction.atomic():
        audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.user(user), request=request,
                     subject=Subject("accounts.user", int(user.pk)),
                     details={"purpose": "case_prefill", "item": item.code,
                              "fields": sorted(set(wanted.values())), "unavailable": result.unavailable})
    return result


def _material_document(user: Any, material: MaterialSpec, case: Case) -> dict[str, Any] | None:
    """What the platform obtains for one material, or None when the source knows nothing of it."""
    profile = _profile(user)
    if profile is None or not profile.level:
        return None
    id_number, name = str(profile.id_number or ""), str(profile.name or "")
    resident = profile.id_type == "resident_id"
    source = material.source or "identity"
    data: dict[str, Any]
    if source in ("identity", "population", "household", "hk_macao_permit"):
        data = {"姓名": name, "证件类型": profile.get_id_type_display(), "证件号码": id_number,
                "认证等级": f"L{profile.level}",
                "认证时间": profile.verified_at.isoformat() if profile.verified_at else ""}
        if source in ("population", "household") and resident:
            address = _household(id_number)
            if address:
                data["户籍地址"] = address
    elif source == "vehicle":
        data = {"名下机动车": [label for _, label in _vehicles(id_number)] if resident else []}
    elif source == "licence":
        info = _licence(id_number, name) if resident else None
        if info is None or not info.found:
            return None
        data = {"驾驶证号": id_number, "准驾车型": info.licence_class, "状态": str(info.status or ""),
                "有效期至": info.valid_to.isoformat() if info.valid_to else "长期"}
    elif source == "enterprise":
        if case.enterprise is None:
            return None
        data = {"企业名称": case.enterprise.name, "统一社会信用代码": case.enterprise.uscc}
    else:
        # A sharing source the platform has no reference implementation of yet: the request is recorded and
        # the officer sees the source's answer at acceptance.
        data = {"共享数据源": material.source_name or source, "状态": "平台已发起共享核验，受理时由民警查看核验结果"}
    return {"材料": material.name, "来源": material.source_name or source, "获取方式": "平台共享获取（免提交）",
            "获取时间": clock.now().isoformat(), "内容": data}


@transaction.atomic
def materials_fetch(*, user: Any, case: Case, request: HttpRequest | None = None) -> list[str]:
    """Fetch each material the platform obtains that the case does not hold yet (audited); the names of the
    materials that could not be obtained (their source did not answer or knows nothing)."""
    from tongban.cases.attachments import _store

    item = ItemSpec.from_snapshot(case.item_snapshot)
    have = set(case.attachments.filter(superseded_at__isnull=True).values_list("material_code", flat=True))
    missing: list[str] = []
    for material in item.materials:
        if not material.obtained_by_platform or material.code in have:
            continue
        try:
            document = _material_document(user, material, case)
        except SourceUnavailable:
            document = None
        if document is None:
            missing.append(material.name)
            continue
        data = json.dumps(document, ensure_ascii=False, indent=1, default=_json_default).encode()
        _store(case, material_code=material.code, material_name=material.name, data=data,
               mime="application/json", source=AttachmentSource.PLATFORM, user=user, request=request)
    return missing


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)
