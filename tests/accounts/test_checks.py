"""`tongban check --deploy` flags unsafe access-control settings; bad values stop the start."""

import dataclasses

import pytest
from django.conf import settings

from config import env
from tongban.accounts.checks import check_access_control


def _ids(**changes):
    settings_value = dataclasses.replace(settings.TONGBAN_SECURITY, **changes)
    from django.test import override_settings

    with override_settings(TONGBAN_SECURITY=settings_value):
        return {m.id for m in check_access_control()}


def test_open_back_office_or_proxy_is_an_error():
    assert "tongban.accounts.E001" in _ids(backoffice_networks=("0.0.0.0/0",))
    assert "tongban.accounts.E002" in _ids(trusted_proxies=("::/0",))
    assert "tongban.accounts.W001" in _ids(backoffice_networks=())
    assert _ids() == set()


def test_bad_values_are_named(monkeypatch):
    monkeypatch.setenv("TONGBAN_BACKOFFICE_NETWORKS", "10.0.0.0/8,not-a-network")
    with pytest.raises(env.ConfigurationError, match="TONGBAN_BACKOFFICE_NETWORKS"):
        env.load_security()
    monkeypatch.delenv("TONGBAN_BACKOFFICE_NETWORKS")
    monkeypatch.setenv("TONGBAN_STAFF_IDLE_SECONDS", "0")
    with pytest.raises(env.ConfigurationError, match="TONGBAN_STAFF_IDLE_SECONDS"):
        env.load_security()


def test_defaults(monkeypatch):
    for name in ("TONGBAN_BACKOFFICE_NETWORKS", "TONGBAN_STAFF_IDLE_SECONDS", "TONGBAN_CITIZEN_IDLE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    conf = env.load_security("development")
    assert conf.backoffice_networks == ("127.0.0.0/8", "::1/128")
    assert (conf.staff_idle_seconds, conf.citizen_idle_seconds) == (900, 1800)
    assert (conf.staff_password_min_length, conf.password_history, conf.staff_password_max_age_days) == (12, 5, 90)
    assert env.load_security("production").backoffice_networks == ()
