"""Fixtures for payments: the gateway simulator, officers, finance staff, notices and decisions."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from sim.pay_gateway import PayGatewaySimulator
from tests.accounts.factories import make_officer, make_staff
from tongban.accounts.roles import StaffRole
from tongban.core import clock
from tongban.payments import services

KEY = "test-pay-key-0123456789abcdef"
_seq = itertools.count(1)


def point_at(settings: Any, sim_url: str, notify_url: str = "http://127.0.0.1:9/pay/gateway/notify/",
             ttl: int = 900) -> None:
    conf = dict(settings.TONGBAN_PAYMENTS)
    conf["GATEWAY"] = {"BACKEND": "tongban.payments.gateway.HttpGateway", "URL": sim_url, "MERCHANT": "test-merchant",
                       "KEY": KEY, "TIMEOUT": 5}
    conf["NOTIFY_URL"] = notify_url
    conf["ATTEMPT_TTL_SECONDS"] = ttl
    settings.TONGBAN_PAYMENTS = conf


@pytest.fixture
def pay_sim(settings):
    """The gateway simulator on a free loopback port; notifications go nowhere unless a test says where."""
    sim = PayGatewaySimulator.start("127.0.0.1", 0, key=KEY)
    point_at(settings, sim.url)
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def officer(db):
    return make_officer(f"pay_officer{next(_seq)}", department="traffic", region_code="440100")


@pytest.fixture
def officer2(db):
    return make_officer(f"pay_officer{next(_seq)}", department="traffic", region_code="440100")


@pytest.fixture
def finance(db):
    return make_staff(f"finance{next(_seq)}", StaffRole.FINANCE)


def make_notice(**overrides: Any):
    values: dict[str, Any] = {"category": "resident_id", "items": [{"code": "id_replace", "quantity": 1}],
                              "payer_name": "张三", "region_code": "440106", "payee_unit": "广州市公安局天河区分局",
                              "component": "tests"}
    values.update(overrides)
    return services.notice_issue(**values)


def make_decision(*, fine_fen: int = 20000, days_ago: int = 3, **overrides: Any):
    values: dict[str, Any] = {"fine_fen": fine_fen, "served_on": clock.today_local() - dt.timedelta(days=days_ago),
                              "payer_name": "李四", "region_code": "440106",
                              "payee_unit": "广州市公安局交通警察支队", "component": "tests"}
    values.update(overrides)
    return services.decision_issue(**values)
