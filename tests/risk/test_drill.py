"""`tongban drill` against the live test server: every shipped rule fires, every block takes effect and is
reversed (the issue's evidence)."""

from __future__ import annotations

import dataclasses
import json
from io import StringIO

import pytest
from django.core.management import call_command

from tongban.risk.models import Alert, Block, BlockStatus


@pytest.mark.django_db(transaction=True)
def test_the_drill_fires_every_rule_and_reverses_every_block(live_server, settings):
    # The drill's host (here 127.0.0.1) is a trusted proxy, so the spraying replay's many addresses count.
    settings.TONGBAN_SECURITY = dataclasses.replace(settings.TONGBAN_SECURITY, trusted_proxies=("127.0.0.1/32",))
    from tongban.risk.models import Rule
    from tongban.risk.services import rules_ensure

    rules_ensure()  # a transactional test may follow one that flushed the seeded rows
    Rule.objects.filter(code="off_hours_reads").update(params={"start_hour": 0, "end_hour": 0})  # always after hours
    out = StringIO()
    call_command("drill", live_server.url, "--json", stdout=out)
    report = {row["rule"]: row for row in json.loads(out.getvalue())}
    assert set(report) == set(Rule.objects.values_list("code", flat=True))
    assert [code for code, row in report.items() if not row["fired"]] == [], report
    for code in ("credential_stuffing", "password_spraying", "inconsistent_ratio", "officer_reads_zscore",
                 "export_large"):
        assert report[code]["blocked"] is True and report[code]["reversed"] is True, report[code]
    assert report["credential_stuffing"]["via"] == report["password_spraying"]["via"] == "http"
    assert not Block.objects.filter(status=BlockStatus.ACTIVE).exists()
    assert Alert.objects.filter(rule__code="audit_chain_failure").exists()
