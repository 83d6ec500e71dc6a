"""Fixtures for the case engine: verified citizens, officers, an item offered online, the simulators."""

from __future__ import annotations

import itertools

import pytest

from tests.accounts.conftest import sms_sim  # noqa: F401  (the simulator fixture, shared)
from tests.accounts.factories import make_officer
from tongban.accounts.models import CitizenProfile, User, UserKind
from tongban.cases.catalog_bridge import ItemSpec, MaterialSpec, offer_item, withdraw_item

_seq = itertools.count(1)

FORM = {"fields": [
    {"name": "name", "label": "姓名", "type": "text", "prefill": "identity.name", "required": True},
    {"name": "reason", "label": "申请事由", "type": "radio", "required": True,
     "choices": [["lost", "遗失补领"], ["damaged", "损坏换领"]]},
    {"name": "lost_place", "label": "遗失地点", "type": "text", "required": True,
     "when": {"field": "reason", "equals": "lost"}},
    {"name": "note", "label": "备注", "type": "textarea"},
]}


def make_citizen(*, level: int = 2, id_number: str = "330106199001011234", name: str = "张三",
                 phone: str | None = None, id_type: str = "resident_id") -> User:
    n = next(_seq)
    user = User.objects.create_user(f"cit{n}", "Citizen-2026-pw", kind=UserKind.CITIZEN)
    CitizenProfile.objects.create(user=user, phone=phone or f"1380000{n:04d}", id_type=id_type if level else "",
                                  id_number=id_number if level else None,
                                  person_key=(id_number[:17] + str(n % 10)) if level else None,
                                  name=name if level else None, level=level)
    return user


def make_item(code: str = "T001", **overrides: object) -> ItemSpec:
    values: dict = {"code": code, "title": "居民身份证换领补领", "department": "hukou", "version_id": 1,
                    "assurance_level": 2, "workflow": "two_review", "application_form": FORM, "limit_days": 5,
                    "materials": (MaterialSpec("photo", "本人近期证件照"),)}
    values.update(overrides)
    spec = ItemSpec(**values)  # type: ignore[arg-type]
    offer_item(spec)
    return spec


@pytest.fixture
def item(db):
    spec = make_item()
    yield spec
    withdraw_item(spec.code)


@pytest.fixture
def citizen(db):
    return make_citizen()


@pytest.fixture
def officer(db):
    return make_officer("officer_a", department="hukou", region_code="330100")


@pytest.fixture
def officer2(db):
    return make_officer("officer_b", department="hukou", region_code="330106")


def png_bytes(size: tuple[int, int] = (40, 30), color: str = "red") -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


EMS_TOKEN = "test-ems-token"  # noqa: S105


@pytest.fixture
def ems(settings, live_server):
    """The EMS simulator on a free port; the platform's courier settings point at it and its callbacks at
    the live test server."""
    from sim.ems import EmsSimulator

    sim = EmsSimulator.start("127.0.0.1", 0, token=EMS_TOKEN)
    settings.TONGBAN_EMS = {"BACKEND": "tongban.cases.delivery.HttpCourier", "URL": sim.url, "TOKEN": EMS_TOKEN,
                            "TIMEOUT": 5, "CALLBACK_URL": f"{live_server.url}/cases/ems/callback/"}
    yield sim
    sim.stop()


def drain() -> None:
    """Run the jobs and the outbox until nothing is due (the in-process worker's work, in the test)."""
    from tongban.jobs.worker import Worker

    worker = Worker(worker_id="tests")
    while worker.run_once():
        pass
