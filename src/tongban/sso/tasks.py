"""The outbox channel "oidc_backchannel": a logout token (OpenID Connect Back-Channel Logout 1.0)
POSTed to the relying party's backchannel_logout_uri, retried with back-off until it answers 200; and
the recurring sweep that ends the sign-ins of sessions which expired without a logout (a bounded number
per run, with a follow-up run queued while more remain)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlencode

from tongban.core.logging import get_logger
from tongban.jobs.registry import PermanentJobError, job_task, outbox_channel

log = get_logger("tongban.sso")

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TIMEOUT = 5.0
# How often the sweep runs: a relying party learns of a session that expired (idle 30 min by default)
# within this many seconds, plus the outbox's delivery.
SWEEP_EVERY_SECONDS = 300


def logout_token(part: Any, *, iss: str | None = None) -> str:
    from tongban.sso import claims, signing

    client = part.client
    now = int(time.time())
    payload = {"iss": iss or claims.issuer(), "aud": client.client_id, "iat": now, "exp": now + 120,
               "jti": uuid.uuid4().hex, "events": {EVENT: {}},
               "sub": claims.pairwise_sub(sector=client.sector, user_id=part.user_id), "sid": part.sid}
    return signing.sign(payload, alg=client.algorithm, typ="logout+jwt")


@outbox_channel("oidc_backchannel", max_attempts=8)
def deliver_logout(payload: dict[str, Any], *, idempotency_key: str) -> None:
    from tongban.sso.models import SessionParticipation

    part = SessionParticipation.objects.select_related("client").filter(pk=int(payload.get("participation") or 0)).first()
    if part is None or not part.client.backchannel_logout_uri:
        raise PermanentJobError("nothing to notify")
    body = urlencode({"logout_token": logout_token(part, iss=payload.get("iss"))}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": idempotency_key}
    req = urllib.request.Request(part.client.backchannel_logout_uri, data=body, method="POST",  # noqa: S310
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:  # noqa: S310 (registered https/http URI)
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        log.warning("sso.backchannel_unreachable", client=part.client.client_id, error=type(exc).__name__)
        raise
    if status in (200, 204):
        log.info("sso.backchannel_delivered", client=part.client.client_id, participation=part.pk)
        return
    if 400 <= status < 500:
        raise PermanentJobError(f"the relying party refused the logout token ({status})")
    raise RuntimeError(f"the relying party answered {status}")


@job_task("sso.sessions_sweep", every=SWEEP_EVERY_SECONDS, max_attempts=2, backoff=30, lease_seconds=1800)
def sessions_sweep() -> None:
    """One bounded run (at most TONGBAN_SSO_SWEEP_LIMIT sessions, each committed on its own). If it stopped
    at the limit with more to do, a follow-up job of the same task is queued to run at once — a separate
    job rather than a loop, so each run stays short under its lease and the outbox's logout deliveries
    queued meanwhile get their turn between runs. Its key names this job, so a retried run queues no
    second follow-up; the recurring period jobs (`every:…` keys) go on as before, and a follow-up that
    meets them in parallel is harmless (each session ends once, see services.sessions_sweep)."""
    from tongban.jobs.registry import current_job
    from tongban.jobs.services import job_enqueue
    from tongban.sso.services import sessions_sweep as sweep

    result = sweep()
    log.info("sso.sweep_done", sessions=result.sessions, notified=result.notified, more=result.more)
    if result.more:
        job = current_job()
        follow_up = job_enqueue(task="sso.sessions_sweep",
                                idempotency_key=f"more:{job.job_id}" if job is not None else None)
        log.info("sso.sweep_follow_up", job_id=follow_up.pk)
