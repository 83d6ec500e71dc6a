"""The login lockout's numbers are risk rules (issue 22: one mechanism, not two): seeded by migration 0003
with the defaults the settings had, changed by a security admin with an audit entry, read from the engine's
cached rule set (no query per attempt), and kept enabled with sane numbers (MLPS 8.1.4.1 b)."""

from __future__ import annotations

import importlib

import pytest
from django.test import RequestFactory

from tests.accounts.factories import PASSWORD, make_officer, make_staff
from tongban.accounts import lockout
from tongban.accounts.roles import StaffRole
from tongban.audit.actions import Action
from tongban.audit.models import AuditEntry
from tongban.core.errors import TongbanError
from tongban.risk import engine, services
from tongban.risk.models import Rule

pytestmark = pytest.mark.django_db


def _fail(username: str, ip: str = "198.51.100.7") -> bool:
    return lockout.login_failure_record(username=username, ip=ip)


def test_the_migration_seeds_the_former_settings_defaults():
    account = Rule.objects.get(code="login_lockout")
    address = Rule.objects.get(code="login_address_failures")
    assert (account.enabled, account.key, account.threshold, account.window_seconds, account.response,
            account.response_seconds) == (True, "account", 5, 900, "lock_account", 1800)
    assert (address.enabled, address.key, address.threshold, address.window_seconds) == (True, "address", 30, 900)
    assert lockout.limits() == lockout.LoginLimits(5, 900, 1800, 30, 900)


def test_the_migration_keeps_the_values_a_deployment_still_sets(monkeypatch):
    migration = importlib.import_module("tongban.risk.migrations.0003_login_lockout_rules")
    monkeypatch.setenv("TONGBAN_LOGIN_MAX_FAILURES", "4")
    monkeypatch.setenv("TONGBAN_LOCKOUT_SECONDS", "600")
    monkeypatch.setenv("TONGBAN_LOGIN_IP_MAX_FAILURES", "not-a-number")
    rows = {row["code"]: row for row in migration._rows()}
    assert (rows["login_lockout"]["threshold"], rows["login_lockout"]["response_seconds"]) == (4, 600)
    assert rows["login_address_failures"]["threshold"] == 30


def test_a_security_admin_changes_the_lockout_with_an_audit_entry():
    secadmin = make_staff("sec1", StaffRole.SECURITY_ADMIN)
    rule = Rule.objects.get(code="login_lockout")
    with pytest.raises(TongbanError):
        services.rule_update(rule=rule, actor=make_staff("sys1", StaffRole.SYSTEM_ADMIN), threshold=3)
    services.rule_update(rule=rule, actor=secadmin, threshold=3, response_seconds=600)
    entry = AuditEntry.objects.get(action=Action.RISK_RULE_CHANGE, details__rule="login_lockout")
    old = entry.details["old"]
    assert (float(old["threshold"]), int(old["response_seconds"])) == (5, 1800)
    officer = make_officer("o1")
    assert [lockout.login_failure_record(username="o1", ip="198.51.100.7", user=officer)
            for _ in range(3)] == [False, False, True]
    officer.refresh_from_db()
    assert officer.is_locked()
    remaining = (officer.locked_until - entry.occurred_at).total_seconds()
    assert 590 <= remaining <= 610


def test_the_lockout_rules_cannot_be_switched_off_or_loosened_past_mlps():
    secadmin = make_staff("sec1", StaffRole.SECURITY_ADMIN)
    account = Rule.objects.get(code="login_lockout")
    address = Rule.objects.get(code="login_address_failures")
    for rule, changes in [(account, {"enabled": False}), (account, {"threshold": 11}),
                          (account, {"response_seconds": 0}), (address, {"window_seconds": 0}),
                          (address, {"enabled": False})]:
        with pytest.raises(TongbanError) as exc:
            services.rule_update(rule=rule, actor=secadmin, **changes)
        assert exc.value.code == "validation_error"
    assert not AuditEntry.objects.filter(action=Action.RISK_RULE_CHANGE).exists()
    assert Rule.objects.get(code="login_lockout").enabled and Rule.objects.get(code="login_lockout").threshold == 5


def test_one_counting_path_and_no_query_per_attempt(django_assert_num_queries):
    """The lockout's counters are the risk app's (risk:<rule>:<key> in the cache), and once the engine's rule
    set is cached an attempt reads its numbers without a query."""
    lockout.limits()  # the engine's cached rule set
    with django_assert_num_queries(0):
        limits = lockout.limits()
        blocked = lockout.address_failures("198.51.100.7") >= limits.address_max_failures
    assert limits.max_failures == 5 and not blocked
    _fail("nobody")
    _fail("nobody")
    assert lockout.account_failures("nobody") == 2 and lockout.address_failures("198.51.100.7") == 2
    assert engine.count("login_lockout", lockout.username_digest("nobody"), 900) == 3  # the same counter


def test_a_missing_row_reads_as_the_shipped_rule():
    Rule.objects.filter(code__in=["login_lockout", "login_address_failures"]).delete()
    engine.rules_forget()
    assert lockout.limits() == lockout.LoginLimits(5, 900, 1800, 30, 900)
    officer = make_officer("o1")
    for _ in range(5):
        lockout.login_failure_record(username="o1", ip="198.51.100.8", user=officer)
    assert lockout.login_locked("o1", officer)
    services.rules_ensure()
    assert Rule.objects.filter(code="login_lockout", threshold=5).exists()
    request = RequestFactory().post("/backoffice/password/", REMOTE_ADDR="198.51.100.9")
    with pytest.raises(TongbanError) as exc:
        lockout.password_recheck(user=officer, password=PASSWORD, request=request)
    assert exc.value.code == "login_locked"
