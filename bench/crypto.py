"""Benchmark: SM2 sign/verify, SM4-GCM field encryption, HMAC-SM3 blind index and SM3 throughput, on one core.

    .venv/bin/python bench/crypto.py [--seconds 3] [--cpu 0] [--json]

Claims checked (issue 3): SM2 verify >= 3,000/s; SM4-GCM of a 100-byte field >= 100,000/s.
Exit status: 0 when the goals are met, 1 when a goal is missed, 2 when the benchmark could not
run as intended (not pinned to one core, self-test failed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from _common import machine as common_machine  # noqa: E402
from _common import rate  # noqa: E402

GOALS = {"sm2_verify_per_s": 3_000, "sm4_gcm_encrypt_100B_per_s": 100_000}
FIELD = 100  # bytes: a name + address + phone number field, roughly
AAD = 40  # bytes: "table.column.row-id" binding


def machine() -> dict[str, str]:
    from cryptography.hazmat.backends.openssl.backend import backend

    from tongban.crypto import _libcrypto

    return {
        **common_machine(),
        "system libcrypto (SM2)": _libcrypto.version_text(),
        "cryptography bundled OpenSSL (SM3, SM4)": backend.openssl_version_text(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement (default 3)")
    parser.add_argument("--cpu", type=int, default=0, help="the core to pin to (default 0)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()

    try:
        os.sched_setaffinity(0, {args.cpu})
    except (AttributeError, OSError) as exc:
        print(f"cannot pin to core {args.cpu}: {exc}", file=sys.stderr)
        return 2
    if os.sched_getaffinity(0) != {args.cpu}:
        print("not pinned to exactly one core", file=sys.stderr)
        return 2

    from tongban.crypto.errors import CryptoSelfTestError
    from tongban.crypto.selftest import run_selftest
    from tongban.crypto.sm2 import SM2PrivateKey
    from tongban.crypto.sm3 import hmac_sm3, sm3
    from tongban.crypto.sm4 import SM4GCM

    try:
        run_selftest()
    except CryptoSelfTestError as exc:
        print(f"self-test failed, refusing to benchmark: {exc}", file=sys.stderr)
        return 2

    s = args.seconds
    key = SM2PrivateKey.generate()
    pub = key.public_key()
    message = os.urandom(256)  # e.g. an audit chain head or an API request digest input
    signature = key.sign(message)
    secret = os.urandom(32)
    sm2_ct = pub.encrypt(secret)

    field = os.urandom(FIELD)
    aad = os.urandom(AAD)
    cipher = SM4GCM(os.urandom(16))
    blob = cipher.encrypt(field, aad)
    index_key = os.urandom(32)
    id_number = b"110101199003071234"
    chunk = os.urandom(1 << 20)

    results: dict[str, float] = {
        "sm2_sign_per_s": rate(lambda: key.sign(message), s),
        "sm2_verify_per_s": rate(lambda: pub.verify(signature, message), s),
        "sm2_encrypt_32B_per_s": rate(lambda: pub.encrypt(secret), s),
        "sm2_decrypt_32B_per_s": rate(lambda: key.decrypt(sm2_ct), s),
        "sm4_gcm_encrypt_100B_per_s": rate(lambda: cipher.encrypt(field, aad), s, batch=1000),
        "sm4_gcm_decrypt_100B_per_s": rate(lambda: cipher.decrypt(blob, aad), s, batch=1000),
        "hmac_sm3_blind_index_per_s": rate(lambda: hmac_sm3(index_key, id_number), s, batch=1000),
        "sm3_MB_per_s": rate(lambda: sm3(chunk), s, batch=5) * len(chunk) / 1e6,
    }
    misses = {k: v for k, v in GOALS.items() if results[k] < v}

    if args.json:
        report = {
            "machine": machine(),
            "cpu": args.cpu,
            "results": results,
            "goals": GOALS,
            "met": not misses,
        }
        print(json.dumps(report, indent=2))
    else:
        print(f"Machine (pinned to CPU {args.cpu}):")
        for label, value in machine().items():
            print(f"  {label:42} {value}")
        print(f"Results (median of 3 rounds, {s:g} s per line):")
        for name, figure in results.items():
            goal = f"   goal >= {GOALS[name]:,}" if name in GOALS else ""
            print(f"  {name:42} {figure:>12,.0f}{goal}")
        print("goals met" if not misses else f"GOALS MISSED: {', '.join(misses)}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
