"""Load the shipped catalog (data/*.json) into the database: `tongban catalog load`.

The files are checked as a whole first (structure, references, every content rule); one bad entry and
nothing is loaded. Loading is idempotent: an organisation or basic item is updated in place, an
implementation whose file content equals its published version is left alone, a changed one gets a new
published version (the old one retired). Staff work wins over the files: an implementation whose current
version a reviewer published, which a reviewer retired, or which has a draft or submission open, is not
touched; the report lists it as kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Max

from tongban.accounts.regions import region_exists
from tongban.accounts.roles import Department
from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.catalog.application import publish_problems
from tongban.catalog.models import (
    BasicItem,
    ChangeKind,
    Implementation,
    ImplementationVersion,
    ItemType,
    Organisation,
    OrgLevel,
    VersionStatus,
)
from tongban.catalog.services import change_record, default_content
from tongban.catalog.validation import content_errors
from tongban.core import clock


@dataclass
class LoadReport:
    organisations: int = 0
    basic_items: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"机构 {self.organisations} 个，基本目录 {self.basic_items} 项；实施清单新增 {self.created}、更新 {self.updated}、"
                f"未变 {self.unchanged}")
        if self.kept:
            text += f"、保留后台发布版本 {len(self.kept)}（{'、'.join(self.kept[:5])}{'…' if len(self.kept) > 5 else ''}）"
        return text


class CatalogDataError(ValueError):
    """The data files are not loadable; `problems` names each file, entry and field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the catalog data files")
        self.problems = problems


def data_dir() -> Path:
    return Path(str(resources.files("tongban.catalog").joinpath("data")))


def _read(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name}: 不是有效的 JSON（{exc}）")
        return {}
    if not isinstance(data, dict):
        problems.append(f"{path.name}: 顶层应为对象")
        return {}
    return data


@dataclass
class CatalogData:
    organisations: list[dict[str, Any]]
    basic_items: list[dict[str, Any]]
    implementations: list[dict[str, Any]]


def read_data(directory: Path | None = None) -> CatalogData:
    """Read and check every data file; raise CatalogDataError listing all problems."""
    root = directory or data_dir()
    problems: list[str] = []
    orgs = _read(root / "organisations.json", problems).get("organisations", [])
    basics: list[dict[str, Any]] = []
    for path in sorted((root / "basic").glob("*.json")):
        basics.extend(_read(path, problems).get("basic_items", []))
    impls: list[dict[str, Any]] = []
    for path in sorted(root.glob("[0-9]*/*.json")):
        for i, row in enumerate(_read(path, problems).get("implementations", []), start=1):
            impls.append({**row, "_where": f"{path.parent.name}/{path.name} 第 {i} 项"})
    org_codes = set()
    for i, o in enumerate(orgs, start=1):
        where = f"organisations.json 第 {i} 个机构"
        if o.get("level") not in OrgLevel.values:
            problems.append(f"{where}: level 不正确")
        if o.get("department") and o["department"] not in Department.values:
            problems.append(f"{where}: 未知的部门警种 {o['department']}")
        if o.get("region_code") and not region_exists(o["region_code"]):
            problems.append(f"{where}: 行政区划代码 {o['region_code']} 不存在")
        if o.get("parent") and o["parent"] not in org_codes:
            problems.append(f"{where}: 上级机构 {o['parent']} 应在其前面列出")
        if o.get("code") in org_codes:
            problems.append(f"{where}: 机构代码 {o.get('code')} 重复")
        org_codes.add(o.get("code"))
    basic_codes: dict[str, dict[str, Any]] = {}
    for b in basics:
        where = f"基本目录 {b.get('code')}"
        if b.get("code") in basic_codes:
            problems.append(f"{where}: 编码重复")
        if b.get("item_type") not in ItemType.values or b.get("department") not in Department.values:
            problems.append(f"{where}: 事项类型或部门警种不正确")
        basic_codes[str(b.get("code"))] = b
    impl_codes: set[str] = set()
    orgs_by_code = {o.get("code"): o for o in orgs}
    for row in impls:
        where = f"{row['_where']}（{row.get('code')}）"
        if row.get("code") in impl_codes:
            problems.append(f"{where}: 实施编码重复")
        impl_codes.add(str(row.get("code")))
        basic = basic_codes.get(str(row.get("basic_code")))
        org = orgs_by_code.get(row.get("organisation"))
        if basic is None:
            problems.append(f"{where}: 基本目录编码 {row.get('basic_code')} 不存在")
        if org is None:
            problems.append(f"{where}: 实施主体 {row.get('organisation')} 不存在")
        elif basic is not None and org.get("department") != basic.get("department"):
            problems.append(f"{where}: 实施主体的部门警种与基本目录不一致")
        if not region_exists(str(row.get("region_code") or "")):
            problems.append(f"{where}: 实施区划代码 {row.get('region_code')} 不存在")
        content = row.get("content")
        if not isinstance(content, dict):
            problems.append(f"{where}: content 应为对象")
            continue
        full = default_content(**content)
        errors = content_errors(full)
        for fname, messages in errors.items():
            for message in messages:
                problems.append(f"{where} 字段 {fname}: {message}")
        if not errors and full.get("workflow"):
            # What the other apps check at publication (the case engine: the form and workflow), checked
            # here too, since the loader publishes without a reviewer.
            for message in publish_problems(ImplementationVersion(**full)):
                problems.append(f"{where} 字段 application_form: {message}")
    if problems:
        raise CatalogDataError(problems)
    return CatalogData(orgs, basics, impls)


