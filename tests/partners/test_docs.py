"""docs/partner-api.md cannot drift: its worked example is recomputed here, its snippet run, and a request
signed its way is accepted by the platform."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import time
from pathlib import Path

import gmalg
import pytest

from tests.partners.conftest import UID, gm_verify, make_partner, sm3_hex
from tests.partners.test_api import valid_people
from tongban.crypto.sm2 import SM2PublicKey
from tongban.partners import signing

DOC = Path(__file__).resolve().parents[2] / "docs" / "partner-api.md"


def block(tag: str) -> str:
    match = re.search(rf"^```\w+ {re.escape(tag)}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)
    assert match, f"no block tagged {tag} in {DOC}"
    return match.group(1)


def values(tag: str) -> dict[str, str]:
    result = {}
    for line in block(tag).splitlines():
        name, _, value = line.partition(":")
        result[name.strip()] = value.strip()
    return result


def test_the_example_request_recomputes():
    v = values("example-values")
    private, public = bytes.fromhex(v["private_key"]), bytes.fromhex(v["public_key"])
    assert gmalg.SM2().generate_pk(private) == public
    body = v["body"].encode("utf-8")
    assert sm3_hex(body) == v["body_sm3"]
    canonical = "\n".join(["TONGBAN-SM2-SM3", v["method"], v["path"], v["timestamp"], v["nonce"],
                           v["body_sm3"]])
    assert block("canonical-request") == canonical + "\n"
    assert gm_verify(public, canonical.encode(), v["signature"])
    # ... and the platform's own code agrees.
    ours = signing.canonical_request(method=v["method"], path=v["path"], timestamp=v["timestamp"],
                                     nonce=v["nonce"], body=body)
    assert ours == canonical.encode()
    assert signing.verify_request(SM2PublicKey.from_raw(public), ours, v["signature"])
    # The PEM shown is the same key.
    pem = re.search(r"^-----BEGIN PUBLIC KEY-----\n.*?^-----END PUBLIC KEY-----", DOC.read_text(), re.S | re.M).group(0)
    assert SM2PublicKey.from_pem(pem).to_raw() == public


def test_the_example_response_recomputes():
    v = values("example-response")
    body = v["body"].encode("utf-8")
    assert sm3_hex(body) == v["body_sm3"]
    canonical = "\n".join(["TONGBAN-SM2-SM3-RESPONSE", v["nonce"], v["status"], v["body_sm3"]])
    assert block("canonical-response") == canonical + "\n"
    assert gm_verify(base64.b64decode(v["platform_public_key"]), canonical.encode(), v["signature"])
    assert signing.canonical_response(nonce=v["nonce"], status=int(v["status"]), body=body) == canonical.encode()


def test_the_documented_empty_body_hash():
    assert sm3_hex(b"") in DOC.read_text()


def test_the_snippet_runs_and_prints_the_documented_canonical_form():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block("example-snippet"), "docs/partner-api.md", "exec"), {})  # noqa: S102
    printed = out.getvalue().splitlines()
    assert "\n".join(printed[:6]) + "\n" == block("canonical-request")
    v = values("example-values")
    assert gm_verify(bytes.fromhex(v["public_key"]), block("canonical-request")[:-1].encode(), printed[6])


@pytest.mark.django_db(databases="__all__")
def test_a_request_signed_the_documented_way_is_accepted(client, registry):
    """The snippet's recipe with a live timestamp, a fresh nonce and a real person, against the views."""
    partner = make_partner(name="文档示例应用")
    person = valid_people(registry, 1)[0]
    start, end, _ = person.current
    body = json.dumps({"id_type": "resident_id", "id_number": person.id_number, "name": person.name,
                       "level": "l2", "purpose": "gov_service", "valid_from": start.isoformat(),
                       "valid_to": end.isoformat() if end else "长期"},
                      ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    ts, nonce = str(int(time.time())), "DocRecipeNonce-0001"
    canonical = "\n".join(["TONGBAN-SM2-SM3", "POST", "/partner/v1/verifications", ts, nonce,
                           sm3_hex(body)]).encode("utf-8")
    r, s = gmalg.SM2(sk=partner.private, uid=UID, pk=partner.public).sign(canonical)
    signature = base64.b64encode(r.rjust(32, b"\0") + s.rjust(32, b"\0")).decode()
    response = client.generic("POST", "/partner/v1/verifications", body, content_type="application/json",
                              HTTP_X_TONGBAN_APP=partner.app_id, HTTP_X_TONGBAN_TIMESTAMP=ts,
                              HTTP_X_TONGBAN_NONCE=nonce, HTTP_X_TONGBAN_SIGNATURE=signature)
    assert response.status_code == 200 and response.json()["passed"] is True
