"""Invariant 1: the platform database never holds personal data in plaintext.

Writes one known person into every model of the platform database that has encrypted fields
(found through the app registry, so a new app's model is covered without touching this test),
then dumps the whole database — the raw SQLite file and its WAL, or `pg_dump` of PostgreSQL —
and searches the bytes for the name, ID number, phone, address, plate and photo.

A model this test cannot fill on its own (a required field of an unusual type) fails the test with
a message; add a builder for it to BUILDERS below.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, models
from django.utils import timezone

from tests.crypto_testapp import fixtures as _fixtures
from tests.crypto_testapp.fixtures import (
    ADDRESS,
    BIRTH,
    ID_NUMBER,
    NAME,
    PHONE,
    PHOTO,
    PLATE,
)
from tongban.crypto.fields import (
    BlindIndexField,
    EncryptedBinaryField,
    EncryptedDateField,
    EncryptedField,
    encrypted_models,
)
from tongban.jobs.services import job_enqueue

fresh_keyring = _fixtures.fresh_keyring

# Model label -> function(values) building (not saving) an instance, for models the generic
# builder cannot fill.
BUILDERS: dict[str, Callable[[dict[str, Any]], models.Model]] = {}
# Plain values the generic builder must set for a row to pass the model's own constraints.
OVERRIDES: dict[str, dict[str, Any]] = {
    "face.FaceCheck": {"status": "review"},  # images are kept (encrypted) only while under review
}

NEEDLES: dict[str, bytes] = {
    "name": NAME.encode(),
    "id_number": ID_NUMBER.encode(),
    "id_number_lower": ID_NUMBER.lower().encode(),
    "phone": PHONE.encode(),
    "address": ADDRESS.encode(),
    "address_part": ADDRESS[:6].encode(),
    "plate": PLATE.encode(),
    "plate_plain": PLATE.replace("·", "").encode(),
    "photo": PHOTO[4:30],
    "birth_date": BIRTH.isoformat().encode(),
}


def _text_for(field: EncryptedField) -> str:
    hint = f"{field.name} {getattr(field, 'mask', '') or ''}".lower()
    for key, value in (("id_number", ID_NUMBER), ("phone", PHONE), ("mobile", PHONE), ("plate", PLATE),
                       ("address", ADDRESS), ("name", NAME)):
        if key in hint:
            return value
    return ADDRESS  # any other personal text: something we search for


def _plain_value(field: models.Field, created: dict[str, models.Model]) -> Any:
    if field.has_default():
        return field.get_default()
    if field.null:
        return None
    if isinstance(field, models.ForeignKey | models.OneToOneField):
        return _build_and_save(field.related_model, created)
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.IntegerField | models.FloatField | models.DecimalField):
        return 1
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return dt.date(2026, 1, 5)
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.CharField | models.TextField):
        return field.choices[0][0] if field.choices else "x"
    if isinstance(field, models.BinaryField):
        return b"x"
    raise LookupError(f"{field.model._meta.label}.{field.name} ({type(field).__name__})")


def _build_and_save(model: Any, created: dict[str, models.Model]) -> models.Model:
    label = model._meta.label
    if label in created:
        return created[label]
    if label in BUILDERS:
        instance = BUILDERS[label]({})
    else:
        values: dict[str, Any] = {}
        for field in model._meta.concrete_fields:
            if field.primary_key and field.has_default():
                continue
            if isinstance(field, BlindIndexField) or getattr(field, "auto_now", False) or getattr(
                    field, "auto_now_add", False):
                continue
            if isinstance(field, EncryptedBinaryField):
                values[field.attname] = PHOTO
            elif isinstance(field, EncryptedDateField):
                values[field.attname] = BIRTH
            elif isinstance(field, EncryptedField):
                values[field.attname] = _text_for(field)
            else:
                try:
                    value = _plain_value(field, created)
                except LookupError as exc:
                    pytest.fail(f"cannot fill {exc}: add a builder for {label} to BUILDERS in {__file__}")
                values[field.name if isinstance(field, models.ForeignKey) else field.attname] = value
        values.update(OVERRIDES.get(label, {}))
        instance = model(**values)
    instance.save()
    created[label] = instance
    return instance


def _sqlite_bytes() -> bytes:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(connection.settings_dict["NAME"])
    data = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = Path(str(path) + suffix)
        if candidate.exists():
            data += candidate.read_bytes()
    return data


def _postgres_bytes() -> bytes:
    settings_dict = connection.settings_dict
    pg_dump = shutil.which("pg_dump") or "/usr/bin/pg_dump"
    env = {**os.environ, "PGPASSWORD": str(settings_dict.get("PASSWORD") or "")}
    command = [pg_dump, "--no-owner", "-h", str(settings_dict["HOST"] or "127.0.0.1"), "-p",
               str(settings_dict["PORT"] or 5432), "-U", str(settings_dict["USER"]), str(settings_dict["NAME"])]
    return subprocess.run(command, env=env, capture_output=True, check=True, timeout=120).stdout


def _dump() -> tuple[bytes, Callable[[bytes], list[bytes]]]:
    if connection.vendor == "sqlite":
        return _sqlite_bytes(), lambda needle: [needle]
    if connection.vendor == "postgresql":
        # pg_dump prints bytea as hex (\x...): look for the needle as text and as hex.
        return _postgres_bytes(), lambda needle: [needle, needle.hex().encode()]
    pytest.skip(f"no dump method for {connection.vendor}")


def _found(dump: bytes, forms: Callable[[bytes], list[bytes]]) -> list[str]:
    return [label for label, needle in NEEDLES.items() if any(form in dump for form in forms(needle))]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_database_dump_holds_no_personal_data_in_plaintext(caplog: pytest.LogCaptureFixture,
                                                           capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    targets = encrypted_models()
    assert targets, "no model with encrypted fields is installed"
    assert "crypto_testapp.Person" in [m._meta.label for m in targets]

    dump, forms = _dump()
    assert _found(dump, forms) == [], "the empty test database already holds the needles"

    created: dict[str, models.Model] = {}
    for model in targets:
        _build_and_save(model, created)
    # A positive control: a plaintext marker written the same way must be found, so the dump
    # really includes the committed data and the search works.
    canary = f"canary-{uuid.uuid4().hex}"
    job_enqueue(task="test.no_plaintext_canary", payload={"note": canary})
    logging.getLogger("tongban.test").warning("no-plaintext canary %s", canary)

    dump, forms = _dump()
    assert any(form in dump for form in forms(canary.encode())), "the dump does not include committed rows"
    assert _found(dump, forms) == []

    # Nothing written meanwhile logged a value in the clear either (masked forms are allowed).
    out, err = capfd.readouterr()
    logged = (out + err + caplog.text).encode()
    assert canary.encode() in logged, "the log capture does not work"
    assert [label for label, needle in NEEDLES.items() if needle in logged] == []

    # And the values are really there, encrypted: every model reads its person back.
    for label, instance in created.items():
        model = type(instance)
        fresh = model._default_manager.get(pk=instance.pk)
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedField):
                assert getattr(fresh, field.attname) == getattr(instance, field.attname), (label, field.name)
