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


def test_the_lock_raises_an_alert_and_a_block_whose_lift_unlocks_the_account():
    from tongban.risk.models import Alert, Block, BlockStatus

    secadmin = make_staff("sec1", StaffRole.SECURITY_ADMIN)
    officer = make_officer("o1")
    assert [lockout.login_failure_record(username="o1", ip="198.51.100.7", user=officer)
            for _ in range(5)] == [False] * 4 + [True]
    alert = Alert.objects.get(rule__code="login_lockout")
    block = Block.objects.get(alert=alert)
    officer.refresh_from_db()
    assert alert.key == lockout.username_digest("o1") and alert.severity == "medium"
    assert alert.evidence == {"failures": 5, "threshold": 5, "window_seconds": 900, "lock_seconds": 1800,
                              "user_id": officer.pk}
    assert (block.kind, block.target, block.status) == ("lock_account", f"user:{officer.pk}", BlockStatus.ACTIVE)
    assert 1790 <= (block.expires_at - alert.created_at).total_seconds() <= 1810
    assert 1790 <= (officer.locked_until - alert.created_at).total_seconds() <= 1810  # the rule's lock, not forever
    # Once per window: the lock still running, more failures raise nothing new.
    lockout.login_failure_record(username="o1", ip="198.51.100.7", user=officer)
    assert Alert.objects.filter(rule__code="login_lockout").count() == 1
    with pytest.raises(TongbanError):
        services.response_lift(block=block, actor=make_staff("sys1", StaffRole.SYSTEM_ADMIN), reason="x")
    services.response_lift(block=block, actor=secadmin, reason="本人来电核实")
    officer.refresh_from_db()
    assert not officer.is_locked() and not lockout.login_locked("o1", officer)
    assert lockout.account_failures("o1") == 0
    unlock = AuditEntry.objects.get(action="auth.unlock")
    assert unlock.subject_id == str(officer.pk) and unlock.actor_id == str(secadmin.pk)
    assert AuditEntry.objects.filter(action=Action.RISK_RESPONSE_LIFT, details__reason="本人来电核实").exists()


def test_the_address_limit_raises_an_alert_and_a_throttle_whose_lift_clears_the_count():
    from tongban.risk.models import Alert, Block

    secadmin = make_staff("sec1", StaffRole.SECURITY_ADMIN)
    for i in range(30):
        _fail(f"n{i // 4}", ip="198.51.100.30")
    assert lockout.address_blocked("198.51.100.30") and not lockout.address_blocked("198.51.100.31")
    alert = Alert.objects.get(rule__code="login_address_failures")
    assert alert.key == "198.51.100.30"
    assert alert.evidence == {"address": "198.51.100.30", "failures": 30, "threshold": 30, "window_seconds": 900}
    block = Block.objects.get(alert=alert)
    assert (block.kind, block.target) == ("throttle", "address:198.51.100.30")
    assert 890 <= (block.expires_at - alert.created_at).total_seconds() <= 910
    _fail("n-more", ip="198.51.100.30")
    assert Alert.objects.filter(rule__code="login_address_failures").count() == 1
    services.response_lift(block=block, actor=secadmin, reason="演练结束")
    assert not lockout.address_blocked("198.51.100.30") and lockout.address_failures("198.51.100.30") == 0
