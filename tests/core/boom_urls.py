"""Routes used only by the error-envelope tests: an API that raises, a plain view that raises."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import path
from ninja import NinjaAPI, Schema

from config.urls import urlpatterns as real_patterns
from tongban import api as real_api

test_api = NinjaAPI(urls_namespace="boom-api")
# Reuse the real handlers so the test shows what production does.
test_api._exception_handlers = dict(real_api.api._exception_handlers)


class EchoIn(Schema):
    text: str


@test_api.get("/boom")
def boom(request: HttpRequest) -> dict:
    raise RuntimeError("secret internal detail")


@test_api.post("/echo")
def echo(request: HttpRequest, body: EchoIn) -> dict:
    return {"text": body.text}


def plain_boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError("secret internal detail")


def plain_missing(request: HttpRequest) -> JsonResponse:
    raise Http404("no such thing")


def plain_forbidden(request: HttpRequest) -> JsonResponse:
    raise PermissionDenied


def plain_echo(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"n": len(request.POST)})


urlpatterns = [
    path("api/v1/", test_api.urls),
    path("api/plain-boom", plain_boom),
    path("api/plain-echo", plain_echo),
    path("api/plain-missing", plain_missing),
    path("api/plain-forbidden", plain_forbidden),
    *real_patterns,
]
