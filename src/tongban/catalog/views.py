"""The catalog in the staff site: list, item, version (with the diff against the version it replaces), edit,
submit, publish, send back, retire, import and export. Editors and reviewers see their own department
inside their region; anyone else finds nothing here (not allowed looks like not found)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from tongban.accounts.regions import region_name
from tongban.accounts.roles import StaffRole
from tongban.audit.services import Actor
from tongban.catalog import selectors, services
from tongban.catalog.chinese import to_traditional
from tongban.catalog.forms import VersionForm
from tongban.catalog.models import Implementation, ImplementationVersion, VersionStatus
from tongban.catalog.transfer import ImportRejected, implementations_export, implementations_import
from tongban.catalog.validation import CODE_RE
from tongban.core.errors import TongbanError
from tongban.risk import services as risk_services

PAGE_SIZE = 50


def _role(request: HttpRequest) -> StaffRole:
    role = selectors.catalog_role(request.user)
    if role is None:
        raise Http404
    return role


def _implementation(request: HttpRequest, code: str) -> Implementation:
    _role(request)
    if not CODE_RE.match(code):
        raise Http404
    impl = selectors.implementation_for_staff(request.user, code)
    if impl is None:
        raise Http404
    return impl


def _version(request: HttpRequest, code: str, number: int) -> ImplementationVersion:
    impl = _implementation(request, code)
    version = selectors.versions_of(impl).filter(number=number).first()
    if version is None:
        raise Http404
    return version


def _url(version: ImplementationVersion) -> str:
    return reverse("backoffice:catalog_version", args=[version.implementation.code, version.number])


@require_http_methods(["GET"])
def catalog_list(request: HttpRequest) -> HttpResponse:
    role = _role(request)
    user: Any = request.user
    items = selectors.implementations_for_staff(user)
    q = request.GET.get("q", "").replace("\x00", "").strip()[:50]
    if q:
        items = items.filter(Q(code__icontains=q) | Q(basic_item__name__icontains=q))
    try:
        page = min(max(1, int(request.GET.get("page", "1"))), 10_000)
    except ValueError:
        page = 1
    total = items.count()
    rows = list(items.order_by("code")[(page - 1) * PAGE_SIZE: page * PAGE_SIZE])
    open_versions = {v.implementation_id: v for v in ImplementationVersion.objects.filter(
        implementation__in=rows, status__in=[VersionStatus.DRAFT, VersionStatus.SUBMITTED])}
    return render(request, "catalog/backoffice/list.html", {
        "role": role, "is_editor": role is StaffRole.CATALOG_EDITOR, "q": q, "total": total, "page": page,
        "has_next": page * PAGE_SIZE < total, "has_previous": page > 1,
        "rows": [{"impl": impl, "open": open_versions.get(impl.pk)} for impl in rows],
        "awaiting": selectors.versions_awaiting_review(user)[:50],
        "scope": f"{user.get_department_display()} · {region_name(user.region_code)}",
    })


@require_http_methods(["GET"])
def catalog_item(request: HttpRequest, code: str) -> HttpResponse:
    impl = _implementation(request, code)
    role = _role(request)
    return render(request, "catalog/backoffice/item.html", {
        "impl": impl, "versions": selectors.versions_of(impl), "is_editor": role is StaffRole.CATALOG_EDITOR,
        "open": selectors.open_version(impl)})


@require_POST
def catalog_draft_new(request: HttpRequest, code: str) -> HttpResponse:
    impl = _implementation(request, code)
    try:
        version = services.version_draft_new(actor=request.user, implementation=impl, request=request)
    except TongbanError as exc:
        messages.error(request, exc.message(get_language()))
        return HttpResponseRedirect(reverse("backoffice:catalog_item", args=[code]))
    messages.success(request, _("已新建第 %(number)s 版草稿。") % {"number": version.number})
    return HttpResponseRedirect(reverse("backoffice:catalog_edit", args=[code, version.number]))


def _show(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return str(_("是") if value else _("否"))
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, indent=1) if value else "—"
    return "—" if value in (None, "") else str(value)


@require_http_methods(["GET"])
def catalog_version(request: HttpRequest, code: str, number: int) -> HttpResponse:
    version = _version(request, code, number)
    role = _role(request)
    before = selectors.version_before(version)
    diff = [{"label": c.label, "field": c.field, "old": _show(c.old), "new": _show(c.new)}
            for c in selectors.version_diff(before, version)] if before is not None else []
    user: Any = request.user
    editors = {version.created_by_id, version.updated_by_id, version.submitted_by_id}
    return render(request, "catalog/backoffice/version.html", {
        "version": version, "impl": version.implementation, "before": before, "diff": diff,
        "fields": [(selectors.field_label(name), _show(value)) for name, value in version.content().items()],
        "can_edit": role is StaffRole.CATALOG_EDITOR and version.status == VersionStatus.DRAFT,
        "can_review": role is StaffRole.CATALOG_REVIEWER and version.status == VersionStatus.SUBMITTED
        and user.pk not in editors,
        "can_retire": role is StaffRole.CATALOG_REVIEWER and version.status == VersionStatus.PUBLISHED,
        "own_work": role is StaffRole.CATALOG_REVIEWER and user.pk in editors,
    })


def _put_errors(form: VersionForm, exc: services.CatalogValidationError) -> None:
    for field, texts in exc.field_errors.items():
        for text in texts:
            form.add_error(field if field in form.fields else None, text)


@require_http_methods(["GET", "POST"])
def catalog_edit(request: HttpRequest, code: str, number: int) -> HttpResponse:
    version = _version(request, code, number)
    if _role(request) is not StaffRole.CATALOG_EDITOR or version.status != VersionStatus.DRAFT:
        raise Http404
    if request.method == "POST":
        form = VersionForm(request.POST)
        if form.is_valid():
            content = form.content()
            if form.cleaned_data.get("fill_traditional"):
                content["name_tc"] = content["name_tc"] or to_traditional(content["name"])
                content["summary_tc"] = content["summary_tc"] or to_traditional(content["summary"])
            try:
                services.version_update(actor=request.user, version=version, changes=content, request=request)
            except services.CatalogValidationError as exc:
                _put_errors(form, exc)
            except TongbanError as exc:
                form.add_error(None, exc.message(get_language()))
            else:
                messages.success(request, _("已保存。"))
                return HttpResponseRedirect(_url(version))
    else:
        form = VersionForm(initial=version.content())
    return render(request, "catalog/backoffice/edit.html", {"form": form, "version": version,
                                                            "impl": version.implementation},
                  status=422 if form.is_bound and form.errors else 200)


@require_POST
def catalog_transition(request: HttpRequest, code: str, number: int, action: str) -> HttpResponse:
    version = _version(request, code, number)
    note = request.POST.get("note", "")[:500]
    steps: dict[str, tuple[Callable[..., Any], Any]] = {"submit": (services.version_submit, _("已提交审核。")),
             "publish": (services.version_publish, _("已发布，群众看到的是这一版。")),
             "reject": (services.version_reject, _("已退回编辑。")),
             "retire": (services.version_retire, _("已停用，该事项不再对外提供。"))}
    if action not in steps:
        raise Http404
    service, done = steps[action]
    kwargs: dict[str, Any] = {"actor": request.user, "version": version, "request": request}
    if action != "submit":
        kwargs["note"] = note
    try:
        service(**kwargs)
    except services.CatalogValidationError as exc:
        for field, texts in exc.field_errors.items():
            for text in texts:
                messages.error(request, _("%(field)s：%(text)s") % {
                    "field": selectors.field_label(field) if field in version.content() else field, "text": text})
    except TongbanError as exc:
        if exc.code == "not_found":
            raise Http404 from exc
        messages.error(request, exc.message(get_language()))
    else:
        messages.success(request, done)
    return HttpResponseRedirect(_url(version))


@require_http_methods(["GET", "POST"])
def catalog_import(request: HttpRequest) -> HttpResponse:
    if _role(request) is not StaffRole.CATALOG_EDITOR:
        raise Http404
    context: dict[str, Any] = {"problems": [], "error": ""}
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context["error"] = _("请选择要导入的 JSON 或 CSV 文件。")
        else:
            name = (upload.name or "").lower()
            fmt = "csv" if name.endswith(".csv") else "json" if name.endswith(".json") else ""
            try:
                result = implementations_import(actor=request.user, raw=upload.read(5 * 1024 * 1024 + 1),
                                                fmt=fmt, request=request)
            except ImportRejected as exc:
                context["problems"] = [p.as_dict() for p in exc.problems]
                context["error"] = _("文件有 %(count)s 处问题，未导入任何内容。请按下表修改后重新导入。") % {
                    "count": len(exc.problems)}
            else:
                messages.success(request, _("已导入：新建 %(created)s 项、生成草稿 %(drafted)s 项、"
                                            "内容未变 %(unchanged)s 项。草稿须提交审核并发布后才对外生效。") % {
                    "created": result.created, "drafted": result.drafted, "unchanged": result.unchanged})
                return HttpResponseRedirect(reverse("backoffice:catalog_list"))
        status = 422
    return render(request, "catalog/backoffice/import.html", context, status=status)


@require_http_methods(["GET"])
def catalog_export(request: HttpRequest, fmt: str) -> HttpResponse:
    _role(request)
    if fmt not in ("json", "csv"):
        raise Http404
    queryset = selectors.implementations_for_staff(request.user)
    # The exfiltration guard (tongban.risk): above the export_large rule's size an approved ticket is needed.
    ticket = risk_services.export_authorise(user=request.user, export=f"catalog.{fmt}", rows=queryset.count(),
                                            request=request)
    mark = risk_services.watermark(user=request.user, export=f"catalog.{fmt}", ticket=ticket)
    payload = implementations_export(fmt=fmt, actor=Actor.user(request.user), request=request,
                                     queryset=queryset, watermark=mark)
    content_type = "application/json" if fmt == "json" else "text/csv; charset=utf-8"
    response = HttpResponse(payload, content_type=content_type)
    response["X-Tongban-Watermark"] = mark.encode("ascii", "replace").decode("ascii")
    response["Content-Disposition"] = f'attachment; filename="implementations.{fmt}"'
    return response