def _upsert(model: Any, code: str, values: dict[str, Any]) -> tuple[Any, bool]:
    obj = model.objects.filter(code=code).first()
    if obj is None:
        return model.objects.create(code=code, **values), True
    changed = [k for k, v in values.items() if getattr(obj, k) != v]
    for k in changed:
        setattr(obj, k, values[k])
    if changed:
        obj.save(update_fields=changed)
    return obj, bool(changed)


@transaction.atomic
def catalog_load(directory: Path | None = None, *, actor: Actor | None = None) -> LoadReport:
    data = read_data(directory)
    who = actor or Actor.system("catalog.load")
    report = LoadReport(organisations=len(data.organisations), basic_items=len(data.basic_items))
    orgs: dict[str, Organisation] = {}
    for o in data.organisations:
        parent = orgs.get(o["parent"]) if o.get("parent") else None
        orgs[o["code"]], _ = _upsert(Organisation, o["code"], {
            "name": o["name"], "level": o["level"], "region_code": o.get("region_code", ""),
            "department": o.get("department", ""), "parent": parent, "phone": o.get("phone", "")})
    basics: dict[str, BasicItem] = {}
    for b in data.basic_items:
        basics[b["code"]], _ = _upsert(BasicItem, b["code"], {
            "name": b["name"], "item_type": b["item_type"], "department": b["department"],
            "legal_basis": b.get("legal_basis", "")})
    now = clock.now()
    # Read what is there in three queries; an unchanged item (the usual case) costs no more.
    existing = {i.code: i for i in Implementation.objects.select_related("published_version")}
    open_ids = set(ImplementationVersion.objects.filter(status__in=[VersionStatus.DRAFT, VersionStatus.SUBMITTED])
                   .values_list("implementation_id", flat=True))
    last_number = dict(ImplementationVersion.objects.values("implementation_id").annotate(n=Max("number"))
                       .values_list("implementation_id", "n"))
    for row in data.implementations:
        content = default_content(**row["content"])
        basic, org = basics[row["basic_code"]], orgs[row["organisation"]]
        impl = existing.get(row["code"])
        published = impl.published_version if impl is not None else None
        if published is not None and published.content() == content:
            report.unchanged += 1
            continue
        if impl is None:
            impl = Implementation.objects.create(code=row["code"], basic_item=basic, organisation=org,
                                                 region_code=row["region_code"], department=basic.department)
            audit_record(action=Action.CATALOG_ITEM_CREATE, actor=who,
                         subject=Subject("catalog.implementation", impl.pk),
                         details={"implementation": impl.code, "basic_item": basic.code, "source": "data file"})
            number = 1
        else:
            # Staff work wins over the files: a version a reviewer published, an item a reviewer retired
            # (nothing published any more), a draft or submission in progress.
            if published is None or published.reviewed_by_id is not None or impl.pk in open_ids:
                report.kept.append(impl.code)
                continue
            Implementation.objects.select_for_update().filter(pk=impl.pk).first()
            published.status, published.retired_at = VersionStatus.RETIRED, now
            published.save(update_fields=["status", "retired_at"])
            number = last_number.get(impl.pk, 0) + 1
        version = ImplementationVersion.objects.create(
            implementation=impl, number=number, status=VersionStatus.PUBLISHED,
            submitted_at=now, published_at=now, review_note="随数据文件发布", **content)
        impl.published_version = version
        impl.updated_at = now
        impl.save(update_fields=["published_version", "updated_at"])
        change_record(version, ChangeKind.PUBLISHED)
        audit_record(action=Action.CATALOG_VERSION_PUBLISH, actor=who, subject=Subject("catalog.version", version.pk),
                     details={"implementation": impl.code, "number": version.number, "source": "data file"})
        if number == 1:
            report.created += 1
        else:
            report.updated += 1
    audit_record(action=Action.CATALOG_LOAD, actor=who, subject=Subject("catalog", "data"),
                 details={"created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                          "kept": len(report.kept)})
    return report
