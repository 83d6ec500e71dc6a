"""The search form of the service hall (GET, so a result page has a URL one can share and bookmark)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tongban.accounts.regions import region_name
from tongban.accounts.roles import Department

AUDIENCE_CHOICES = [("", _("不限")), ("mainland", _("内地居民")), ("hk_macao", _("港澳居民")), ("enterprise", _("企业"))]
DEPTH_CHOICES = [("", _("不限")), ("2", _("可在线预约或下载表格")), ("3", _("可网上预审")), ("4", _("全程网办"))]
FEE_CHOICES = [("", _("不限")), ("free", _("不收费")), ("charged", _("收费"))]
EVENT_CHOICES = [("", _("不限")), ("birth", _("出生")), ("school", _("入学")), ("travel", _("出行")), ("driving", _("驾车")),
                 ("employment", _("就业")), ("exit", _("出境"))]


class ItemSearchForm(forms.Form):
    q = forms.CharField(label=_("搜索事项"), required=False, max_length=64, strip=True,
                        help_text=_("可输入事项名称、常用说法、拼音或首字母，如“身份证”“办护照”“sfz”。"),
                        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}))
    department = forms.ChoiceField(label=_("部门"), required=False,
                                   choices=[("", _("不限")), *Department.choices])
    audience = forms.ChoiceField(label=_("服务对象"), required=False, choices=AUDIENCE_CHOICES)
    region = forms.ChoiceField(label=_("地区"), required=False, choices=[("", _("不限"))])
    depth = forms.ChoiceField(label=_("网上办理程度"), required=False, choices=DEPTH_CHOICES)
    fee = forms.ChoiceField(label=_("收费"), required=False, choices=FEE_CHOICES)
    event = forms.ChoiceField(label=_("人生事件"), required=False, choices=EVENT_CHOICES)

    def __init__(self, *args: object, regions: list[str] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["region"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("不限")), *[(code, region_name(code) or code) for code in regions or []]]
