"""Security events are structured, masked log lines (until the audit app takes them over);
the demo-only TOTP command is refused in production."""

import dataclasses
import logging

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory, override_settings

from tests.accounts.factories import make_officer
from tongban.accounts.events import SecurityEvent, record_security_event, username_digest
from tongban.demo.seed import demo_accounts_ensure

pytestmark = pytest.mark.django_db


def test_event_is_one_masked_record(caplog):
    user = make_officer("o1")
    request = RequestFactory().post("/backoffice/login/", REMOTE_ADDR="10.1.1.1")
    with caplog.at_level(logging.INFO, logger="tongban.security"):
        record_security_event(SecurityEvent.ROLE_CHANGED, user=user, actor="sec", request=request,
                              details={"note": "phone 13800138000"})
    event = next(r.msg for r in caplog.records if r.name == "tongban.security")
    assert event["type"] == "role_changed" and event["subject"] == "o1" and event["actor"] == "sec"
    assert event["ip"] == "10.1.1.1"


def test_failed_login_logs_a_digest_not_the_typed_username(caplog):
    from django.contrib.auth import authenticate

    with caplog.at_level(logging.INFO, logger="tongban.security"):
        authenticate(RequestFactory().post("/"), username="Secret-Password-Typed-Here", password="x")
    text = " ".join(str(r.msg) for r in caplog.records)
    assert "Secret-Password-Typed-Here" not in text
    assert username_digest("Secret-Password-Typed-Here") in text


def test_totp_code_for_demo_accounts(capsys):
    demo_accounts_ensure()
    call_command("demo", "--totp", "officer", "--uri")
    code, uri = capsys.readouterr().out.split()
    assert code.isdigit() and len(code) == 6 and uri.startswith("otpauth://totp/")


def test_totp_code_refused_for_others_and_in_production():
    make_officer("o1")
    with pytest.raises(CommandError, match="演示账号"):
        call_command("demo", "--totp", "o1")
    with override_settings(ENV=dataclasses.replace(settings.ENV, environment="production")), \
            pytest.raises(CommandError, match="生产环境"):
        call_command("demo", "--totp", "officer")


def test_demo_accounts_keep_their_device_across_runs():
    from tongban.accounts.models import StaffTOTPDevice, User

    demo_accounts_ensure()
    key = StaffTOTPDevice.objects.get(user__username="officer").bin_key
    demo_accounts_ensure()
    assert StaffTOTPDevice.objects.get(user__username="officer").bin_key == key
    officer = User.objects.get(username="officer")
    assert officer.department == "hukou" and officer.region_code == "330100"
    assert User.objects.get(username="citizen").kind == "citizen"
    assert User.objects.get(username="admin").roles == {"system_admin"}


def _entries():
    from tongban.audit.models import AuditEntry

    return list(AuditEntry.objects.order_by("id"))


def test_security_event_joins_the_audit_chain_with_actor_and_subject():
    from tests.accounts.factories import make_staff
    from tongban.accounts.roles import StaffRole
    from tongban.accounts.services import staff_roles_set

    security = make_staff("sec1", StaffRole.SECURITY_ADMIN)
    officer = make_officer("o2")
    before = len(_entries())
    staff_roles_set(actor=security, user=officer, roles=[StaffRole.OFFICER], department="traffic")
    entry = _entries()[-1]
    assert len(_entries()) == before + 1
    assert entry.action == "account.role.change"
    assert (entry.actor_type, entry.actor_id) == ("user", str(security.pk))
    assert (entry.subject_type, entry.subject_id) == ("accounts.user", str(officer.pk))
    assert entry.outcome == "success"


def test_refused_role_change_leaves_no_audit_entry():
    from tests.accounts.factories import make_staff
    from tongban.accounts.roles import StaffRole
    from tongban.accounts.services import staff_roles_set
    from tongban.core.errors import TongbanError

    security = make_staff("sec2", StaffRole.SECURITY_ADMIN)
    officer = make_officer("o3")
    before = len(_entries())
    with pytest.raises(TongbanError):
        staff_roles_set(actor=security, user=officer, roles=[StaffRole.OFFICER, StaffRole.AUDIT_ADMIN])
    assert len(_entries()) == before


def test_failed_login_is_audited_as_anonymous_attempt_on_the_account():
    from django.contrib.auth import authenticate

    officer = make_officer("o4")
    authenticate(RequestFactory().post("/", REMOTE_ADDR="10.9.9.9"), username="o4", password="wrong")
    entry = _entries()[-1]
    assert entry.action == "auth.login.failure" and entry.outcome == "failure"
    assert entry.actor_type == "anonymous"
    assert entry.subject_id == str(officer.pk) and entry.client_ip == "10.9.9.9"


def test_cli_unlock_is_audited_as_the_operator():
    from tongban.accounts.services import account_unlock

    officer = make_officer("o5")
    account_unlock(actor=None, user=officer)
    entry = _entries()[-1]
    assert entry.action == "auth.unlock" and entry.actor_id.startswith("cli:")
