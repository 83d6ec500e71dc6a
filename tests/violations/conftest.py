"""Fixtures for violation handling: cars and licences in the traffic reference source, verified citizens."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.payments.conftest import pay_sim  # noqa: F401  (the simulator fixture, shared)
from tests.sso.conftest import resident_id

OWNER_ID = resident_id(501)
DRIVER_ID = resident_id(502)
OTHER_ID = resident_id(503)


def make_citizen(*, id_number: str, name: str, phone: str | None = None):
    """A citizen verified to L2 as the mainland resident `id_number` (person_key is the ID number, as in
    tongban.accounts.citizens)."""
    from django.utils import timezone

    from tongban.accounts.models import CitizenProfile, User, UserKind

    user = User.objects.create_user(f"v{id_number[-6:]}", "Citizen-2026-pw", kind=UserKind.CITIZEN)
    CitizenProfile.objects.create(user=user, phone=phone or f"139{id_number[-8:]}", id_type="resident_id",
                                  id_number=id_number, person_key=id_number, name=name, level=2,
                                  verified_at=timezone.now())
    return user


def add_vehicle(plate: str, owner_id: str, *, phone: str = "13700000001") -> None:
    from tongban.registry.models import Vehicle

    Vehicle.objects.create(plate=plate, plate_type="02", vehicle_type="K33", owner_id_number=owner_id,
                           owner_name="车主", owner_phone=phone, registered_on=dt.date(2020, 1, 1))


def add_licence(number: str, *, first_issued: dt.date = dt.date(2015, 3, 15), cycle_start: dt.date | None = None,
                points: int = 0, licence_class: str = "C1", status: str = "normal") -> None:
    from tongban.registry.models import DrivingLicence

    DrivingLicence.objects.create(licence_number=number, name="驾驶人", licence_class=licence_class,
                                  first_issued=first_issued, valid_from=first_issued, valid_to=None,
                                  cycle_start=cycle_start or first_issued, points=points, status=status)


@pytest.fixture
def world(db):
    """粤A00501 owned by the owner (licence, 0 points); a driver with a licence; 粤A00502 owned by someone else."""
    add_vehicle("粤A00501", OWNER_ID, phone="13700000501")
    add_vehicle("粤A00502", OTHER_ID, phone="13700000503")
    add_licence(OWNER_ID)
    add_licence(DRIVER_ID)
    owner = make_citizen(id_number=OWNER_ID, name="王车主")
    driver = make_citizen(id_number=DRIVER_ID, name="李司机")
    other = make_citizen(id_number=OTHER_ID, name="赵他人")
    return {"owner": owner, "driver": driver, "other": other}


def record(plate: str = "粤A00501", code: str = "1625", region: str = "440100", **kw: object):
    from tongban.core import clock
    from tongban.violations.services import violation_record

    return violation_record(plate=plate, occurred_at=kw.pop("occurred_at", clock.now() - dt.timedelta(hours=1)),  # type: ignore[arg-type]
                            place="广州大道中与天河路交叉口", code=code, region_code=region,
                            authority="广州市公安局交通警察支队", **kw)  # type: ignore[arg-type]
