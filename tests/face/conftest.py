"""Fixtures of the face tests: real faces from packages (tongban.face.samples), bursts built once per session.

The models load once per test session (tongban.face.matcher caches them per process).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest

from tongban.face import matcher

needs_face = pytest.mark.skipif(not matcher.available(), reason="the optional extra `face` is not installed")

NUMBER = "110101199003070011"  # a valid resident ID (GB 11643 check digit)


@dataclass
class Bursts:
    left: list[bytes]  # astronaut turning to her left
    right: list[bytes]
    still: list[bytes]  # a printed photo of the astronaut held up
    other_left: list[bytes]  # Grace Hopper turning to her left


@pytest.fixture(scope="session")
def bursts() -> Bursts:
    if not matcher.available():
        pytest.skip("the optional extra `face` is not installed")
    from tongban.face import samples

    def jpegs(frames):
        return [samples.jpeg(f) for f in frames]

    return Bursts(left=jpegs(samples.head_turn_burst("astronaut", direction="turn_left", frames=6)),
                  right=jpegs(samples.head_turn_burst("astronaut", direction="turn_right", frames=6)),
                  still=jpegs(samples.still_burst("astronaut", frames=6)),
                  other_left=jpegs(samples.head_turn_burst("grace_hopper", direction="turn_left", frames=6)))


def _resident_id(serial: int) -> str:
    body = f"11010119900307{serial:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def make_card_holder(serial: int = 1, photo_id: int = 1) -> str:
    """A person in the population and idcard sources whose current card shows photo `photo_id`
    (1: the astronaut, 2: Grace Hopper; the generator's photo list)."""
    from tongban.registry.generator.photos import photos
    from tongban.registry.models import CardPhoto, IdCard, Person

    for photo in photos()[:2]:
        CardPhoto.objects.using("idcard").get_or_create(
            id=photo.id, defaults={"origin": photo.origin, "image": photo.image, "width": photo.width,
                                   "height": photo.height})
    number = _resident_id(serial)
    Person.objects.using("population").create(
        id_number=number, name="测试人", sex=2, ethnicity="01", birth_date=datetime.date(1990, 3, 7),
        region_code="110101", address="北京市东城区测试路1号", status="normal")
    IdCard.objects.using("idcard").create(
        id_number=number, name="测试人", issuing_authority="北京市公安局东城分局",
        valid_from=datetime.date(2020, 1, 1), valid_to=datetime.date(2040, 1, 1), issue_reason="first",
        status="valid", photo_id=photo_id)
    return number


def make_l2_citizen(username: str = "face1", *, photo_id: int = 1, serial: int = 1):
    """A citizen account verified to L2 with a resident ID whose card shows photo `photo_id`."""
    from tests.accounts.factories import make_citizen
    from tongban.accounts.models import CitizenProfile

    number = make_card_holder(serial, photo_id)
    user = make_citizen(username)
    CitizenProfile.objects.create(user=user, phone=f"1380000{serial:04d}", id_type="resident_id", id_number=number,
                                  person_key=number, name="测试人", level=2,
                                  card_valid_from=datetime.date(2020, 1, 1), card_valid_to=datetime.date(2040, 1, 1))
    return user
