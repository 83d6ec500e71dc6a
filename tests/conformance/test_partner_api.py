"""The partner API judged from outside: a running platform (a live server) driven over HTTP by a partner client
written from docs/partner-api.md alone, on `gmalg` and the standard library — never tongban's signing code.

The page's worked examples are executed as printed (the blocks are read from the page, so it cannot drift):
the example values and canonical forms are recomputed, the example body is sent signed with the example key
and passes, the canonical query example is what a request with that query must be signed over, and the
client example of §10 runs in a separate interpreter that has only the standard library, `gmalg` and the
copied client file. Then the refusals the page promises: replay, the time window, tampering (of the request,
and of the answer, which the client must detect) and purpose.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import gmalg
import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "partner-api.md"
CLIENT = Path(__file__).resolve().parents[2] / "src" / "tongban" / "client" / "__init__.py"
UID = b"1234567812345678"
EXAMPLE_APP = "pa_example0000000000000"

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


# -- the page -------------------------------------------------------------------------------------------------


def block(tag: str) -> str:
    match = re.search(rf"^ *```\w+ {re.escape(tag)}\n(.*?)^ *```", DOC.read_text(encoding="utf-8"), re.M | re.S)
    assert match, f"no block tagged {tag} in {DOC}"
    lines = match.group(1).splitlines()
    indent = min(len(line) - len(line.lstrip(" ")) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines) + "\n"


def values(tag: str) -> dict[str, str]:
    return {name.strip(): value.strip() for name, _, value in (line.partition(":") for line in block(tag).splitlines())}


# -- the partner's client, written from the page (§2, §4) --------------------------------------------------------


def sm3_hex(data: bytes) -> str:
    h = gmalg.SM3()
    h.update(data)
    return h.value().hex()


def canonical_query(query: str) -> str:
    """§2, steps 1-5."""
    pairs = [(quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in parse_qsl(query, keep_blank_values=True)]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


class Partner:
    def __init__(self, base_url: str, app_id: str, private: bytes) -> None:
        self.base_url, self.app_id, self.private = base_url, app_id, private
        self.public = gmalg.SM2().generate_pk(private)
        keys = json.loads(urllib.request.urlopen(base_url + "/partner/v1/keys", timeout=15).read())["keys"]  # noqa: S310
        self.platform_keys = {k["key_id"]: base64.b64decode(k["public_key"]) for k in keys}

    def sign(self, method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes) -> str:
        target = path + ("?" + canonical_query(query) if query else "")
        canonical = "\n".join(["TONGBAN-SM2-SM3", method, target, timestamp, nonce, sm3_hex(body)]).encode("utf-8")
        r, s = gmalg.SM2(sk=self.private, uid=UID, pk=self.public).sign(canonical)
        return base64.b64encode(r.rjust(32, b"\0") + s.rjust(32, b"\0")).decode()

    def send(self, path: str, body: bytes, *, query: str = "", timestamp: int | None = None, nonce: str | None = None,
             signed_body: bytes | None = None, signed_query: str | None = None) -> tuple[int, dict[str, str], bytes, str]:
        """POST `body` signed as §2 says (over `signed_body` / `signed_query` instead, to tamper)."""
        ts, nonce = str(int(time.time()) if timestamp is None else timestamp), nonce or secrets.token_urlsafe(18)
        signature = self.sign("POST", path, query if signed_query is None else signed_query, ts, nonce,
                              body if signed_body is None else signed_body)
        request = urllib.request.Request(self.base_url + path + ("?" + query if query else ""), data=body, method="POST",
                                         headers={"Content-Type": "application/json", "X-Tongban-App": self.app_id,
                                                  "X-Tongban-Timestamp": ts, "X-Tongban-Nonce": nonce,
                                                  "X-Tongban-Signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                status, headers, raw = response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            status, headers, raw = exc.code, dict(exc.headers.items()), exc.read()
        return status, headers, raw, nonce

    def answer_verifies(self, nonce: str, status: int, headers: dict[str, str], raw: bytes) -> bool:
        canonical = "\n".join(["TONGBAN-SM2-SM3-RESPONSE", nonce, str(status), sm3_hex(raw)]).encode()
        signature = base64.b64decode(headers["X-Tongban-Response-Signature"])
        key = self.platform_keys[headers["X-Tongban-Key-Id"]]
        return bool(gmalg.SM2(uid=UID, pk=key).verify(canonical, signature[:32], signature[32:]))


# -- the platform side: the example app and the example person ------------------------------------------------------


@pytest.fixture
def example(live_server: Any) -> Partner:
    """The page's example app, registered as an operator does, and its example person in the reference sources
    (other bureaus' systems: test data, as the registry generator writes it)."""
    from django.core.management import call_command

    from tongban.partners.models import PartnerApp, PurposeCode
    from tongban.partners.selectors import forget_apps
    from tongban.registry.models import IdCard, Person

    for code, name in (("gov_service", "政务服务办理"), ("transport", "交通出行"), ("finance_account", "金融开户")):
        PurposeCode.objects.get_or_create(code=code, defaults={"name": name})  # seeded; flushed by a live-server test
    v = values("example-values")
    out = StringIO()
    call_command("partners", "create-app", "--org", "示例单位", "--name", "文档示例", "--purposes",
                 "gov_service,transport", "--levels", "l1,l2", "--public-key", v["public_key"], stdout=out)
    registered = out.getvalue().split("app_id:", 1)[1].split()[0]
    PartnerApp.objects.filter(app_id=registered).update(app_id=EXAMPLE_APP)  # the id the page prints
    forget_apps()
    body = json.loads(v["body"])
    Person.objects.using("population").create(
        id_number=body["id_number"], name=body["name"], sex=2, ethnicity="01", birth_date=datetime.date(1949, 12, 31),
        region_code="110105", address="北京市朝阳区示例路 1 号", status="normal")
    IdCard.objects.using("idcard").create(
        id_number=body["id_number"], name=body["name"], issuing_authority="北京市公安局朝阳分局",
        valid_from=datetime.date.fromisoformat(body["valid_from"]),
        valid_to=datetime.date.fromisoformat(body["valid_to"]), issue_reason="first", status="valid", photo_id=1)
    return Partner(live_server.url, EXAMPLE_APP, bytes.fromhex(v["private_key"]))


# -- the worked examples, as printed ----------------------------------------------------------------------------------


def test_the_worked_example_recomputes_on_gmalg() -> None:
    v = values("example-values")
    private, public = bytes.fromhex(v["private_key"]), bytes.fromhex(v["public_key"])
    assert gmalg.SM2().generate_pk(private) == public
    assert sm3_hex(v["body"].encode("utf-8")) == v["body_sm3"]
    canonical = "\n".join(["TONGBAN-SM2-SM3", v["method"], v["path"], v["timestamp"], v["nonce"], v["body_sm3"]])
    assert block("canonical-request") == canonical + "\n"
    raw = base64.b64decode(v["signature"])
    assert gmalg.SM2(uid=UID, pk=public).verify(canonical.encode(), raw[:32], raw[32:])
    r = values("example-response")
    assert sm3_hex(r["body"].encode("utf-8")) == r["body_sm3"]
    response = "\n".join(["TONGBAN-SM2-SM3-RESPONSE", r["nonce"], r["status"], r["body_sm3"]])
    assert block("canonical-response") == response + "\n"
    raw = base64.b64decode(r["signature"])
    assert gmalg.SM2(uid=UID, pk=base64.b64decode(r["platform_public_key"])).verify(response.encode(), raw[:32], raw[32:])


def test_the_private_key_pem_is_the_example_key() -> None:
    """The PEM of §3 holds the example scalar (PKCS#8 → ECPrivateKey → OCTET STRING), read with the stdlib."""
    der = base64.b64decode("".join(line for line in block("example-private-key").splitlines() if "-----" not in line))
    assert bytes.fromhex(values("example-values")["private_key"]) in der
    assert der[:2] == b"\x30\x81" and b"\x06\x08\x2a\x81\x1c\xcf\x55\x01\x82\x2d" in der  # SEQUENCE; curve SM2


def test_the_snippet_runs_as_printed() -> None:
    out = StringIO()
    import contextlib

    with contextlib.redirect_stdout(out):
        exec(compile(block("example-snippet"), str(DOC), "exec"), {})  # noqa: S102
    printed = out.getvalue().splitlines()
    assert "\n".join(printed[:6]) + "\n" == block("canonical-request")


def test_the_canonical_query_example() -> None:
    q = values("canonical-query")
    assert canonical_query(q["query"]) == q["canonical"]
    assert "%E5%A7%93%E5%90%8D" in q["canonical"]  # a non-ASCII name (姓名), sorted first as its %-encoding


def test_the_example_request_passes_and_its_answer_verifies(example: Partner) -> None:
    v = values("example-values")
    status, headers, raw, nonce = example.send(v["path"], v["body"].encode("utf-8"))
    assert status == 200, raw
    answer = json.loads(raw)
    assert answer["passed"] is True and answer["level_reached"] == "l2" and answer["nonce"] == nonce
    assert set(answer) == set(json.loads(values("example-response")["body"]))  # the documented shape
    assert not raw.endswith(b"\n")  # §4: the body as hashed, no trailing newline
    assert example.answer_verifies(nonce, status, headers, raw)


def test_a_request_with_the_example_query_is_signed_over_its_canonical_query(example: Partner) -> None:
    v, q = values("example-values"), values("canonical-query")
    status, headers, raw, nonce = example.send(v["path"], v["body"].encode("utf-8"), query=q["query"])
    assert status == 200, raw
    assert example.answer_verifies(nonce, status, headers, raw)


def test_the_client_example_runs_as_printed_with_only_gmalg(example: Partner, tmp_path: Path) -> None:
    """§10's example in a fresh interpreter whose tongban is only the copied client file (no tongban.crypto, so
    the client signs with gmalg), app.key.pem the PEM of §3, and the platform's address routed to the live
    server (the only line added: the example names the production address)."""
    package = tmp_path / "tongban" / "client"
    package.mkdir(parents=True)
    (tmp_path / "tongban" / "__init__.py").write_text("")
    (package / "__init__.py").write_text(CLIENT.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "app.key.pem").write_text(block("example-private-key"))
    route = (
        "import urllib.request\n"
        "_open = urllib.request.urlopen\n"
        "def _routed(request, *args, **kwargs):\n"
        f"    request.full_url = request.full_url.replace('https://tongban.example.gov.cn', {example.base_url!r})\n"
        "    return _open(request, *args, **kwargs)\n"
        "urllib.request.urlopen = _routed\n"
        "import sys, tongban.client\n"
        "assert tongban.client.BACKEND == 'gmalg', tongban.client.BACKEND\n"
        "assert 'tongban.crypto' not in sys.modules and 'django' not in sys.modules\n"
    )
    shutil.copytree(Path(gmalg.__file__).resolve().parent, tmp_path / "gmalg")  # `pip install gmalg`
    script = route + block("client-example")
    # -I -S: no environment, no site-packages — the standard library, gmalg and the client file only.
    result = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"  # noqa: S603
                             + script], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert re.fullmatch(r"200 True vf_[a-z0-9]+", first), first
    assert second == "[True]"


