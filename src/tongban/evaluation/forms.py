"""The evaluation's forms (the shared accessible pattern renders them: portal/forms/_field.html)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tongban.evaluation.models import TAGS, FixLevel, Level
from tongban.evaluation.services import APPEAL_KINDS, MAX_COMMENT, MAX_NOTE

NO_PERSONAL = _("请勿填写身份证号、手机号等个人信息。")


def _tag_choices() -> list[tuple[str, str]]:
    seen: dict[str, None] = {}
    for value, _label in Level.choices:
        for tag in TAGS[value]:
            seen.setdefault(tag, None)
    return [(tag, tag) for tag in seen]


class RatingForm(forms.Form):
    level = forms.TypedChoiceField(label=_("评价等级"), coerce=int, choices=Level.choices, widget=forms.RadioSelect,
                                   error_messages={"required": _("请选择评价等级。")})
    tags = forms.MultipleChoiceField(label=_("评价标签（可多选）"), required=False,
                                     help_text=_("好评选“办事效率高”等，差评选“办理超时”等与所选等级相符的标签。"),
                                     choices=_tag_choices, widget=forms.CheckboxSelectMultiple)
    comment = forms.CharField(label=_("评价内容（选填；差评请写明原因）"), required=False, max_length=MAX_COMMENT,
                              help_text=NO_PERSONAL, widget=forms.Textarea(attrs={"rows": 4}),
                              error_messages={"max_length": f"评价内容不超过 {MAX_COMMENT} 字。"})


class FixRatingForm(forms.Form):
    fix_level = forms.ChoiceField(label=_("您对整改结果的评价"), choices=FixLevel.choices, widget=forms.RadioSelect,
                                  error_messages={"required": _("请选择对整改结果的评价。")})


def _note(label: Any, help_text: Any = "") -> forms.CharField:
    return forms.CharField(label=label, max_length=MAX_NOTE, help_text=help_text,
                           widget=forms.Textarea(attrs={"rows": 4}),
                           error_messages={"required": f"请填写{label}。", "max_length": f"{label}不超过 {MAX_NOTE} 字。"})


class VisitForm(forms.Form):
    prefix = "visit"
    note = _note(_("回访核实情况"), _("回访评价人（匿名差评则调阅办件）后核实的情况。确认后开始计算整改期限。"))


class RectifyForm(forms.Form):
    prefix = "rectify"
    note = _note(_("整改情况"), _("整改的具体措施和结果。"))


class FeedbackForm(forms.Form):
    prefix = "feedback"
    text = _note(_("反馈内容"), "将以短信和站内消息发送给评价人，请评价人对整改结果作出评价。" + NO_PERSONAL)


class AppealForm(forms.Form):
    prefix = "appeal"
    kind = forms.ChoiceField(label=_("申诉理由类型"), choices=list(APPEAL_KINDS.items()), widget=forms.RadioSelect,
                             error_messages={"required": _("请选择申诉理由类型。")})
    reason = _note(_("申诉理由"), _("写明事实和依据；须由另一名监督员复核。"))


class DecideForm(forms.Form):
    prefix = "decide"
    decision = forms.ChoiceField(label=_("复核结论"), widget=forms.RadioSelect,
                                 choices=[("approve", _("申诉成立，撤销该差评")), ("reject", _("申诉不成立，继续整改"))],
                                 error_messages={"required": _("请选择复核结论。")})
    note = _note(_("复核意见"))
