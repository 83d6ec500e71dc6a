"""The demo's single-sign-on counterparts in one process: the national-platform simulator, both ways round
(sim/national_platform.py), and the demo relying parties (sim/demo_rp.py). `tongban demo` starts it as a
subprocess and hands it its configuration — client credentials included — on standard input, never on the
command line (which other users of the machine can read). The subprocess exits when the demo does, however the
demo ended: it watches its parent process (the pipe is no sign, since the web server's forked workers hold it
too).

    start_demo_sso(config) -> subprocess.Popen     # returns once everything listens; .terminate() stops it
    serve(config)                                  # the same in threads of this process (tests)

The configuration (JSON, on one line):

    {"host": "127.0.0.1", "issuer": "http://127.0.0.1:8000",
     "national": {"port": 8790, "idp_client_id": "tongban", "idp_client_secret": "…",
                  "idp_redirect_uris": ["http://127.0.0.1:8000/login/national/callback/"],
                  "rp": {"client_id": "…", "client_secret": "…"},
                  "people": [{"sub": "…", "name": "…", "id_number": "…", "level": 2}]},
     "relying_parties": [{"key": "province", "name": "…", "organisation": "…", "port": 8101,
                          "scope": "openid realname idcard_masked", "client_id": "…", "client_secret": "…"}]}
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from typing import Any

from sim.demo_rp import DemoRelyingParty, Peer
from sim.national_platform import NationalPlatformSimulator

READY = "ready"


def serve(config: dict[str, Any]) -> tuple[NationalPlatformSimulator | None, list[DemoRelyingParty]]:
    """Start everything the configuration names, each on its own port, in threads of this process."""
    host, issuer = config.get("host", "127.0.0.1"), config["issuer"]
    national = None
    parties: list[DemoRelyingParty] = []
    try:
        conf = config.get("national")
        if conf:
            national = NationalPlatformSimulator.start(
                host, int(conf["port"]), idp_client_id=conf["idp_client_id"],
                idp_client_secret=conf["idp_client_secret"], idp_redirect_uris=list(conf["idp_redirect_uris"]))
            national.interactive = True  # people at browsers, not a test
            if conf.get("exchange"):  # the data exchange: the simulator's SM2 key, tongban's signing key
                from tongban.crypto.sm2 import SM2PrivateKey

                national.exchange.key = SM2PrivateKey.from_raw(bytes.fromhex(conf["exchange"]["key"]))
                for signer, key_hex in conf["exchange"]["trust"].items():
                    national.exchange.trust(signer, bytes.fromhex(key_hex))
            for person in conf.get("people", []):
                national.add_person(**person)
            if conf.get("rp"):
                national.configure_rp(issuer=issuer, client_id=conf["rp"]["client_id"],
                                      client_secret=conf["rp"]["client_secret"])
        for rp in config.get("relying_parties", []):
            parties.append(DemoRelyingParty.start(
                host=host, port=int(rp["port"]), key=rp["key"], name=rp["name"],
                organisation=rp.get("organisation", ""), issuer=issuer,
                scope=rp.get("scope", "openid realname idcard_masked")))
    except Exception:
        for party in parties:
            party.stop()
        if national is not None:
            national.stop()
        raise
    for party, rp in zip(parties, config.get("relying_parties", []), strict=True):
        party.configure(client_id=rp["client_id"], client_secret=rp["client_secret"],
                        peers=[Peer(other.name, f"{other.base_url}/") for other in parties if other is not party])
    return national, parties


def start_demo_sso(config: dict[str, Any], *, wait: float = 15.0) -> subprocess.Popen[str]:
    """Run `serve(config)` in a subprocess; return once it says everything listens (RuntimeError if it
    cannot: a port in use, say)."""
    process = subprocess.Popen([sys.executable, "-m", "sim.demo_sso"],  # noqa: S603  (our interpreter and module)
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(json.dumps(config) + "\n")
        process.stdin.flush()
    except BrokenPipeError:
        pass
    readable, _, _ = select.select([process.stdout], [], [], wait)
    line = process.stdout.readline() if readable else ""
    if line.strip() != READY:
        process.terminate()
        process.wait(10)
        raise RuntimeError("the national-platform simulator and the demo applications did not start "
                           f"(exit status {process.returncode}); see the message above")
    return process


def main() -> None:
    parent = os.getppid()
    config = json.loads(sys.stdin.readline())
    try:
        serve(config)
    except OSError as exc:
        print(f"单点登录演示组件无法启动 / cannot start the SSO demo counterparts: {exc}", file=sys.stderr)
        sys.exit(1)
    print(READY, flush=True)
    try:
        while os.getppid() == parent:  # serve (in threads) until terminated or orphaned
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
