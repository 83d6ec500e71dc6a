"""The demo's data exchange: a fresh SM2 key for the national platform's simulator (it is new each run), our
signing key trusted by it, and the settings that point the exchange at it."""

from __future__ import annotations

from typing import Any

from tongban.crypto.sm2 import SM2PrivateKey


def demo_exchange(national_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the simulator's part of the demo configuration, the TONGBAN_EXCHANGE settings to apply)."""
    from tongban.exchange import keys

    national_key = SM2PrivateKey.generate()
    signer, ours = keys.signer()
    sim_conf = {"key": national_key.to_raw().hex(), "trust": {signer: ours.public_key().to_raw().hex()}}
    settings_update = {"URL": national_url, "PEER_PUBLIC_KEY": national_key.public_key().to_raw().hex()}
    return sim_conf, settings_update
