"""The one error pattern of every form (citizen portal, staff site, SSO pages; docs/accessibility.md):
an error summary at the top of the page that takes the focus, inputs tied to their help and error
messages by aria-describedby, and the form's own errors (a wrong password) marking its inputs."""

from __future__ import annotations

from typing import Any

from django import forms, template
from django.forms.boundfield import BoundField
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

ERROR_TITLE_PREFIX = "错误："


def _forms(values: tuple[Any, ...]) -> list[forms.BaseForm]:
    return [value for value in values if isinstance(value, forms.BaseForm)]


def _marks_on_form_error(field: BoundField) -> bool:
    """Whether an error of the whole form (no one field) marks this input: the text-like inputs, not
    the hidden ones, check boxes or radio groups (a wrong password is about what was typed)."""
    widget = field.field.widget
    return not field.is_hidden and not widget.use_fieldset and not isinstance(widget, forms.CheckboxInput)


def field_target(field: BoundField) -> str:
    """The id a summary link leads to: the input itself, or the first radio of a group."""
    return f"{field.auto_id}_0" if field.field.widget.use_fieldset else str(field.auto_id)


@register.filter
def form_error_id(form: forms.BaseForm) -> str:
    """The id of the message of the form's own errors (those of no one field)."""
    return f"{form.prefix or type(form).__name__.lower()}_form_error"


@register.filter
def accessible_widget(field: BoundField) -> SafeString:
    """The input as Django renders it (help text and the field's error in aria-describedby, aria-invalid
    when the field has an error), and also marked by an error of the whole form."""
    form = field.form
    if field.errors and field.field.widget.use_fieldset:
        # Each radio or check box of a group in error is itself aria-invalid (Django marks them): each one
        # names the group's error (and help), not only the fieldset around them.
        ids = [f"{field.auto_id}_error"] + ([f"{field.auto_id}_helptext"] if field.help_text else [])
        return field.as_widget(attrs={"aria-describedby": " ".join(ids)})
    if not form.non_field_errors() or not _marks_on_form_error(field):
        return mark_safe(str(field))  # noqa: S308  (Django's own escaped rendering, a hidden initial value included)
    described = " ".join(part for part in (field.aria_describedby or "", form_error_id(form)) if part)
    return field.as_widget(attrs={"aria-invalid": "true", "aria-describedby": described})


@register.simple_tag
def error_title_prefix(*values: Any, message: Any = "") -> str:
    """"错误：" when any of the forms (or the message) carries an error: it starts the page's <title>."""
    return ERROR_TITLE_PREFIX if message or any(form.errors for form in _forms(values)) else ""


@register.inclusion_tag("portal/forms/_error_summary.html")
def error_summary(*values: Any, message: Any = "", target: str = "") -> dict[str, Any]:
    """The summary of a failed submit: one link per error, to the input it is about. `values` are forms
    (None and other values are skipped); `message` is an error (or a list of them) that no form holds,
    linked to the input of id `target` — the hand-written forms of the staff site."""
    items: list[dict[str, str]] = []
    for form in _forms(values):
        if not form.errors:
            continue
        fields = [field for field in form if not field.is_hidden]
        first = next((f for f in fields if _marks_on_form_error(f)), fields[0] if fields else None)
        for error in form.non_field_errors():
            items.append({"message": str(error), "target": field_target(first) if first else ""})
        for field in fields:
            for error in field.errors:
                items.append({"message": str(error), "target": field_target(field)})
    extra = message if isinstance(message, list | tuple) else [message] if message else []
    items += [{"message": str(text), "target": target} for text in extra if text]
    return {"items": items}