# -- the refusals the page promises ------------------------------------------------------------------------------------


def _code(raw: bytes) -> str:
    return json.loads(raw)["error"]["code"]  # type: ignore[no-any-return]


def test_a_replayed_request_is_refused(example: Partner) -> None:
    v = values("example-values")
    body = json.dumps({**json.loads(v["body"]), "level": "l1"}, ensure_ascii=False).encode()
    ts, nonce = int(time.time()), secrets.token_urlsafe(18)
    first = example.send(v["path"], body, timestamp=ts, nonce=nonce)
    assert first[0] == 200
    status, headers, raw, _ = example.send(v["path"], body, timestamp=ts, nonce=nonce)
    assert (status, _code(raw)) == (401, "nonce_replayed")
    assert example.answer_verifies(nonce, status, headers, raw)


@pytest.mark.parametrize("skew", [-400, 400, -10_000])  # 300 s and the time gmalg takes to sign, on a loaded host
def test_a_timestamp_out_of_the_window_is_refused(example: Partner, skew: int) -> None:
    v = values("example-values")
    status, headers, raw, nonce = example.send(v["path"], v["body"].encode(), timestamp=int(time.time()) + skew)
    assert (status, _code(raw)) == (401, "timestamp_out_of_window")
    assert abs(json.loads(raw)["error"]["details"][0]["server_time"] - time.time()) < 60
    assert example.answer_verifies(nonce, status, headers, raw)


