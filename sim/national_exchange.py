"""The national platform's side of the unified data exchange (统一数据交换), used by
`sim.national_platform`: it receives signed batches from tongban (SM2 signature checked, SM4 envelope
opened with its own SM2 key), stores each message once by idempotency key, checks each entity's order,
answers with a signed receipt, a query API and a daily digest, keeps its own chained message log, sends
its own batches to tongban (inbound cases, ratings), and can be told to fail, stall, answer slowly or reject.

It uses the same national algorithms through tongban's crypto primitives (SM2 via the system OpenSSL,
SM3/SM4 via `cryptography`) — plain libraries with no Django in them.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

from tongban.crypto.errors import DecryptionError
from tongban.crypto.sm2 import SM2PrivateKey, SM2PublicKey
from tongban.crypto.sm3 import sm3
from tongban.crypto.sm4 import SM4GCM

KNOWN_TYPES = {"case.event", "evaluation.rating", "item.publication", "verification.stats"}
REQUIRED = {"case.event": ("case_number", "event_id", "to_state", "occurred_at"),
            "evaluation.rating": ("rating_id", "level"), "item.publication": ("implementation_code", "version"),
            "verification.stats": ("day", "total", "counts")}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Record:
    key: str
    type: str
    version: int
    entity: str
    seq: int
    day: str
    body: dict[str, Any]
    personal: dict[str, Any] | None
    batch_id: str
    received_at: float


@dataclass
class Faults:
    mode: str | None = None  # None | "fail" | "stall" | "slow" | "reject"
    slow_seconds: float = 0.0
    stall_seconds: float = 30.0
    reject_keys: set[str] = field(default_factory=set)  # poisoned: always rejected
    reject_all: bool = False


class ExchangeSide:
    def __init__(self) -> None:
        self.key = SM2PrivateKey.generate()
        self.trusted: dict[str, SM2PublicKey] = {}
        self.records: dict[str, Record] = {}
        self.by_day: dict[tuple[str, str], set[str]] = {}
        self.entity_last: dict[str, int] = {}
        self.order_violations: list[tuple[str, int, int]] = []
        self.deliveries = 0  # messages received, duplicates included
        self.duplicates = 0
        self.batches = 0
        self.refused_batches = 0
        self.log: list[dict[str, Any]] = []
        self.faults = Faults()
        self.release = threading.Event()
        self._ciphers: dict[str, SM4GCM] = {}
        self._lock = threading.Lock()

    # -- configuration -----------------------------------------------------------------------------------

    @property
    def public_key_hex(self) -> str:
        return self.key.public_key().to_raw().hex()

    def trust(self, signer: str, public_key_raw: bytes) -> None:
        """tongban's signing key, exchanged out of band (by name, e.g. 'tongban:api_signing:v1')."""
        self.trusted[signer] = SM2PublicKey.from_raw(public_key_raw)

    def set_faults(self, mode: str | None = None, *, slow_seconds: float = 0.0, reject_keys: list[str] | None = None,
                   reject_all: bool = False, stall_seconds: float = 30.0) -> None:
        self.faults = Faults(mode=mode, slow_seconds=slow_seconds, stall_seconds=stall_seconds,
                             reject_keys=set(reject_keys or []), reject_all=reject_all)
        if mode != "stall":
            self.release.set()
        else:
            self.release.clear()

    def forget(self, key: str) -> None:
        """Lose one stored message (a planted reconciliation difference)."""
        with self._lock:
            rec = self.records.pop(key, None)
            if rec is not None:
                self.by_day.get((rec.type, rec.day), set()).discard(key)

    # -- receiving ---------------------------------------------------------------------------------------

    def _append_log(self, direction: str, batch_id: str, body_sm3: str, count: int, outcome: str) -> None:
        prev = self.log[-1]["hash"] if self.log else "0" * 64
        entry = {"direction": direction, "batch_id": batch_id, "body_sm3": body_sm3, "count": count,
                 "outcome": outcome, "at": time.time(), "prev": prev}
        entry["hash"] = sm3(json.dumps(entry, sort_keys=True).encode()).hex()
        self.log.append(entry)

    def handle_batch(self, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        faults = self.faults
        if faults.mode == "fail":
            return 503, {"code": "unavailable", "message": "服务暂不可用"}
        if faults.mode == "stall":
            self.release.wait(faults.stall_seconds)
            return 503, {"code": "unavailable", "message": "stalled"}
        if faults.mode == "slow":
            time.sleep(faults.slow_seconds)
        signer = headers.get("X-Exchange-Signer", "")
        signature = headers.get("X-Exchange-Signature", "")
        body_sm3 = sm3(body).hex()
        public = self.trusted.get(signer)
        try:
            sig_ok = public is not None and public.verify(base64.b64decode(signature, validate=True), body)
        except ValueError:
            sig_ok = False
        if not sig_ok:
            with self._lock:
                self.refused_batches += 1
                self._append_log("in", "(unverified)", body_sm3, 0, "bad_signature")
            return 401, {"code": "bad_signature", "message": "签名验证失败"}
        try:
            batch = json.loads(body)
            batch_id = str(batch["batch_id"])
            env = batch["envelope"]
            messages = batch["messages"]
        except (ValueError, KeyError, TypeError):
            return 400, {"code": "batch_invalid", "message": "批次格式错误"}
        try:
            cipher = self._cipher(env["key_id"], base64.b64decode(env["wrapped_key"]))
        except (ValueError, KeyError, TypeError, DecryptionError):
            return 400, {"code": "envelope_key_invalid", "message": "信封密钥无法解开（不是用本平台公钥加密的）"}
        results = []
        held: set[str] = set()
        now = time.time()
        with self._lock:
            self.batches += 1
            try:
                block = (json.loads(cipher.decrypt(base64.b64decode(batch["personal"]), aad=batch_id.encode()))
                         if batch.get("personal") else {})
            except (ValueError, DecryptionError):
                block = None  # every message carrying personal fields is refused below
            for m in messages:
                results.append(self._one(m, block, batch_id, held, faults, now))
            self._append_log("in", batch_id, body_sm3, len(messages), "accepted")
        receipt = _b64(self.key.sign(f"{batch_id}|{body_sm3}".encode()))
        return 200, {"batch_id": batch_id, "results": results, "receipt": receipt}

    def _cipher(self, key_id: str, wrapped: bytes) -> SM4GCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            if sm3(wrapped)[:16].hex() != key_id:
                raise ValueError("key id")
            cipher = SM4GCM(self.key.decrypt(wrapped, fmt="c1c3c2"))
            self._ciphers[key_id] = cipher
        return cipher

    def _one(self, m: dict[str, Any], block: dict[str, Any] | None, batch_id: str, held: set[str], faults: Faults,
             now: float) -> dict[str, Any]:
        key = str(m.get("key", ""))
        entity = str(m.get("entity", ""))
        self.deliveries += 1
        if key in self.records:
            self.duplicates += 1
            return {"key": key, "status": "duplicate"}
        if entity in held:
            return {"key": key, "status": "deferred", "code": "held", "message": "同一实体的前序消息被拒"}
        problem = None
        personal = None
        body = m.get("body")
        if faults.reject_all or key in faults.reject_keys:
            problem = ("poisoned", "消息被拒收（模拟）")
        elif m.get("type") not in KNOWN_TYPES or not isinstance(body, dict):
            problem = ("type_unknown", "未知的消息类型")
        elif any(f not in body for f in REQUIRED[m["type"]]):
            problem = ("schema_invalid", "缺少必填字段")
        elif block is None:
            problem = ("decrypt_failed", "个人信息字段无法解密")
        else:
            personal = block.get(key)
        if problem:
            held.add(entity)
            return {"key": key, "status": "rejected", "code": problem[0], "message": problem[1]}
        seq = int(m.get("seq") or 0)
        last = self.entity_last.get(entity)
        if last is not None and seq < last:
            self.order_violations.append((entity, last, seq))
        self.entity_last[entity] = max(seq, last or 0)
        rec = Record(key=key, type=m["type"], version=int(m.get("v") or 1), entity=entity, seq=seq,
                     day=str(m.get("day", "")), body=dict(body or {}), personal=personal, batch_id=batch_id, received_at=now)
        self.records[key] = rec
        self.by_day.setdefault((rec.type, rec.day), set()).add(key)
        return {"key": key, "status": "accepted"}

    # -- query API and digest ------------------------------------------------------------------------------

    def entity_records(self, entity: str) -> list[Record]:
        with self._lock:
            return sorted((r for r in self.records.values() if r.entity == entity), key=lambda r: r.received_at)

    def digest(self, day: str) -> dict[str, Any]:
        with self._lock:
            types = {t: {"count": len(keys), "digest": sm3("\n".join(sorted(keys)).encode()).hex()}
                     for (t, d), keys in self.by_day.items() if d == day}
        return {"date": day, "types": types}

    def keys(self, type_: str, day: str) -> list[str]:
        with self._lock:
            return sorted(self.by_day.get((type_, day), set()))

    # -- sending to tongban --------------------------------------------------------------------------------

    def batch_for_tongban(self, messages: list[dict[str, Any]], *, recipient: str, recipient_public_raw: bytes,
                          tamper: bool = False) -> tuple[bytes, dict[str, str]]:
        """(body, headers) of one signed batch for tongban's inbound endpoint; `messages` carry key, type, v,
        body and optionally personal (sealed here under a fresh envelope key wrapped to tongban's public key).
        `tamper` changes the body after signing (the bad-signature test)."""
        raw = os.urandom(16)
        wrapped = SM2PublicKey.from_raw(recipient_public_raw).encrypt(raw, fmt="c1c3c2")
        cipher = SM4GCM(raw)
        out = [{"key": m["key"], "type": m["type"], "v": m.get("v", 1), "body": m["body"]} for m in messages]
        personal = {m["key"]: m["personal"] for m in messages if m.get("personal") is not None}
        batch_id = uuid.uuid4().hex
        sealed = (_b64(cipher.encrypt(json.dumps(personal, ensure_ascii=False).encode(), aad=batch_id.encode()))
                  if personal else None)
        batch = {"v": 1, "batch_id": batch_id, "sender": "national", "recipient_key": recipient,
                 "sent_at": dt.datetime.now(dt.UTC).isoformat(),
                 "envelope": {"key_id": sm3(wrapped)[:16].hex(), "wrapped_key": _b64(wrapped)},
                 "personal": sealed, "messages": out}
        body = json.dumps(batch, ensure_ascii=False).encode()
        signature = _b64(self.key.sign(body))
        if tamper:
            body = body + b" "
        with self._lock:
            self._append_log("out", batch_id, sm3(body).hex(), len(out), "sent")
        return body, {"Content-Type": "application/json", "X-Exchange-Signature": signature,
                      "X-Exchange-Signer": "national"}

    def send_to_tongban(self, url: str, messages: list[dict[str, Any]], *, recipient: str,
                        recipient_public_raw: bytes, tamper: bool = False) -> tuple[int, dict[str, Any]]:
        """POST one signed batch to tongban's inbound endpoint (`url`)."""
        body, headers = self.batch_for_tongban(messages, recipient=recipient,
                                               recipient_public_raw=recipient_public_raw, tamper=tamper)
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
        try:
            conn.request("POST", parts.path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            conn.close()
