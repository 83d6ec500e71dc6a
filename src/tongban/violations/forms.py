"""The one form of the citizen's pages: a plate to register as a car one drives."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class PlateForm(forms.Form):
    plate = forms.CharField(label=_("号牌号码"), max_length=10, help_text=_("例如：粤A12345，须经车主同意"))
