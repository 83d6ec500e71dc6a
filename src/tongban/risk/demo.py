"""Demo data for `tongban demo`: a partner's verification of the demo citizen (so the account page's
history has a row) and one alert on the security admins' console (so it can be tried)."""

from __future__ import annotations

from django.db import transaction

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.risk import engine, services
from tongban.risk.models import Alert


@transaction.atomic
def risk_demo_ensure(*, citizen_username: str = "citizen") -> None:
    from tongban.accounts.models import CitizenProfile
    from tongban.partners.models import PartnerApp
    from tongban.partners.services import organisation_get_or_create, partner_app_create
    from tongban.verification.services import identity_reference

    profile = CitizenProfile.objects.filter(user__username=citizen_username, level__gte=1).first()
    if profile is not None and profile.id_number:
        app = PartnerApp.objects.filter(name="演示开户核验").first()
        if app is None:
            from tongban.crypto.sm2 import SM2PrivateKey

            org = organisation_get_or_create(name="演示商业银行", kind="other", region_code="330000",
                                             actor=Actor.system("demo"))
            app = partner_app_create(organisation=org, name="演示开户核验", levels=("l1", "l2"),
                                     purposes=("finance_account",),
                                     public_key=SM2PrivateKey.generate().public_key().to_raw(),
                                     actor=Actor.system("demo")).app
        audit_record(action=Action.VERIFICATION_REQUEST, actor=Actor.partner_app(app.app_id),
                     subject=Subject("identity", identity_reference(profile.id_type, profile.id_number)),
                     details={"app": app.app_id, "purpose": "finance_account", "passed": True,
                              "channel": "partner_api", "demo": True})
    rule = engine.rule("staff_new_network")
    if rule is not None and not Alert.objects.filter(rule=rule, key="demo").exists():
        services.alert_raise(rule=rule, key="demo", evidence={"network": "203.0.113.0/24", "demo": True},
                             drill=True, once_per_window=False)
