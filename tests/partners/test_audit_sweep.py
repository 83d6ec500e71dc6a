"""Invariant 3 for partner changes: the admin list's bulk delete (an entry per row, in the delete's transaction)
and the inconsistent-ratio alert (the alert row and its entry commit or roll back together)."""

from __future__ import annotations

import dataclasses

import pytest

from tests.partners.conftest import make_partner
from tongban.audit.actions import Action, ActorType
from tongban.audit.models import AuditEntry
from tongban.partners.models import PartnerApp, PurposeCode

pytestmark = pytest.mark.django_db(databases="__all__")


def _bulk_delete(admin_client, url: str, pks: list[int]):
    return admin_client.post(url, {"action": "delete_selected", "post": "yes", "_selected_action": pks})


def test_bulk_delete_of_apps_is_audited_per_app(admin_client, admin_user):
    one, two = make_partner(name="应用一"), make_partner(name="应用二")
    response = _bulk_delete(admin_client, "/admin/partners/partnerapp/", [one.app.pk, two.app.pk])
    assert response.status_code == 302
    assert not PartnerApp.objects.filter(pk__in=[one.app.pk, two.app.pk]).exists()
    entries = [e for e in AuditEntry.objects.filter(action=Action.PARTNER_APP_CHANGE)
               if e.details.get("change") == "delete"]
    assert sorted(e.subject_id for e in entries) == sorted(str(a.app.pk) for a in (one, two))
    assert all(e.subject_type == "partners.partnerapp" and e.details["bulk"] is True for e in entries)
    assert all((e.actor_type, e.actor_id) == (ActorType.USER, str(admin_user.pk)) for e in entries)


@pytest.mark.parametrize("how", ["single", "bulk"])
def test_a_deleted_app_is_forgotten_by_this_process_at_once(admin_client, settings, how):
    """The per-process app cache (partners.selectors.partner_app) is dropped on a delete in admin, as on a
    change: the deleted app is unknown here at once (other processes within TONGBAN_PARTNER_APP_CACHE_SECONDS)."""
    from tongban.partners.selectors import partner_app

    settings.TONGBAN_PARTNERS = dataclasses.replace(settings.TONGBAN_PARTNERS, app_cache_seconds=300)
    partner = make_partner(name="删除后")
    assert partner_app(partner.app_id) is not None  # cached for 300 s
    if how == "single":
        response = admin_client.post(f"/admin/partners/partnerapp/{partner.app.pk}/delete/", {"post": "yes"})
    else:
        response = _bulk_delete(admin_client, "/admin/partners/partnerapp/", [partner.app.pk])
    assert response.status_code == 302
    assert partner_app(partner.app_id) is None


def test_bulk_delete_of_purpose_codes_is_audited(admin_client):
    code = PurposeCode.objects.create(code="sweep_test", name="测试用途")
    assert _bulk_delete(admin_client, "/admin/partners/purposecode/", [code.pk]).status_code == 302
    entry = AuditEntry.objects.get(action=Action.CONFIG_CHANGE, subject_type="partners.purposecode",
                                   subject_id=str(code.pk))
    assert entry.details == {"change": "delete", "bulk": True}


def test_a_bulk_delete_rolls_back_with_its_entries(admin_client, monkeypatch):
    from tongban.partners import admin as partners_admin

    code = PurposeCode.objects.create(code="sweep_keep", name="测试用途")

    def boom(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(partners_admin, "audit_record", boom)
    with pytest.raises(RuntimeError):
        _bulk_delete(admin_client, "/admin/partners/purposecode/", [code.pk])
    assert PurposeCode.objects.filter(pk=code.pk).exists()


@pytest.fixture
def ratio_rule():
    """The enumeration rule is the risk engine's (tongban.risk, was partners.abuse.app_answer_track): it
    counts the verification audit entries."""
    from tongban.risk.models import Rule

    Rule.objects.filter(code="inconsistent_ratio").update(threshold=0.5, params={"min_sample": 2, "suspend_after": 9})


def _inconsistent_answer(app: str, ref: str) -> None:
    from tongban.audit.services import Actor, Subject, audit_record

    audit_record(action=Action.VERIFICATION_REQUEST, actor=Actor.partner_app(app), subject=Subject("identity", ref),
                 details={"app": app, "passed": False, "verdicts": ["name=inconsistent"]})


def test_the_ratio_alert_and_its_entry_commit_together(ratio_rule):
    from tongban.risk.models import Alert

    _inconsistent_answer("pa_sweep", "ref-1")
    _inconsistent_answer("pa_sweep", "ref-2")
    alert = Alert.objects.get(rule__code="inconsistent_ratio")
    entry = AuditEntry.objects.get(action=Action.RISK_ALERT)
    assert (entry.actor_type, entry.actor_id) == (ActorType.SYSTEM, "risk.engine")
    assert (entry.subject_type, entry.subject_id) == ("risk.alert", str(alert.pk))
    assert entry.details["rule"] == "inconsistent_ratio" and alert.key == "pa_sweep"


def test_the_ratio_alert_rolls_back_with_its_entry(ratio_rule, monkeypatch):
    from tongban.risk import services as risk_services
    from tongban.risk.models import Alert, Block

    def boom(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(risk_services, "audit_record", boom)
    _inconsistent_answer("pa_sweep2", "ref-1")
    _inconsistent_answer("pa_sweep2", "ref-2")  # the rule fails; the verification's own entry stands
    assert not Alert.objects.filter(key="pa_sweep2").exists() and not Block.objects.exists()
    assert AuditEntry.objects.filter(action=Action.VERIFICATION_REQUEST).count() == 2