def test_the_documented_timestamp_itself_is_out_of_the_window(example: Partner) -> None:
    v = values("example-values")
    status, _, raw, _ = example.send(v["path"], v["body"].encode(), timestamp=int(v["timestamp"]))
    assert (status, _code(raw)) == (401, "timestamp_out_of_window")


def test_a_tampered_request_is_refused(example: Partner) -> None:
    v = values("example-values")
    signed = v["body"].encode()
    tampered = signed.replace("张三".encode(), "李四".encode())
    status, headers, raw, nonce = example.send(v["path"], tampered, signed_body=signed)
    assert (status, _code(raw)) == (401, "signature_invalid")
    assert example.answer_verifies(nonce, status, headers, raw)
    status, _, raw, _ = example.send(v["path"], signed, query="x=%E5%BC%A0", signed_query="x=%E6%9D%8E")
    assert (status, _code(raw)) == (401, "signature_invalid")  # the query is signed too


def test_a_tampered_answer_does_not_verify(example: Partner) -> None:
    v = values("example-values")
    status, headers, raw, nonce = example.send(v["path"], v["body"].encode())
    assert status == 200 and example.answer_verifies(nonce, status, headers, raw)
    assert not example.answer_verifies(nonce, status, headers, raw.replace(b"true", b"false"))
    assert not example.answer_verifies(nonce, 403, headers, raw)
    assert not example.answer_verifies("another-nonce-000000", status, headers, raw)


def test_a_purpose_not_registered_or_missing_is_refused(example: Partner) -> None:
    v = values("example-values")
    person = json.loads(v["body"])
    for purpose, expected in (("finance_account", (403, "purpose_not_allowed")), (None, (422, "purpose_required")),
                              (" ", (422, "purpose_required"))):
        body = {**person, "purpose": purpose} if purpose is not None else {k: x for k, x in person.items()
                                                                           if k != "purpose"}
        status, headers, raw, nonce = example.send(v["path"], json.dumps(body, ensure_ascii=False).encode())
        assert (status, _code(raw)) == expected, raw
        assert example.answer_verifies(nonce, status, headers, raw)
