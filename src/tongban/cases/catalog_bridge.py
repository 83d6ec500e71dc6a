"""What the case engine needs of a catalog item's published version, read through the catalog's own
selectors, and the publish check that validates an item's application form and workflow.

`ItemSpec` is the snapshot a case keeps (non-personal): a case stays under the version it was made
under even after the item is changed and published again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tongban.core.logging import get_logger

log = get_logger("tongban.cases")


@dataclass(frozen=True)
class MaterialSpec:
    code: str
    name: str
    required: bool = True
    obtained_by_platform: bool = False  # 免提交: the platform fetches it from `source`
    source: str = ""  # identity | population | vehicle | licence | enterprise | shared
    source_name: str = ""  # the data source as the catalog names it ("人口信息")


@dataclass(frozen=True)
class ItemSpec:
    code: str
    title: str
    department: str
    region_code: str = ""  # the implementing body's region
    version_id: int | None = None
    version: int = 1
    assurance_level: int = 2
    workflow: str = "two_review"
    application_form: Any = None
    enterprise_applicable: bool = False
    citizen_applicable: bool = True
    hk_macao_applicable: bool = True
    materials: tuple[MaterialSpec, ...] = ()
    limit_days: int = 0  # promised working days
    postal_delivery: bool = True
    electronic_result: bool = True
    online_depth: int = 4
    pickup_stations: tuple[str, ...] = field(default_factory=tuple)
    result_name: str = ""

    def snapshot(self) -> dict[str, Any]:
        data = asdict(self)
        data["materials"] = [asdict(m) for m in self.materials]
        data["pickup_stations"] = list(self.pickup_stations)
        return data

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> ItemSpec:
        data = dict(data)
        data["materials"] = tuple(MaterialSpec(**m) for m in data.get("materials", []))
        data["pickup_stations"] = tuple(data.get("pickup_stations", []))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def _first(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        if isinstance(obj, dict):
            if name in obj:
                return obj[name]
        elif hasattr(obj, name):
            return getattr(obj, name)
    return default


# The catalog names a fetched material's data source in words ("人口信息"); the engine's sources by keyword.
_SOURCE_WORDS = (("驾驶人信息", "licence"), ("机动车登记", "vehicle"), ("出入境证件", "hk_macao_permit"),
                 ("户籍", "population"), ("人口", "population"), ("身份", "identity"), ("市场主体", "enterprise"))
_SOURCE_KEYS = ("identity", "population", "household", "vehicle", "licence", "enterprise", "hk_macao_permit")


def material_source_key(text: str) -> str:
    """The engine's source for a catalog data-source name; "shared" for one it has no reference source of."""
    if text in _SOURCE_KEYS:
        return text
    for word, key in _SOURCE_WORDS:
        if word in text:
            return key
    return "shared"


def _material(index: int, raw: Any) -> MaterialSpec:
    by_platform = bool(_first(raw, "platform_fetched", "obtained_by_platform", default=False))
    return MaterialSpec(
        code=str(_first(raw, "code", default="") or f"m{index}"),
        name=str(_first(raw, "name", default="")),
        required=bool(_first(raw, "required", default=True)),
        obtained_by_platform=by_platform,
        source=material_source_key(str(_first(raw, "fetched_from", default="") or "")) if by_platform else "",
        source_name=str(_first(raw, "fetched_from", default="") or "") if by_platform else "",
    )


def spec_from_version(version: Any) -> ItemSpec:
    """An ItemSpec from a catalog ImplementationVersion (or a dict with the same names)."""
    implementation = _first(version, "implementation", default=None)
    raw_materials = _first(version, "materials", default=[]) or []
    stations = [str(loc.get("name", "")) for loc in (_first(version, "locations", default=[]) or [])
                if isinstance(loc, dict) and loc.get("name")]
    return ItemSpec(
        code=str(_first(implementation, "code", default="") if implementation is not None
                 else _first(version, "code", default="")),
        title=str(_first(version, "name", "title", default="")),
        department=str(_first(implementation, "department", default="") if implementation is not None
                       else _first(version, "department", default="")),
        region_code=str(_first(implementation, "region_code", default="") if implementation is not None
                        else _first(version, "region_code", default="")),
        version_id=_first(version, "pk", default=None),
        version=int(_first(version, "number", default=1) or 1),
        assurance_level=int(_first(version, "assurance_level", default=1) or 1),
        workflow=str(_first(version, "workflow", default="") or ""),
        application_form=_first(version, "application_form", default=None),
        enterprise_applicable=bool(_first(version, "enterprise_applicable", default=False)),
        citizen_applicable=bool(_first(version, "audience_mainland", default=True)),
        hk_macao_applicable=bool(_first(version, "audience_hk_macao", default=False)),
        materials=tuple(_material(i, m) for i, m in enumerate(raw_materials, start=1) if isinstance(m, dict)),
        limit_days=int(_first(version, "promised_limit_days", default=0) or 0),
        postal_delivery=bool(_first(version, "postal_delivery", default=False)),
        electronic_result=True,
        online_depth=int(_first(version, "online_depth", default=0) or 0),
        pickup_stations=tuple(stations),
        result_name=str(_first(version, "result_name", default="") or ""),
    )


# Items offered without the catalog app (tests of the engine alone, and deployments without it).
_EXTRA: dict[str, ItemSpec] = {}


def offer_item(spec: ItemSpec) -> None:
    """Make an item applicable without the catalog (the engine's own tests)."""
    _EXTRA[spec.code] = spec


def withdraw_item(code: str) -> None:
    _EXTRA.pop(code, None)


def published_item(code: str) -> ItemSpec | None:
    """The current published version of an item, or None (unknown, unpublished, not online)."""
    if code in _EXTRA:
        return _EXTRA[code]
    try:
        from tongban.catalog.selectors import published_version_by_code
    except ImportError:
        return None
    version = published_version_by_code(code)
    if version is None or not version.workflow:
        return None  # no workflow: not applicable online
    return spec_from_version(version)


def publish_problems(version: Any) -> list[str]:
    """What is wrong with an item version's application form or workflow (the publish check)."""
    from tongban.cases.form_schema import validate_definition
    from tongban.cases.workflow import WorkflowConfigError, get_workflow

    problems = list(validate_definition(_first(version, "application_form", default=None)))
    key = _first(version, "workflow", default="") or ""
    if key:
        try:
            get_workflow(str(key))
        except WorkflowConfigError:
            problems.append(f"办理流程“{key}”不存在。")
    return problems


def register_publish_check() -> None:
    """Hook our check into the catalog's publish step, when the catalog app is installed."""
    try:
        from tongban.catalog.application import register_publish_check as register
    except ImportError:
        return
    register(publish_problems)
