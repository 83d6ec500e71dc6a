"""The floor of a signed L2 verification: a bare WSGI application doing only the work no implementation of
issue 4 can avoid, for bench/verify_floor.py. It is a yardstick, not a server anyone should run.

Per request: the SM2 check of the partner's signature over the canonical request (tongban's own ctypes
binding to libcrypto, the same call the platform makes), the population look-up and the ID-card look-up
(the ceiling's SQL, prepared), one audit INSERT committed on its own (autocommit), and the SM2 signature of
the answer. Left out, because the floor has no platform around it: Django, URL routing and middleware, the
request log line, input validation, the nonce claim, rate limits, quota, the abuse counters, metering, the
blind index, the SM3 chain hash of the audit entry, the circuit breakers.

Configured by the environment (bench/verify_floor.py sets it): VFLOOR_URL (the platform database; the
source databases are <name>_population and <name>_idcard), VFLOOR_PUBLIC_KEY (the partner's SM2 public
key, 65 bytes in hex).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from typing import Any

import psycopg

from tongban.crypto.sm2 import SM2PrivateKey, SM2PublicKey
from tongban.crypto.sm3 import sm3

UID = b"1234567812345678"
PUBLIC = SM2PublicKey.from_raw(bytes.fromhex(os.environ["VFLOOR_PUBLIC_KEY"]))
PLATFORM = SM2PrivateKey.generate()
URL = os.environ["VFLOOR_URL"]
ENTRY = ("INSERT INTO vbench_floor (occurred_at, actor_type, actor_id, action, subject_type, subject_id, outcome, "
         "client_ip, request_id, details, chain_id, seq, prev_hash, hash) VALUES (now(), 'partner_app', %s, "
         "'verification.request', 'identity', %s, %s, '127.0.0.1', %s, %s, %s, %s, %s, %s)")
_local = threading.local()


def _connections() -> tuple[Any, Any, Any]:
    conns = getattr(_local, "conns", None)
    if conns is None:
        base, _, name = URL.rpartition("/")
        conns = _local.conns = tuple(psycopg.connect(u, autocommit=True) for u in
                                     (f"{base}/{name}_population", f"{base}/{name}_idcard", URL))
        _local.chain, _local.seq, _local.prev = secrets.token_hex(16), 0, "0" * 64
    return conns


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    population, idcard, default = _connections()
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    nonce = environ.get("HTTP_X_TONGBAN_NONCE", "")
    canonical = "\n".join(["TONGBAN-SM2-SM3", environ["REQUEST_METHOD"], environ["PATH_INFO"],
                           environ.get("HTTP_X_TONGBAN_TIMESTAMP", ""), nonce, sm3(body).hex()]).encode()
    signed = PUBLIC.verify(base64.b64decode(environ.get("HTTP_X_TONGBAN_SIGNATURE", "")), canonical, uid=UID,
                           fmt="raw")
    claim = json.loads(body)
    number = claim["id_number"]
    person = population.execute("SELECT name, status FROM population_person WHERE id_number = %s", (number,),
                                prepare=True).fetchone()
    cards = idcard.execute("SELECT valid_from, valid_to, status FROM idcard_card WHERE id_number = %s "
                           "ORDER BY valid_from DESC", (number,), prepare=True).fetchall()
    name_ok = person is not None and person[0] == claim["name"] and person[1] == "normal"
    card_ok = bool(cards) and cards[0][0].isoformat() == claim["valid_from"] and cards[0][2] == "valid"
    passed = signed and name_ok and card_ok
    answer = json.dumps({"passed": passed, "level_reached": "l2" if passed else ("l1" if name_ok else "none"),
                         "nonce": nonce}, separators=(",", ":")).encode()
    _local.seq += 1
    digest = secrets.token_hex(32)
    default.execute(ENTRY, ("pa_floor", f"v1.{digest[:56]}", "success" if passed else "failure", secrets.token_hex(16),
                            json.dumps({"passed": passed}), _local.chain, _local.seq, _local.prev, digest),
                    prepare=True)
    _local.prev = digest
    signature = PLATFORM.sign(b"TONGBAN-SM2-SM3-RESPONSE\n" + nonce.encode() + b"\n200\n" + sm3(answer).hex().encode(),
                              uid=UID, fmt="raw")
    start_response("200 OK" if signed else "401 Unauthorized",
                   [("Content-Type", "application/json"), ("X-Tongban-Response-Signature",
                                                           base64.b64encode(signature).decode())])
    return [answer]
