"""`tongban drill` against the live test server: every shipped rule fires, every block takes effect and is
reversed (the issue's evidence)."""

from __future__ import annotations

import dataclasses
import json
from io import StringIO

import pytest
from django.core.management import call_command

from tongban.risk.models import Alert, Block, BlockStatus


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_drill_fires_every_rule_and_reverses_every_block(live_server, settings, tmp_path):
    # The drill's host (here 127.0.0.1) is a trusted proxy, so the spraying replay's many addresses count.
    settings.TONGBAN_SECURITY = dataclasses.replace(settings.TONGBAN_SECURITY, trusted_proxies=("127.0.0.1/32",))
    from tongban.risk.models import Rule
    from tongban.risk.services import rules_ensure

    rules_ensure()  # a transactional test may follow one that flushed the seeded rows
    Rule.objects.filter(code="off_hours_reads").update(params={"start_hour": 0, "end_hour": 0})  # always after hours
    # The partner apps re-read at once (the live server shares this process) and meter without buffering.
    settings.TONGBAN_PARTNERS = dataclasses.replace(settings.TONGBAN_PARTNERS, app_cache_seconds=0,
                                                    meter_flush_seconds=0)
    credentials = tmp_path / "partners.json"
    call_command("drill", "--make-partner-credentials", str(credentials), stdout=StringIO())
    assert (credentials.stat().st_mode & 0o777) == 0o600
    out = StringIO()
    call_command("drill", live_server.url, "--json", "--partner-credentials", str(credentials), stdout=out)
    report = {row["rule"]: row for row in json.loads(out.getvalue())}
    assert set(report) == set(Rule.objects.values_list("code", flat=True))
    assert [code for code, row in report.items() if not row["fired"]] == [], report
    for code in ("credential_stuffing", "password_spraying", "inconsistent_ratio", "officer_reads_zscore",
                 "export_large", "login_lockout", "login_address_failures"):
        assert report[code]["blocked"] is True and report[code]["reversed"] is True, report[code]
    for code in ("credential_stuffing", "password_spraying", "id_many_apps", "inconsistent_ratio",
                 "staff_new_network", "login_lockout", "login_address_failures"):
        assert report[code]["via"] == "http", report[code]
    # The partner patterns were signed calls the platform answered and audited as the drill's apps.
    from tongban.audit.models import AuditEntry
    from tongban.partners.models import PartnerApp

    apps = set(PartnerApp.objects.filter(organisation__name="攻防演练").values_list("app_id", flat=True))
    assert len(apps) == 6 and PartnerApp.objects.filter(app_id__in=apps, status="active").count() == 6
    callers = set(AuditEntry.objects.filter(action="verification.request", actor_type="partner_app")
                  .values_list("actor_id", flat=True))
    assert apps <= callers
    assert not Block.objects.filter(status=BlockStatus.ACTIVE).exists()
    # The security admin lifted every block in the console, over HTTP (audited with the request).
    assert all("lifted_by_service" not in row["notes"] for row in report.values()), report
    assert set(Block.objects.values_list("lifted_by__username", flat=True)) == {"drill-secadmin"}
    assert Alert.objects.filter(rule__code="audit_chain_failure").exists()
