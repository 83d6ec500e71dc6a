"""The back-office form of an implementation version: every content field, lists as lines or JSON text.

The form only parses; the rules (`validation`) run in the service, whose per-field messages the view puts
next to the fields.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tongban.catalog.models import (
    AssuranceLevel,
    CaseType,
    ExerciseLevel,
    ImplementationVersion,
    ItemType,
    LifeEvent,
    OnlineDepth,
)


def _label(name: str) -> str:
    return str(getattr(ImplementationVersion._meta.get_field(name), "verbose_name", name))


class LinesField(forms.CharField):
    """A list of short texts, one per line."""

    widget = forms.Textarea(attrs={"rows": 4})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in str(text).splitlines() if line.strip()]


class JSONTextField(forms.CharField):
    """A JSON value typed as text (materials, steps, places, fee items, the application form)."""

    widget = forms.Textarea(attrs={"rows": 6, "class": "code", "spellcheck": "false"})

    def __init__(self, *, empty: Any, **kwargs: Any) -> None:
        self.empty = empty
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | dict):
            return json.dumps(value, ensure_ascii=False, indent=1) if value else ""
        return value

    def to_python(self, value: Any) -> Any:
        text = (super().to_python(value) or "").strip()
        if not text:
            return self.empty
        try:
            return json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(_("不是有效的 JSON 文本，请检查括号、引号和逗号。")) from exc


class VersionForm(forms.Form):
    name = forms.CharField(label=_label("name"), max_length=100)
    name_tc = forms.CharField(label=_label("name_tc"), max_length=100, required=False,
                              help_text=_("面向港澳居民的事项必填；留空并勾选“由简体自动生成繁体”可自动填写。"))
    summary = forms.CharField(label=_label("summary"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    summary_tc = forms.CharField(label=_label("summary_tc"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    fill_traditional = forms.BooleanField(label=_("由简体自动生成繁体（OpenCC）"), required=False)
    item_type = forms.ChoiceField(label=_label("item_type"), choices=ItemType.choices)
    exercise_level = forms.ChoiceField(label=_label("exercise_level"), choices=ExerciseLevel.choices)
    legal_basis = forms.CharField(label=_label("legal_basis"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    statutory_limit_days = forms.IntegerField(label=_label("statutory_limit_days"), min_value=0, max_value=365)
    promised_limit_days = forms.IntegerField(label=_label("promised_limit_days"), min_value=0, max_value=365)
    immediate = forms.BooleanField(label=_label("immediate"), required=False)
    case_type = forms.ChoiceField(label=_label("case_type"), choices=CaseType.choices, widget=forms.RadioSelect)
    visits = forms.IntegerField(label=_label("visits"), min_value=0, max_value=10)
    visits_reason = forms.CharField(label=_label("visits_reason"), max_length=200, required=False)
    online_depth = forms.TypedChoiceField(label=_label("online_depth"), choices=OnlineDepth.choices, coerce=int,
                                          widget=forms.RadioSelect)
    postal_delivery = forms.BooleanField(label=_label("postal_delivery"), required=False)
    charged = forms.BooleanField(label=_label("charged"), required=False)
    fee_basis = forms.CharField(label=_label("fee_basis"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    fee_standard_fen = forms.IntegerField(label=_label("fee_standard_fen"), min_value=0, required=False,
                                          help_text=_("以分计：20 元填 2000。"))
    fee_items = JSONTextField(label=_label("fee_items"), required=False, empty=[],
                              help_text=_('例如 [{"name": "居民身份证工本费", "fen": 2000}]'))
    online_payment = forms.BooleanField(label=_label("online_payment"), required=False)
    materials = JSONTextField(label=_label("materials"), required=False, empty=[],
                              help_text=_('每项：{"name", "required", "source", "sample", "platform_fetched", "fetched_from", "note"}'))
    result_name = forms.CharField(label=_label("result_name"), max_length=200, required=False)
    result_sample = forms.CharField(label=_label("result_sample"), max_length=200, required=False)
    enquiry_phone = forms.CharField(label=_label("enquiry_phone"), max_length=80, required=False)
    supervision_phone = forms.CharField(label=_label("supervision_phone"), max_length=80, required=False)
    conditions = LinesField(label=_label("conditions"), required=False, help_text=_("每行一条。"))
    process_steps = JSONTextField(label=_label("process_steps"), required=False, empty=[],
                                  help_text=_('每步：{"name": "受理", "description": "…"}'))
    locations = JSONTextField(label=_label("locations"), required=False, empty=[],
                              help_text=_('每处：{"name": "…", "address": "…", "hours": "…"}'))
    audience_mainland = forms.BooleanField(label=_label("audience_mainland"), required=False)
    audience_hk_macao = forms.BooleanField(label=_label("audience_hk_macao"), required=False)
    audience_enterprise = forms.BooleanField(label=_label("audience_enterprise"), required=False)
    hooked_national = forms.BooleanField(label=_label("hooked_national"), required=False)
    high_frequency = forms.BooleanField(label=_label("high_frequency"), required=False)
    life_events = forms.MultipleChoiceField(label=_label("life_events"), choices=LifeEvent.choices, required=False,
                                            widget=forms.CheckboxSelectMultiple)
    keywords = LinesField(label=_label("keywords"), required=False, help_text=_("每行一个：群众常说的叫法、简称、同义词。"))
    assurance_level = forms.TypedChoiceField(label=_label("assurance_level"), choices=AssuranceLevel.choices,
                                             coerce=int, widget=forms.RadioSelect)
    workflow = forms.CharField(label=_label("workflow"), max_length=40, required=False,
                               help_text=_("immediate（即办）、one_review（一级审核）、two_review（两级审核）；留空表示不能网上申请。"))
    application_form = JSONTextField(label=_label("application_form"), required=False, empty={},
                                     help_text=_('{"fields": [{"name": "reason", "type": "choice", "label": "…", "choices": [["k", "标签"]]}]}'))
    enterprise_applicable = forms.BooleanField(label=_label("enterprise_applicable"), required=False)

    def content(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("fill_traditional", None)
        return data
