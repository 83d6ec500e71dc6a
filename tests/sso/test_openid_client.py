"""The certified `openid-client` npm package (v6) as a relying party, driven by a Node script: discovery,
PKCE, code exchange with ID-token validation, userinfo, refresh with rotation (and reuse refused),
RP-initiated logout. Node is on every machine; the package is installed from the committed lock file into
var/ (npm ci) the first time."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.sso.browser import Browser
from tests.sso.conftest import make_person, register

pytestmark = pytest.mark.django_db(transaction=True)

HERE = Path(__file__).parent / "node"
ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / "var" / "node-sso-rp"


@pytest.fixture(scope="session")
def node_rp() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("Node.js and npm are needed for the openid-client tests (apt-get install nodejs npm)")
    WORK.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "rp.mjs"):
        shutil.copy2(HERE / name, WORK / name)
    stamp = WORK / "node_modules" / ".lock-installed"
    lock = (HERE / "package-lock.json").read_text()
    if not stamp.exists() or stamp.read_text() != lock:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WORK, check=True,
                       timeout=300, capture_output=True)
        stamp.write_text(lock)
    return WORK


def test_openid_client_relying_party(live_server, node_rp):
    from tongban.sso.claims import pairwise_sub

    person = make_person("nodeclient", phone="13900000061", seq=61)
    redirect, bye = "http://127.0.0.1:9/node/cb", "http://127.0.0.1:9/node/bye"
    reg = register("openid-client 测试应用", redirect=redirect, post_logout_redirect_uris=[bye],
                   scopes="openid realname idcard_masked")
    proc = subprocess.Popen(["node", "rp.mjs", live_server.url, reg.client.client_id, reg.secret, redirect, bye],
                            cwd=node_rp, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        first = json.loads(proc.stdout.readline() or '{"error": "no output"}')
        assert "authorization_url" in first, (first, proc.stderr.read() if proc.poll() is not None else "")
        browser = Browser()
        callback = browser.authorize(first["authorization_url"], phone="13900000061")
        assert callback.startswith(redirect), callback
        proc.stdin.write(callback + "\n")
        proc.stdin.flush()
        result = json.loads(proc.stdout.readline() or '{"error": "no output"}')
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "error" not in result, result
    claims = result["claims"]
    assert claims["sub"] == pairwise_sub(sector=reg.client.sector, user_id=person.pk)
    assert claims["acr"] == "urn:tongban:acr:l2" and claims["amr"] == ["pwd"] and claims["iss"] == live_server.url
    assert result["userinfo"]["name"] == "张三丰" and result["userinfo"]["id_number_masked"].endswith(
        person.id_number[-4:])
    assert result["refreshed_sub"] == claims["sub"] and result["rotated"] is True
    assert result["reuse"] == "invalid_grant"
    response = browser.get(result["end_session_url"], allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == f"{bye}?state=bye"
    assert "/login/" in browser.get(f"{live_server.url}/me/").url  # signed out of tongban
