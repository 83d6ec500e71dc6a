"""Where the CPU of one partner verification goes, in place: bench/verify_inprocess.py's loop (the WSGI
application called directly with pre-signed requests, the request log line at INFO) with the main steps of
the hot path each timed where they run (inclusive CPU time of this process, per request).

    .venv/bin/python bench/verify_breakdown.py [--requests 4000]

The timing wrapper costs ~1 µs a call; the figures are inclusive (a step's callees are in it), so the
view's own share is its figure less its children's. Uses bench/verify.py's databases (run that once first).
"""

from __future__ import annotations

import collections
import functools
import importlib
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# (module, attribute): the steps of a verification, outermost first.
STEPS = [
    ("tongban.core.fastlane", "FastLane.__call__"),
    ("tongban.core.middleware", "RequestIdMiddleware.__call__"),
    ("tongban.partners.api", "verifications"),
    ("tongban.partners.api", "authenticate"),
    ("tongban.partners.signing", "verify_request"),
    ("tongban.core.ratelimit", "claim_and_hit"),
    ("tongban.partners.api", "_json"),
    ("tongban.partners.api", "_parse"),
    ("tongban.partners.api", "_quota"),
    ("tongban.partners.api", "_perform"),
    ("tongban.verification.services", "verification_perform"),
    ("tongban.partners.abuse", "app_throttled_for"),
    ("tongban.verification.services", "_normalised_number"),
    ("tongban.verification.services", "_reference"),
    ("tongban.partners.abuse", "identity_velocity_hit"),
    ("tongban.verification.engine", "verify"),
    ("tongban.registry.sources", "DatabasePopulationSource.compare"),
    ("tongban.registry.sources", "DatabaseIdCardSource.current_card_check"),
    ("tongban.verification.services", "audit_record"),
    ("tongban.audit.chain", "append_committed"),
    ("tongban.partners.metering", "record"),
    ("tongban.partners.abuse", "app_answer_track"),
    ("tongban.partners.api", "_dumps"),
    ("tongban.partners.api", "_signed"),
    ("tongban.partners.signing", "sign_response"),
    ("tongban.core.fastlane", "release_connections"),
]

spent: collections.Counter[str] = collections.Counter()
calls: collections.Counter[str] = collections.Counter()


def _timed(module: str, attribute: str) -> None:
    owner: Any = importlib.import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    function = getattr(owner, name)
    label = f"{module.rsplit('.', 1)[-1]}.{attribute}"

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time_ns()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.process_time_ns() - started
            calls[label] += 1

    setattr(owner, name, wrapper)


def main() -> int:
    import verify as vb
    import verify_inprocess as vi

    real_setup = vb.django_setup

    def setup_then_time(env: dict[str, str]) -> None:
        real_setup(env)
        for module, attribute in STEPS:
            _timed(module, attribute)
        # The request log line, timed where the middleware calls it.
        from tongban.core import middleware

        logger = middleware.log

        class TimedLog:
            def info(self, *args: Any, **kwargs: Any) -> Any:
                started = time.process_time_ns()
                try:
                    return logger.info(*args, **kwargs)
                finally:
                    spent["the request log line"] += time.process_time_ns() - started
                    calls["the request log line"] += 1

            def __getattr__(self, name: str) -> Any:
                return getattr(logger, name)

        middleware.log = TimedLog()

    vb.django_setup = setup_then_time
    sys.argv = [sys.argv[0], *sys.argv[1:]]
    vi.main()  # warms up on 200 requests, then the measured loop
    total = calls["fastlane.FastLane.__call__"]
    print(f"CPU per request, inclusive, over {total} requests (warm-up included):")
    for label, ns in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {ns / total / 1e6:7.3f} ms  {label}  ({calls[label] / total:.1f} a request)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
