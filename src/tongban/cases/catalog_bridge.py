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
    source: str = ""  # identity | household | vehicle | licence | hk_macao_permit ...


@dataclass(frozen=True)
class ItemSpec:
    code: str
    title: str
    department: str
    version_id: int | None = None
    version: int = 1
    assurance_level: int = 2
    workflow: str = "default"
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
        if isinstance(obj, dict) and name in obj:
            return obj[name]
        if hasattr(obj, name):
            value = getattr(obj, name)
            return value() if callable(value) and not hasattr(value, "all") else value
    return default


def _material(raw: Any) -> MaterialSpec:
    by_platform = bool(_first(raw, "obtained_by_platform", "platform_obtains", "platform_obtained", default=False))
    return MaterialSpec(
        code=str(_first(raw, "code", "key", "pk", "id", default="")),
        name=str(_first(raw, "name", "title", default="")),
        required=bool(_first(raw, "required", default=True)),
        obtained_by_platform=by_platform,
        source=str(_first(raw, "source", "platform_source", default="") or ""),
    )


def spec_from_version(version: Any) -> ItemSpec:
    """An ItemSpec from a catalog item version object (or a dict of the same names)."""
    item = _first(version, "item", default=version)
    raw_materials = _first(version, "materials", default=[]) or []
    if hasattr(raw_materials, "all"):
        raw_materials = list(raw_materials.all())
    stations = _first(version, "pickup_stations", default=()) or ()
    return ItemSpec(
        code=str(_first(item, "code", default="")),
        title=str(_first(version, "title", "name", default="") or _first(item, "title", "name", default="")),
        department=str(_first(version, "department", default="") or _first(item, "department", default="")),
        version_id=_first(version, "pk", "id", default=None),
        version=int(_first(version, "number", "version", default=1) or 1),
        assurance_level=int(_first(version, "assurance_level", default=2) or 0),
        workflow=str(_first(version, "workflow", "workflow_key", default="default") or "default"),
        application_form=_first(version, "application_form", default=None),
        enterprise_applicable=bool(_first(version, "enterprise_applicable", default=False)),
        citizen_applicable=bool(_first(version, "citizen_applicable", default=True)),
        hk_macao_applicable=bool(_first(version, "hk_macao_applicable", default=True)),
        materials=tuple(_material(m) for m in raw_materials),
        limit_days=int(_first(version, "promised_days", "time_limit_days", "limit_days", default=0) or 0),
        postal_delivery=bool(_first(version, "postal_delivery", "mail_delivery", default=True)),
        electronic_result=bool(_first(version, "electronic_result", default=True)),
        online_depth=int(_first(version, "online_depth", default=4) or 0),
        pickup_stations=tuple(str(s) for s in stations),
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
        from tongban.catalog import selectors as catalog_selectors
    except ImportError:
        return None
    getter = getattr(catalog_selectors, "published_version", None) or getattr(
        catalog_selectors, "item_published_version", None)
    if getter is None:
        return None
    try:
        version = getter(code=code)
    except TypeError:
        version = getter(code)
    except Exception:  # the catalog answers "not found" its own way
        return None
    return spec_from_version(version) if version is not None else None


def publish_problems(version: Any) -> list[str]:
    """What is wrong with an item version's application form or workflow (the publish check)."""
    from tongban.cases.form_schema import validate_definition
    from tongban.cases.workflow import WorkflowConfigError, get_workflow

    problems = list(validate_definition(_first(version, "application_form", default=None)))
    key = _first(version, "workflow", "workflow_key", default="default") or "default"
    try:
        get_workflow(str(key))
    except WorkflowConfigError:
        problems.append(f"办理流程“{key}”不存在。")
    return problems


def register_publish_check() -> None:
    """Hook our check into the catalog's publish step, when the catalog app is installed."""
    try:
        from tongban.catalog import application as catalog_application
    except ImportError:
        return
    register = getattr(catalog_application, "register_publish_check", None)
    if register is None:
        log.warning("cases.publish_check_not_registered", reason="catalog has no register_publish_check")
        return
    register(publish_problems)
