"""An item's application form as data, and the server-side Django form built from it.

A definition (the item version's `application_form`):

    {"fields": [
      {"name": "reason", "label": "申请事由", "type": "choice", "required": true,
       "choices": [["lost", "遗失补领"], ["damaged", "损坏换领"]], "help": "…"},
      {"name": "lost_place", "label": "遗失地点", "type": "text", "max_length": 100,
       "when": {"field": "reason", "equals": "lost"}},
      {"name": "name", "label": "姓名", "type": "text", "prefill": "identity.name"}
    ]}

Types: text, textarea, choice (a select), radio, multi (checkboxes), checkbox (a yes/no declaration),
date, number, phone, id_number, plate, address. `when` shows and requires the field only when another
field has that value. `prefill` names data the platform obtains itself (免提交): such a field is filled
in, shown as obtained, and not asked for. `validate_definition` is the publish check: an item whose form
does not pass it cannot be published.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tongban.core.errors import TongbanError
from tongban.core.identifiers import validate_resident_id

FIELD_TYPES = frozenset({"text", "textarea", "choice", "radio", "multi", "checkbox", "date", "number", "phone",
                         "id_number", "plate", "address"})
PREFILL_SOURCES = {
    "identity.name": "姓名（实名认证）",
    "identity.id_number": "证件号码（实名认证）",
    "identity.id_type": "证件类型（实名认证）",
    "account.phone": "手机号码（账号绑定）",
    "household.address": "户籍地址（人口信息）",
    "vehicle.plate": "名下机动车（交管信息）",
    "licence.number": "驾驶证号（交管信息）",
    "licence.class": "准驾车型（交管信息）",
    "licence.valid_to": "驾驶证有效期至（交管信息）",
}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELDS = 60
_PHONE = re.compile(r"^(?:1[3-9]\d{9}|\+85[23]\d{8})$")  # mainland, or Hong Kong / Macao with +852 / +853
_PLATE = re.compile(r"^[\u4e00-\u9fa5][A-Z][A-Z0-9]{5,6}$")


class FormDefinitionError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def fields_of(definition: Any) -> list[dict[str, Any]]:
    if isinstance(definition, dict):
        definition = definition.get("fields", [])
    return list(definition) if isinstance(definition, list) else []


def _choices(raw: Any) -> list[tuple[str, str]] | None:
    if not isinstance(raw, list) or not raw:
        return None
    result: list[tuple[str, str]] = []
    for entry in raw:
        if isinstance(entry, str):
            result.append((entry, entry))
        elif isinstance(entry, list | tuple) and len(entry) == 2 and all(isinstance(x, str) for x in entry):
            result.append((entry[0], entry[1]))
        elif isinstance(entry, dict) and isinstance(entry.get("value"), str):
            result.append((entry["value"], str(entry.get("label", entry["value"]))))
        else:
            return None
    return result


def validate_definition(definition: Any) -> list[str]:
    """The problems of a form definition, in Chinese (empty when it is fine)."""
    problems: list[str] = []
    if definition in (None, {}, []):
        return problems  # an item may ask nothing beyond the platform's data and its materials
    if not isinstance(definition, dict | list):
        return ["申请表定义应为对象（含 fields 列表）。"]
    if isinstance(definition, dict) and not isinstance(definition.get("fields", []), list):
        return ["申请表定义的 fields 应为列表。"]
    fields = fields_of(definition)
    if len(fields) > MAX_FIELDS:
        problems.append(f"申请表字段过多（最多 {MAX_FIELDS} 个）。")
    names: dict[str, dict[str, Any]] = {}
    for index, field in enumerate(fields, start=1):
        if not isinstance(field, dict):
            problems.append(f"第 {index} 个字段不是对象。")
            continue
        name = field.get("name")
        where = f"字段“{name}”" if isinstance(name, str) else f"第 {index} 个字段"
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{where}：名称应为小写字母开头的英文标识（字母、数字、下划线，最长 40）。")
        elif name in names:
            problems.append(f"{where}：名称重复。")
        else:
            names[name] = field
        if not isinstance(field.get("label"), str) or not field["label"].strip():
            problems.append(f"{where}：缺少标签（label）。")
        kind = field.get("type", "text")
        if kind not in FIELD_TYPES:
            problems.append(f"{where}：类型“{kind}”不受支持（可用：{'、'.join(sorted(FIELD_TYPES))}）。")
        if kind in ("choice", "radio", "multi") and _choices(field.get("choices")) is None:
            problems.append(f"{where}：选择题需要选项（choices）。")
        prefill = field.get("prefill")
        if prefill is not None and prefill not in PREFILL_SOURCES:
            problems.append(f"{where}：预填来源“{prefill}”未知。")
        max_length = field.get("max_length")
        if max_length is not None and (not isinstance(max_length, int) or not 1 <= max_length <= 2000):
            problems.append(f"{where}：max_length 应为 1–2000 的整数。")
    for field in fields:
        if not isinstance(field, dict) or (field.get("when") is None and field.get("show_if") is None):
            continue
        cond = condition(field)
        if cond is None:
            problems.append(f"字段“{field.get('name')}”：显示条件应为 {{field, equals}}。")
        elif cond[0] not in names or cond[0] == field.get("name"):
            problems.append(f"字段“{field.get('name')}”：显示条件引用的字段“{cond[0]}”不存在。")
    return problems


def condition(field: dict[str, Any]) -> tuple[str, list[str]] | None:
    """(field, values that show it) of a field's condition — `when` or the catalog's `show_if`, with
    `equals`, `value` or `in`."""
    raw = field.get("when") or field.get("show_if")
    if not isinstance(raw, dict) or not isinstance(raw.get("field"), str):
        return None
    if "in" in raw and isinstance(raw["in"], list):
        values = [str(v) for v in raw["in"]]
    else:
        values = [str(raw.get("equals", raw.get("value", True)))]
    return raw["field"], values


def _visible(field: dict[str, Any], data: dict[str, Any]) -> bool:
    cond = condition(field)
    if cond is None:
        return True
    name, expected = cond
    value = data.get(name)
    if isinstance(value, list):
        return any(str(v) in expected for v in value)
    if isinstance(value, bool):
        return str(value) in expected or ("true" if value else "false") in [e.lower() for e in expected]
    return str(value) in expected if value not in (None, "") else False


def _django_field(spec: dict[str, Any], required: bool) -> forms.Field:
    kind = spec.get("type", "text")
    label = spec["label"]
    help_text = spec.get("help", "")
    common: dict[str, Any] = {"label": label, "required": required, "help_text": help_text}
    max_length = spec.get("max_length") or (500 if kind == "textarea" else 100)
    if kind == "textarea":
        return forms.CharField(max_length=max_length, widget=forms.Textarea(attrs={"rows": 4}), **common)
    if kind in ("choice", "radio"):
        choices = _choices(spec.get("choices")) or []
        if kind == "radio":
            return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **common)
        return forms.ChoiceField(choices=[("", "请选择"), *choices], **common)
    if kind == "multi":
        return forms.MultipleChoiceField(choices=_choices(spec.get("choices")) or [],
                                         widget=forms.CheckboxSelectMultiple, **common)
    if kind == "checkbox":
        return forms.BooleanField(**common)
    if kind == "date":
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if kind == "number":
        return forms.IntegerField(min_value=0, max_value=10**9, **common)
    if kind == "phone":
        return forms.RegexField(_PHONE, max_length=12, error_messages={
                                    "invalid": _("请输入 11 位内地手机号码，或 +852 / +853 开头的港澳手机号码。")},
                                widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
                                **common)
    if kind == "id_number":
        return _IdNumberField(max_length=18, **common)
    if kind == "plate":
        return _PlateField(max_length=8, **common)
    if kind == "address":
        return forms.CharField(max_length=max_length if spec.get("max_length") else 200,
                               widget=forms.TextInput(attrs={"autocomplete": "street-address"}), **common)
    return forms.CharField(max_length=max_length, **common)


class _IdNumberField(forms.CharField):
    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if value:
            try:
                value = validate_resident_id(value).number
            except TongbanError as exc:
                raise forms.ValidationError(exc.message("zh")) from None
        return value


class _PlateField(forms.CharField):
    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if value:
            value = re.sub(r"[\s·.\-]", "", value).upper()
            if not _PLATE.match(value):
                raise forms.ValidationError(_("号牌号码格式不正确，例如：浙A12345。"))
        return value


class ApplicationForm(forms.Form):
    """The applicant's form: one Django field per asked field; prefilled ones are shown, not asked."""

    def __init__(self, definition: Any, *args: Any, prefilled: dict[str, Any] | None = None,
                 vehicle_choices: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.definition = [f for f in fields_of(definition) if isinstance(f, dict)]
        self.prefilled = prefilled or {}
        data = self.data if self.is_bound else (self.initial or {})
        current = {k: (data.getlist(k) if hasattr(data, "getlist") and self._spec_type(k) == "multi" else data.get(k))
                   for k in [f["name"] for f in self.definition]}
        for spec in self.definition:
            name = spec["name"]
            if name in self.prefilled:
                continue
            required = bool(spec.get("required")) and _visible(spec, current)
            if spec.get("prefill") == "vehicle.plate" and vehicle_choices:
                field: forms.Field = forms.ChoiceField(label=spec["label"], required=required,
                                                       choices=[("", "请选择"), *vehicle_choices],
                                                       help_text=_("名下机动车由交管信息获取，请选择本次办理的车辆。"))
            else:
                field = _django_field(spec, required)
            cond = condition(spec)
            if cond is not None:
                field.widget.attrs["data-when"] = cond[0]
            self.fields[name] = field

    def _spec_type(self, name: str) -> str:
        return next((str(f.get("type", "text")) for f in self.definition if f.get("name") == name), "text")

    def answers(self) -> dict[str, Any]:
        """The cleaned answers of the visible fields, as JSON-ready values, plus the prefilled ones."""
        result: dict[str, Any] = dict(self.prefilled)
        for spec in self.definition:
            name = spec["name"]
            if name in self.prefilled or name not in self.cleaned_data:
                continue
            if not _visible(spec, {**self.prefilled, **self.cleaned_data}):
                continue
            value = self.cleaned_data[name]
            if value in (None, "", []):
                continue
            if hasattr(value, "isoformat"):
                value = value.isoformat()
            result[name] = value
        return result


def clean_answers(definition: Any, answers: dict[str, Any], prefilled: set[str] | None = None
                  ) -> tuple[dict[str, Any], dict[str, str]]:
    """Each answer checked against its field's type (a draft may still lack required ones): (the cleaned
    answers as JSON-ready values, {field: problem}). Names the form does not define are dropped."""
    cleaned: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for spec in fields_of(definition):
        if not isinstance(spec, dict) or spec.get("name") not in answers:
            continue
        name = spec["name"]
        value = answers[name]
        if prefilled and name in prefilled:
            cleaned[name] = value
            continue
        field = _django_field(spec, required=False)
        try:
            if isinstance(field, forms.BooleanField):
                result: Any = bool(value)
            else:
                result = field.clean(value)
        except forms.ValidationError as exc:
            problems[name] = f"“{spec.get('label', name)}”：{'；'.join(exc.messages)}"
            continue
        if hasattr(result, "isoformat"):
            result = result.isoformat()
        if result not in (None, "", []):
            cleaned[name] = result
    return cleaned, problems


def missing_required(definition: Any, answers: dict[str, Any]) -> list[str]:
    """Labels of required visible fields without an answer (checked again at submission)."""
    missing = []
    for spec in fields_of(definition):
        if not isinstance(spec, dict) or not spec.get("required"):
            continue
        if _visible(spec, answers) and answers.get(spec["name"]) in (None, "", [], False):
            missing.append(str(spec.get("label", spec.get("name"))))
    return missing


def display_rows(definition: Any, answers: dict[str, Any], prefilled: set[str]) -> list[dict[str, Any]]:
    """(label, shown value, obtained by the platform?) for the review page and the case detail."""
    rows = []
    for spec in fields_of(definition):
        if not isinstance(spec, dict) or spec.get("name") not in answers:
            continue
        value = answers[spec["name"]]
        choices = dict(_choices(spec.get("choices")) or [])
        if isinstance(value, list):
            shown = "、".join(str(choices.get(v, v)) for v in value)
        elif isinstance(value, bool):
            shown = "是" if value else "否"
        else:
            shown = choices.get(str(value), str(value))
        rows.append({"name": spec["name"], "label": spec.get("label", spec["name"]), "value": shown,
                     "prefilled": spec["name"] in prefilled})
    return rows
