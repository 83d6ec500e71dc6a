"""The platform's JSON API (django-ninja, OpenAPI 3 at /api/v1/openapi.json).

Every failure is the error envelope of tongban.core.errors; each app adds its router here.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from tongban.core.errors import TongbanError
from tongban.core.logging import get_logger
from tongban.core.middleware import error_response, request_language

log = get_logger("tongban.api")

# Statuses every operation may answer in the error envelope, whatever it does: a malformed request (400), a
# parameter that does not validate (422), our fault (500), the database or a source unreachable (503).
_COMMON_ERRORS = {400: "请求格式不正确（bad_request、invalid_json）", 422: "参数校验失败（validation_error 等）",
                  500: "系统错误（internal_error）", 503: "服务暂时不可用（service_unavailable），见 Retry-After"}
_AUTH_ERRORS = {401: "未登录或凭证无效（unauthenticated）", 403: "无权执行此操作（forbidden）"}
_ERROR_SCHEMA = {
    "ErrorBody": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "request_id": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object"}}}},
    "ErrorResponse": {"type": "object", "required": ["error"],
                      "properties": {"error": {"$ref": "#/components/schemas/ErrorBody"}}},
}


class TongbanNinjaAPI(NinjaAPI):
    """django-ninja, with every error an operation can answer declared in the OpenAPI document (schemathesis
    checks that no status is undocumented: tests/conformance/test_schemathesis.py)."""

    def get_openapi_schema(self, *, path_prefix: str | None = None,
                           path_params: dict[str, Any] | None = None) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(_ERROR_SCHEMA)
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                errors = {**_COMMON_ERRORS, **(_AUTH_ERRORS if operation.get("security") else {})}
                responses = operation.setdefault("responses", {})
                for status, description in errors.items():
                    if status in responses or str(status) in responses:
                        continue
                    responses[str(status)] = {"description": description, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
        return schema


api = TongbanNinjaAPI(
    title="tongban API",
    version="1",
    description="一网通办平台接口。错误统一返回 {\"error\": {\"code\", \"message\", \"request_id\"}}。",
    urls_namespace="api-v1",
)

_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited"}


def _validation_details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    details = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        details.append({"field": ".".join(loc[1:] if len(loc) > 1 else loc), "type": err.get("type", "invalid"),
                        "message": str(err.get("msg", ""))})
    return details


@api.exception_handler(ValidationError)
def _on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = list(exc.errors)
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(request, "invalid_json")
    return error_response(request, "validation_error", details=_validation_details(errors))


@api.exception_handler(TongbanError)
def _on_tongban_error(request: HttpRequest, exc: TongbanError) -> HttpResponse:
    return error_response(request, exc.code, status=exc.http_status(), message=exc.message(request_language(request)),
                          details=exc.details, headers=exc.headers)


@api.exception_handler(AuthenticationError)
def _on_auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, "unauthenticated")


@api.exception_handler(HttpError)
def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = _HTTP_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error")
    return error_response(request, code, status=exc.status_code)


@api.exception_handler(Exception)
def _on_unhandled(request: HttpRequest, exc: Exception) -> HttpResponse:
    from tongban.core.views import unavailable_response

    unavailable = unavailable_response(request, exc)  # the database or cache down: 503, no traceback (issue 12)
    if unavailable is not None:
        return unavailable
    log.exception("unhandled_api_error", path=request.path)
    return error_response(request, "internal_error")


def _register_routers() -> None:
    from tongban.carmove.api import router as carmove_router
    from tongban.core.api import router as core_router
    from tongban.exams.api import router as exams_router
    from tongban.search.api import router as catalog_router

    api.add_router("/core/", core_router)
    api.add_router("/catalog/", catalog_router)
    api.add_router("/exams/", exams_router)
    from tongban.violations.api import router as violations_router

    api.add_router("/violations/", violations_router)
    api.add_router("/carmove/", carmove_router)


_register_routers()
