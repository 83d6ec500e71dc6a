"""Single sign-on asks acr l3 of a person at L2: the camera page, then back with acr l3 in the ID token.
And the platform without the optional extra `face`: it runs, and L3 says it is not available."""

from __future__ import annotations

import sys
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.face.conftest import make_l2_citizen, needs_face
from tests.sso.conftest import Flow, decode, register
from tongban.face import matcher, services
from tongban.face.liveness import Challenge

pytestmark = pytest.mark.django_db(databases="__all__")

L3 = "urn:tongban:acr:l3"


@pytest.fixture(autouse=True)
def _sso_caches():
    from tongban.sso.core import oauthlib_core
    from tongban.sso.secrets import clear_cache

    clear_cache()
    oauthlib_core.cache_clear()
    yield
    clear_cache()


@needs_face
def test_sso_step_up_from_l2_to_l3_through_the_camera_page(client, bursts, monkeypatch):
    monkeypatch.setattr(services, "pick_challenge", lambda: Challenge.TURN_LEFT)
    user = make_l2_citizen()
    client.force_login(user, backend="tongban.accounts.backends.TongbanBackend")
    rp = register("实人应用", redirect="https://l3.example.cn/cb", levels="1,2,3")
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://l3.example.cn/cb")
    page = flow.follow(client.get(flow.authorize_url(acr_values=L3)))
    assert page.status_code == 200 and page.request["PATH_INFO"] == reverse("face:camera")
    back = page.context["next"]
    assert back.startswith("/o/authorize/verify/")
    challenge_id = client.post(reverse("face:challenge")).json()["challenge_id"]
    answer = client.post(reverse("face:check"), {
        "challenge_id": challenge_id, "next": back,
        "frames": [SimpleUploadedFile(f"{i}.jpg", d, content_type="image/jpeg") for i, d in enumerate(bursts.left)]})
    body = answer.json()
    assert body["passed"] is True and body["next"] == back
    response = flow.follow(client.get(back))
    if response.status_code == 200:  # consent
        response = flow.follow(client.post("/o/authorize/continue/", {"txn": response.context["txn"],
                                                                       "decision": "allow"}))
    code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
    tokens = flow.token(code).json()
    assert decode(tokens["id_token"])["acr"] == L3


@pytest.fixture
def without_face_extra():
    """The extra uninstalled: importing dlib fails, as it does on a platform installed without `[face]`."""
    from tongban.sso.views import _discovery_bytes  # the discovery document is built once per process

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "dlib", None)
        matcher.available.cache_clear()
        _discovery_bytes.clear()
        yield
    matcher.available.cache_clear()
    _discovery_bytes.clear()


def test_without_the_extra_the_platform_runs_and_l3_says_it_is_not_available(client, without_face_extra):
    assert not matcher.available()
    doc = client.get("/.well-known/openid-configuration").json()
    assert L3 not in doc["acr_values_supported"] and "urn:tongban:acr:l2" in doc["acr_values_supported"]
    user = make_l2_citizen()
    client.force_login(user)
    page = client.get(reverse("face:camera"))
    assert page.status_code == 200 and "暂未开通实人认证" in page.content.decode()
    assert client.get(reverse("portal:me")).status_code == 200
    refused = client.post(reverse("face:challenge"))
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "face_unavailable"
    with pytest.raises(services.TongbanError) as caught:
        services.face_check_perform(owner="user:1", challenge_id="fc_x", frames=[], id_type="resident_id",
                                    id_number="x", subject_ref="x", actor=None, channel="portal")  # type: ignore[arg-type]
    assert caught.value.code == "face_unavailable"
