"""The key hierarchy: master-key providers, wrapped data keys, the keyring, signing keys, rotation."""

from __future__ import annotations

import base64
import io
import os
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from tests.crypto_testapp import fixtures as _fixtures
from tests.crypto_testapp.fixtures import NAME, FakeClock, make_person
from tests.crypto_testapp.models import Person, Vehicle
from tongban.core.errors import TongbanError
from tongban.crypto import keys, services
from tongban.crypto.errors import DecryptionError, KeyFormatError
from tongban.crypto.fields import BIDX_VERSION_SIZE, seal
from tongban.crypto.models import DataKey, KeyPurpose, KeyRotation, KeyState, RotationPhase, RotationState
from tongban.crypto.sm2 import SM2PrivateKey
from tongban.jobs.models import Job, JobStatus
from tongban.jobs.worker import Worker

MASTER = bytes(range(32))
fresh_keyring = _fixtures.fresh_keyring
fake_clock = _fixtures.fake_clock


# -- master key providers ------------------------------------------------------------------------------------


def test_file_master_key_is_created_owner_only_outside_production(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "master.key"
    provider = keys.FileMasterKey(path, create=True)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(path.read_bytes()) == 32
    again = keys.FileMasterKey(path, create=True)
    assert again.key_id == provider.key_id  # the same key, not a new one


def test_file_master_key_is_never_created_in_production(tmp_path: Path, settings) -> None:
    settings.ENV = type("E", (), {"is_production": True})()
    with pytest.raises(ImproperlyConfigured, match="生产环境不会自动生成"):
        keys.FileMasterKey(tmp_path / "master.key")
    assert not (tmp_path / "master.key").exists()
    # ... and the system check says so before anything needs a key.
    from tongban.crypto.models import check_master_key

    settings.TONGBAN_KEY_PROVIDER = "tongban.crypto.keys.FileMasterKey"
    settings.TONGBAN_MASTER_KEY_FILE = tmp_path / "master.key"
    keys.set_master_key_provider(None)
    try:
        assert [m.id for m in check_master_key()] == ["tongban.crypto.E010"]
    finally:
        keys.set_master_key_provider(None)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_file_master_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(MASTER)
    path.chmod(mode)
    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        keys.FileMasterKey(path, create=False)


@pytest.mark.parametrize("content", [MASTER, MASTER.hex().encode() + b"\n", base64.b64encode(MASTER) + b"\n"])
def test_file_master_key_formats(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "master.key"
    path.write_bytes(content)
    path.chmod(0o600)
    assert keys.FileMasterKey(path, create=False).key_id == keys.LocalMasterKey(MASTER).key_id


def test_env_master_key(settings) -> None:
    settings.TONGBAN_MASTER_KEY = base64.b64encode(MASTER).decode()
    assert keys.EnvMasterKey().key_id == keys.LocalMasterKey(MASTER).key_id
    settings.TONGBAN_MASTER_KEY = None
    with pytest.raises(ImproperlyConfigured, match="TONGBAN_MASTER_KEY"):
        keys.EnvMasterKey()
    with pytest.raises(KeyFormatError):
        keys.EnvMasterKey("00" * 16)


def test_wrapping_binds_purpose_and_version() -> None:
    provider = keys.LocalMasterKey(MASTER)
    dek = os.urandom(16)
    wrapped = provider.wrap("field_encryption", 3, dek)
    assert dek not in wrapped
    assert provider.unwrap("field_encryption", 3, wrapped) == dek
    with pytest.raises(DecryptionError):
        provider.unwrap("field_encryption", 4, wrapped)
    with pytest.raises(DecryptionError):
        provider.unwrap("blind_index", 3, wrapped)
    with pytest.raises(DecryptionError):
        keys.LocalMasterKey(bytes(32)).unwrap("field_encryption", 3, wrapped)


def test_provider_is_chosen_by_dotted_path(settings) -> None:
    settings.TONGBAN_KEY_PROVIDER = "tongban.crypto.keys.EnvMasterKey"
    keys.set_master_key_provider(None)
    try:
        assert isinstance(keys.master_key_provider(), keys.EnvMasterKey)
        assert isinstance(keys.master_key_provider(), keys.MasterKeyProvider)
    finally:
        keys.set_master_key_provider(None)


# -- data keys and the keyring ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_migrate_created_one_current_key_per_purpose_stored_only_wrapped() -> None:
    rows = {k.purpose: k for k in DataKey.objects.filter(state=KeyState.CURRENT)}
    assert set(rows) == {p.value for p in KeyPurpose}
    secret = keys.keyring().secret("field_encryption", rows["field_encryption"].version)
    assert len(secret) == 16 and secret not in bytes(rows["field_encryption"].wrapped)
    assert rows["audit_signing"].public_key is not None and len(rows["audit_signing"].public_key) == 65
    assert keys.ensure_keys() == []  # idempotent
    assert "wrapped" not in str(rows["field_encryption"]) and str(rows["field_encryption"]).startswith("field_")


@pytest.mark.django_db
def test_database_refuses_two_current_versions() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        keys.create_data_key(purpose="blind_index", version=9, state=KeyState.CURRENT, operator="t")


@pytest.mark.django_db
def test_a_different_master_key_cannot_unwrap() -> None:
    keys.set_master_key_provider(keys.LocalMasterKey(bytes(32)))
    try:
        with pytest.raises(keys.KeyUnavailableError, match="does not unwrap"):
            keys.field_cipher()
        assert keys.check_master_key() is not None
    finally:
        keys.set_master_key_provider(None)
    assert keys.check_master_key() is None


@pytest.mark.django_db
def test_keyring_sees_another_process_rotating_after_its_ttl(settings) -> None:
    settings.TONGBAN_KEYRING_TTL = 1
    assert keys.current_version("field_encryption") == 1
    # Another process rotates: this one learns it when its TTL expires (or on invalidate()).
    with transaction.atomic():
        DataKey.objects.filter(purpose="field_encryption").update(state=KeyState.RETIRING)
        keys.create_data_key(purpose="field_encryption", version=2, state=KeyState.CURRENT, operator="other")
    assert keys.current_version("field_encryption") == 1
    time.sleep(1.05)
    assert keys.current_version("field_encryption") == 2


@pytest.mark.django_db
def test_keyring_loads_an_unknown_version_at_once(settings) -> None:
    settings.TONGBAN_KEYRING_TTL = 3600
    assert keys.current_version("field_encryption") == 1
    with transaction.atomic():  # another process rotates and writes under v2
        DataKey.objects.filter(purpose="field_encryption").update(state=KeyState.RETIRING)
        keys.create_data_key(purpose="field_encryption", version=2, state=KeyState.CURRENT, operator="other")
    assert keys.keyring()._rows.get(("field_encryption", 2)) is None  # not known yet (TTL)
    assert keys.field_cipher(2)[0] == 2  # meeting v2 in a value loads it at once
    assert keys.current_version("field_encryption") == 2


# -- signing keys ---------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_signing_key_signs_and_old_signatures_verify_after_rotation() -> None:
    version, private = keys.current_signing_key("audit_signing")
    assert isinstance(private, SM2PrivateKey)
    assert keys.signing_key("audit_signing").to_raw() == private.to_raw()
    signature = private.sign(b"chain head 42")
    assert keys.verifying_key("audit_signing", version).verify(signature, b"chain head 42")

    result = services.key_rotate(purpose="audit_signing", operator="keyadmin")
    assert result.rotation is None  # nothing to re-encrypt
    keys.keyring().invalidate()
    new_version, new_private = keys.current_signing_key("audit_signing")
    assert new_version == version + 1 and new_private.to_raw() != private.to_raw()
    assert DataKey.objects.get(purpose="audit_signing", version=version).state == KeyState.RETIRED
    assert keys.verifying_key("audit_signing", version).verify(signature, b"chain head 42")
    # The API-signing key is a different key.
    assert keys.signing_key("api_signing").to_raw() != new_private.to_raw()
    with pytest.raises(ValueError, match="not a signing purpose"):
        keys.signing_key("field_encryption")


# -- rotation ---------------------------------------------------------------------------------------------------


def _run_worker_until_idle(clock: FakeClock | None = None, rounds: int = 200) -> None:
    worker = Worker(queues=["keys"], batch_size=50)
    for _ in range(rounds):
        if clock is not None:
            clock.advance(1)
        if not worker.run_once() and not Job.objects.filter(
                task=services.ROTATE_TASK, status__in=[JobStatus.PENDING, JobStatus.RETRYING,
                                                       JobStatus.RUNNING]).exists():
            return
    raise AssertionError("rotation jobs did not finish")


def _people(n: int) -> list[Person]:
    people = [Person(name=f"测试{i}号", id_number=f"1101051990{i:07d}X", phone=f"139{i:08d}",
                     address=f"测试路{i}号") for i in range(n)]
    Person.objects.bulk_create(people)
    return people


def _versions(column: str) -> set[int]:
    if column.endswith("_bidx"):
        raw = Person.objects.values_list(column, flat=True)
        return {int.from_bytes(bytes(v)[:BIDX_VERSION_SIZE], "big") for v in raw if v is not None}
    return {v.version for v in Person.objects.values_list(column, flat=True) if v is not None}


@pytest.fixture
def rotation_settings(settings):
    settings.TONGBAN_KEY_ROTATION_DELAY = 0
    settings.TONGBAN_KEY_ROTATION_BATCH = 100
    settings.TONGBAN_KEYRING_TTL = 0
    return settings


@pytest.mark.django_db(transaction=True)
def test_field_key_rotation_end_to_end(rotation_settings, fake_clock: FakeClock) -> None:
    people = _people(500)
    owner = people[0]
    Vehicle.objects.bulk_create([Vehicle(owner=owner, plate=f"京A{i:05d}") for i in range(30)])
    assert _versions("name") == {1}

    result = services.key_rotate(purpose="field_encryption", operator="keyadmin")
    rotation = result.rotation
    assert rotation is not None and rotation.total_rows == 530 and rotation.from_versions == [1]
    assert DataKey.objects.get(purpose="field_encryption", version=1).state == KeyState.RETIRING
    # Reads and writes go on while the job has not run yet: old rows read, new rows use v2.
    assert Person.objects.get(pk=people[7].pk).name == "测试7号"
    newcomer = make_person(id_number="110105194912310011")
    assert Person.objects.values_list("name", flat=True).get(pk=newcomer.pk).version == 2

    _run_worker_until_idle(fake_clock)

    rotation.refresh_from_db()
    assert rotation.state == RotationState.DONE and rotation.phase == RotationPhase.VERIFY
    assert rotation.done_rows >= 530 and rotation.rewritten_rows == 530 and rotation.failed_rows == 0
    assert rotation.fraction == 1.0
    for column in ("name", "id_number", "phone", "address"):
        assert _versions(column) == {2}
    assert {v.version for v in Vehicle.objects.values_list("plate", flat=True)} == {2}
    assert Vehicle.objects.blind_filter(plate="京a 00029").get().plate == "京A00029"
    loaded = {p.pk: p for p in Person.objects.all()}
    for i in (0, 123, 499):
        person = loaded[people[i].pk]
        assert (person.name, person.id_number, person.phone) == (f"测试{i}号", f"1101051990{i:07d}X",
                                                                 f"139{i:08d}")
    assert Person.objects.blind_filter(id_number="1101051990" + "0000321X").get().name == "测试321号"
    old = DataKey.objects.get(purpose="field_encryption", version=1)
    assert old.state == KeyState.RETIRED and old.retired_at is not None
    # Retired, yet still readable: an old backup restored later still decrypts.
    assert keys.field_cipher(1)[0] == 1
    # Each step is in the audit log: generated, made current, old version retired.
    from tongban.audit.models import AuditEntry

    entries = list(AuditEntry.objects.filter(action__startswith="key.", subject_type="crypto.datakey")
                   .order_by("id").values_list("action", "details"))
    new_key = DataKey.objects.get(purpose="field_encryption", version=2)
    assert [a for a, _ in entries][-3:] == ["key.generate", "key.rotate", "key.retire"]
    assert entries[-2][1]["rotation_id"] == rotation.id and entries[-2][1]["version"] == new_key.version
    assert entries[-1][1]["version"] == 1


@pytest.mark.django_db(transaction=True)
def test_blind_index_rotation_keeps_lookups_working_throughout(rotation_settings, fake_clock: FakeClock) -> None:
    people = _people(250)
    services.key_rotate(purpose="blind_index", operator="keyadmin")
    # Before the walk: rows still carry v1 indexes, and look-ups try both versions.
    assert _versions("id_number_bidx") == {1}
    assert Person.objects.blind_filter(id_number="1101051990" + "0000042X").get().pk == people[42].pk
    newcomer = make_person(id_number="110105194912310011", phone="13700000001")
    assert Person.objects.values_list("id_number_bidx", flat=True).get(pk=newcomer.pk)[:2] == b"\x00\x02"

    _run_worker_until_idle(fake_clock)

    assert _versions("id_number_bidx") == {2} and _versions("phone_bidx") == {2}
    assert _versions("name") == {1}  # field encryption untouched by a blind-index rotation
    assert Person.objects.blind_filter(id_number="1101051990" + "0000042X").get().pk == people[42].pk
    assert Person.objects.blind_filter(phone="13900000042").get().pk == people[42].pk
    assert Person.objects.blind_filter(phone="13700000001").get().pk == newcomer.pk
    assert DataKey.objects.get(purpose="blind_index", version=1).state == KeyState.RETIRED
    assert keys.searchable_blind_index_versions() == [2]


class SimulatedCrash(BaseException):
    """Escapes the worker's `except Exception`, like a killed process: the job stays 'running'."""


@pytest.mark.django_db(transaction=True)
def test_rotation_resumes_after_a_crash_mid_walk(rotation_settings, fake_clock: FakeClock, monkeypatch) -> None:
    _people(500)
    rotation = services.key_rotate(purpose="field_encryption", operator="keyadmin").rotation
    assert rotation is not None
    batches = []

    def crash_after_first_batch(r: KeyRotation) -> None:
        batches.append(r.done_rows)
        if len(batches) == 1:
            raise SimulatedCrash

    monkeypatch.setattr(services, "_after_batch", crash_after_first_batch)
    with pytest.raises(SimulatedCrash):
        Worker(queues=["keys"]).run_once()
    rotation.refresh_from_db()
    assert rotation.state == RotationState.RUNNING and rotation.done_rows == 100
    assert _versions("name") == {1, 2}
    job = Job.objects.get(pk=rotation.last_job_id)
    assert job.status == JobStatus.RUNNING  # its worker "died" holding the lease

    fake_clock.advance(601)  # the lease (600 s) runs out; another worker reclaims the job
    _run_worker_until_idle(fake_clock)

    rotation.refresh_from_db()
    assert rotation.state == RotationState.DONE
    assert rotation.rewritten_rows == 500  # every row exactly once: the first batch was not redone
    assert batches[1] == 200  # the resumed walk went on from row 100
    assert _versions("name") == {2}
    assert len({p.name for p in Person.objects.all()}) == 500


@pytest.mark.django_db(transaction=True)
def test_verify_walk_catches_a_row_written_by_a_stale_process(rotation_settings, fake_clock, monkeypatch) -> None:
    people = _people(150)
    rotation = services.key_rotate(purpose="field_encryption", operator="keyadmin").rotation
    assert rotation is not None
    seen: list[str] = []

    def stale_write(r: KeyRotation) -> None:
        # Just after the rewrite walk passed row 0, a process with a stale keyring writes it under v1.
        if not seen:
            stale = seal("旧进程写入".encode(), table="crypto_testapp_person", column="name", pk=people[0].pk,
                         pad=True, version=1)
            with connection.cursor() as cursor:
                cursor.execute("UPDATE crypto_testapp_person SET name = %s WHERE id = %s",
                               [stale.data, people[0].pk])
        seen.append(r.phase)

    monkeypatch.setattr(services, "_after_batch", stale_write)
    _run_worker_until_idle(fake_clock)
    rotation.refresh_from_db()
    assert rotation.state == RotationState.DONE and "verify" in seen
    assert rotation.rewritten_rows == 151  # 150 in the rewrite walk, the stale one in the verify walk
    assert _versions("name") == {2}
    assert Person.objects.get(pk=people[0].pk).name == "旧进程写入"


@pytest.mark.django_db(transaction=True)
def test_rotation_without_reencryption_leaves_the_old_version_active_and_rows_move_on_save() -> None:
    person = make_person()
    result = services.key_rotate(purpose="field_encryption", operator="keyadmin", reencrypt=False)
    assert result.rotation is None
    keys.keyring().invalidate()
    assert DataKey.objects.get(purpose="field_encryption", version=1).state == KeyState.ACTIVE
    loaded = Person.objects.get(pk=person.pk)
    assert loaded.__dict__["name"].version == 1
    loaded.save()
    assert Person.objects.values_list("name", flat=True).get(pk=person.pk).version == 2
    assert Person.objects.get(pk=person.pk).name == NAME


@pytest.mark.django_db(transaction=True)
def test_second_rotation_while_one_runs_is_refused(settings) -> None:
    services.key_rotate(purpose="field_encryption", operator="keyadmin")
    with pytest.raises(TongbanError) as excinfo:
        services.key_rotate(purpose="field_encryption", operator="keyadmin")
    assert excinfo.value.code == "conflict"
    with pytest.raises(TongbanError):
        services.key_rotate(purpose="nonsense", operator="keyadmin")
    with pytest.raises(RuntimeError, match="outside transaction.atomic"), transaction.atomic():
        services.key_rotate(purpose="blind_index", operator="keyadmin")


@pytest.mark.django_db(transaction=True)
def test_rotation_that_keeps_failing_is_marked_failed_and_can_resume(rotation_settings, fake_clock,
                                                                    monkeypatch) -> None:
    _people(50)
    rotation = services.key_rotate(purpose="field_encryption", operator="keyadmin").rotation
    assert rotation is not None
    real = services._walk_one_batch

    def broken(r: KeyRotation) -> str:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_walk_one_batch", broken)
    for _ in range(12):
        fake_clock.advance(400)
        Worker(queues=["keys"]).run_once()
    rotation.refresh_from_db()
    assert rotation.state == RotationState.FAILED and "disk full" in rotation.last_error
    monkeypatch.setattr(services, "_walk_one_batch", real)
    services.rotation_resume(rotation_id=rotation.id, operator="keyadmin")
    _run_worker_until_idle(fake_clock)
    rotation.refresh_from_db()
    assert rotation.state == RotationState.DONE and _versions("name") == {2}


# -- the command ---------------------------------------------------------------------------------------------


def _staff(username: str, **roles: bool) -> None:
    from django.contrib.auth import get_user_model

    get_user_model().objects.create(username=username, kind="staff", **roles)


@pytest.mark.django_db(transaction=True)
def test_keys_command_rotates_with_progress_for_a_key_admin_only(rotation_settings) -> None:
    _people(120)
    _staff("keyadmin", role_key_admin=True)
    _staff("auditor", role_audit_admin=True)
    out = io.StringIO()
    call_command("keys", "status", stdout=out)
    assert "field_encryption" in out.getvalue() and "v1 current" in out.getvalue()

    for who in ("auditor", "nobody"):
        with pytest.raises(CommandError, match="密钥管理员"):
            call_command("keys", "rotate", "--purpose", "field_encryption", "--operator", who)
    assert DataKey.objects.filter(purpose="field_encryption").count() == 1

    out = io.StringIO()
    call_command("keys", "rotate", "--purpose", "field_encryption", "--operator", "keyadmin", "--wait", "--work",
                 stdout=out)
    text = out.getvalue()
    assert "field_encryption v2 已成为当前版本" in text and "120/120" in text and "已完成" in text
    assert KeyRotation.objects.get().operator == "keyadmin"
    assert DataKey.objects.get(purpose="field_encryption", version=2).created_by == "keyadmin"
    out = io.StringIO()
    call_command("keys", "status", stdout=out)
    assert "v2 current, v1 retired" in out.getvalue()
    # Key material never appears in the output.
    secret = keys.keyring().secret("field_encryption", 2)
    assert secret.hex() not in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_master_key_change_rewraps_every_data_key() -> None:
    from tongban.crypto.errors import DecryptionError as FieldDecryptionError

    person = make_person()
    old = keys.master_key_provider()
    new = keys.LocalMasterKey(bytes(range(100, 132)))
    keys.set_master_key_provider(new)
    keys.keyring().clear()
    try:
        with pytest.raises(FieldDecryptionError):  # the new master key cannot unwrap the old wraps
            _ = Person.objects.get(pk=person.pk).name
        assert services.master_key_rewrap(old=old, operator="keyadmin") == DataKey.objects.count()
        assert set(DataKey.objects.values_list("master_key_id", flat=True)) == {new.key_id}
        keys.keyring().clear()
        assert Person.objects.get(pk=person.pk).name == NAME
        assert services.master_key_rewrap(old=old, operator="keyadmin") == 0  # idempotent
        with pytest.raises(TongbanError):
            services.master_key_rewrap(old=new, operator="keyadmin")
        from tongban.audit.models import AuditEntry

        assert AuditEntry.objects.filter(action="key.rotate", subject_id="master").count() == 2
    finally:
        keys.set_master_key_provider(None)
        keys.keyring().clear()


@pytest.mark.django_db(transaction=True)
def test_duplicate_made_during_a_blind_index_rotation_is_reported_not_blocking(rotation_settings,
                                                                              fake_clock: FakeClock) -> None:
    people = _people(20)
    services.key_rotate(purpose="blind_index", operator="keyadmin")
    # Under the new version the unique index does not see the old row's v1 index: the same ID
    # number gets in. (Services look up with blind_lookup first, which searches both versions.)
    assert Person.objects.blind_filter(id_number=people[3].id_number).count() == 1
    twin = make_person(id_number=people[3].id_number)
    _run_worker_until_idle(fake_clock)
    rotation = KeyRotation.objects.get()
    assert rotation.state == RotationState.DONE
    assert rotation.failed_rows >= 1 and f"crypto_testapp.Person:{people[3].pk}:duplicate" in rotation.last_error
    assert Person.objects.get(pk=twin.pk).id_number == people[3].id_number
    # Every other row moved; the clashing one kept its old indexes until an operator resolves the
    # duplicate (saving the row then re-indexes it).
    stale = [pk for pk, v in Person.objects.values_list("pk", "phone_bidx") if bytes(v)[:2] != b"\x00\x02"]
    assert stale == [people[3].pk]
    Person.objects.get(pk=twin.pk).delete()
    Person.objects.get(pk=people[3].pk).save()
    assert Person.objects.blind_filter(id_number=people[3].id_number).get().pk == people[3].pk
