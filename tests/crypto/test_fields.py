"""Encrypted model fields: round trips, associated-data binding, tampering, blind indexes, masks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import checks
from django.db import connection, models, transaction
from django.db.utils import IntegrityError
from django.test.utils import isolate_apps

from tests.crypto_testapp import fixtures as _fixtures
from tests.crypto_testapp.fixtures import (
    ADDRESS,
    BIRTH,
    ID_NUMBER,
    NAME,
    PHONE,
    PHOTO,
    make_person,
)
from tests.crypto_testapp.models import Person, Vehicle
from tongban.core.ids import id_time, new_id
from tongban.crypto import keys
from tongban.crypto.errors import DecryptionError
from tongban.crypto.fields import (
    FORMAT_PADDED,
    FORMAT_RAW,
    EncryptedTextField,
    Sealed,
    blind_index,
    blind_lookup,
    normalize,
)
from tongban.crypto.models import KeyPurpose
from tongban.crypto.sm3 import hmac_sm3

fresh_keyring = _fixtures.fresh_keyring
pytestmark = pytest.mark.django_db


def _raw(model: type[models.Model], pk: int, column: str) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s", [pk])  # noqa: S608
        value = cursor.fetchone()[0]
    return bytes(value) if value is not None else b""


def _set_raw(model: type[models.Model], pk: int, column: str, value: bytes) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {model._meta.db_table} SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608


def test_round_trip_every_field_type() -> None:
    person = make_person()
    loaded = Person.objects.get(pk=person.pk)
    assert loaded.name == NAME
    assert loaded.id_number == ID_NUMBER
    assert loaded.phone == PHONE
    assert loaded.address == ADDRESS
    assert loaded.birth_date == BIRTH
    assert loaded.photo == PHOTO
    assert loaded.level == 1


def test_nulls_stay_null() -> None:
    person = make_person(phone=None, address=None, birth_date=None, photo=None)
    loaded = Person.objects.get(pk=person.pk)
    assert (loaded.phone, loaded.address, loaded.birth_date, loaded.photo, loaded.phone_bidx) == (None,) * 5
    assert _raw(Person, person.pk, "phone") == b""
    assert Person.objects.filter(phone__isnull=True).count() == 1


def test_stored_format_is_header_nonce_ciphertext_tag() -> None:
    person = make_person()
    version = keys.current_version(KeyPurpose.FIELD_ENCRYPTION)
    name = _raw(Person, person.pk, "name")
    assert name[0] == FORMAT_PADDED
    assert int.from_bytes(name[1:3], "big") == version
    # header 3 + nonce 12 + padded plaintext (12 UTF-8 bytes -> 16) + tag 16
    assert len(name) == 3 + 12 + 16 + 16
    photo = _raw(Person, person.pk, "photo")
    assert photo[0] == FORMAT_RAW and len(photo) == 3 + 12 + len(PHOTO) + 16


def test_padding_hides_the_length_of_short_names() -> None:
    short = make_person(name="张三", id_number="110105194912310011")
    long = make_person(name="欧阳娜娜", id_number="110105194912310038")
    assert len(_raw(Person, short.pk, "name")) == len(_raw(Person, long.pk, "name"))


def test_same_value_encrypts_differently_every_time() -> None:
    a = make_person(id_number="110105194912310011")
    b = make_person(id_number="110105194912310038")
    assert _raw(Person, a.pk, "name") != _raw(Person, b.pk, "name")


def test_ciphertext_copied_to_another_row_does_not_decrypt() -> None:
    a = make_person(name="张三", id_number="110105194912310011")
    b = make_person(name="李四", id_number="110105194912310038")
    _set_raw(Person, b.pk, "name", _raw(Person, a.pk, "name"))
    loaded = Person.objects.get(pk=b.pk)
    with pytest.raises(DecryptionError):
        _ = loaded.name
    # The other fields of the row are untouched and still read.
    assert loaded.id_number == "110105194912310038"


def test_ciphertext_copied_to_another_column_does_not_decrypt() -> None:
    person = make_person()
    _set_raw(Person, person.pk, "address", _raw(Person, person.pk, "name"))
    with pytest.raises(DecryptionError):
        _ = Person.objects.get(pk=person.pk).address


def test_ciphertext_copied_between_tables_does_not_decrypt() -> None:
    owner = make_person()
    car = Vehicle(owner=owner, plate="京A12345")
    car.save()
    # Same column name "plate" does not exist on Person; use the id_number slot of a Vehicle-shaped
    # copy: a Vehicle.plate ciphertext put into Person.name (different table and column).
    _set_raw(Person, owner.pk, "name", _raw(Vehicle, car.pk, "plate"))
    with pytest.raises(DecryptionError):
        _ = Person.objects.get(pk=owner.pk).name


def test_sealed_value_assigned_from_another_row_is_refused_on_save() -> None:
    a = make_person(id_number="110105194912310011")
    b = make_person(id_number="110105194912310038")
    stolen = Person.objects.get(pk=a.pk).__dict__["name"]
    assert isinstance(stolen, Sealed)
    target = Person.objects.get(pk=b.pk)
    target.name = stolen
    with pytest.raises(DecryptionError):
        target.save()


@pytest.mark.parametrize("where", ["format", "version", "nonce", "ciphertext", "tag"])
def test_any_tampered_byte_is_detected(where: str) -> None:
    person = make_person()
    data = bytearray(_raw(Person, person.pk, "name"))
    index = {"format": 0, "version": 2, "nonce": 5, "ciphertext": 20, "tag": len(data) - 1}[where]
    data[index] ^= 0x01
    _set_raw(Person, person.pk, "name", bytes(data))
    loaded = Person.objects.get(pk=person.pk)
    with pytest.raises(DecryptionError):
        _ = loaded.name


def test_unknown_key_version_is_a_decryption_error() -> None:
    person = make_person()
    data = bytearray(_raw(Person, person.pk, "name"))
    data[1:3] = (999).to_bytes(2, "big")
    _set_raw(Person, person.pk, "name", bytes(data))
    with pytest.raises(DecryptionError):
        _ = Person.objects.get(pk=person.pk).name


@pytest.mark.django_db(transaction=True)
def test_existing_but_wrong_key_version_is_a_decryption_error() -> None:
    from tongban.crypto.services import key_rotate

    person = make_person()
    key_rotate(purpose="field_encryption", operator="test", reencrypt=False)
    data = bytearray(_raw(Person, person.pk, "name"))
    assert int.from_bytes(data[1:3], "big") == 1
    data[1:3] = (2).to_bytes(2, "big")  # a real key, but not the one that sealed this value
    _set_raw(Person, person.pk, "name", bytes(data))
    with pytest.raises(DecryptionError):
        _ = Person.objects.get(pk=person.pk).name


def test_blind_index_lookup_with_normalisation() -> None:
    person = make_person(id_number="11010519491231002x", phone="139 1234 5678")
    make_person(id_number="110105194912310011", phone="13800000000")
    found = Person.objects.filter(**blind_lookup(Person, "id_number", " 110105-19491231002X "))
    assert [p.pk for p in found] == [person.pk]
    assert Person.objects.blind_filter(phone="+86 139-1234-5678").get().pk == person.pk
    assert Person.objects.blind_filter(id_number_bidx="11010519491231002X").get().pk == person.pk
    assert not Person.objects.blind_filter(id_number="110105194912310038").exists()


def test_blind_index_follows_changes_of_its_source() -> None:
    person = make_person(phone="13912345678")
    person.phone = "13700000000"
    person.save()
    assert not Person.objects.blind_filter(phone="13912345678").exists()
    assert Person.objects.blind_filter(phone="13700000000").get().pk == person.pk
    person.phone = None
    person.save()
    assert Person.objects.get(pk=person.pk).phone_bidx is None


def test_unique_blind_index_refuses_a_second_row_with_the_same_number() -> None:
    make_person(id_number="11010519491231002X")
    with pytest.raises(IntegrityError):
        make_person(id_number="11010519491231002x")


def test_blind_index_is_scoped_per_table_and_column() -> None:
    owner = make_person()
    car = Vehicle(owner=owner, plate="京A12345")
    car.save()
    by_plate = Vehicle.objects.get(pk=car.pk).plate_bidx
    assert by_plate == blind_index("京A·12345", scope="crypto_testapp_vehicle.plate_bidx", normalizer="plate")
    assert by_plate != blind_index("京A12345", scope="other_table.plate_bidx", normalizer="plate")
    # Known construction: version (2) || HMAC-SM3(key, domain | scope | normalised value).
    version, key = keys.blind_index_key()
    expected = hmac_sm3(key, "tongban.bidx.v1\x00crypto_testapp_vehicle.plate_bidx\x00京A12345".encode())
    assert by_plate == version.to_bytes(2, "big") + expected


@pytest.mark.parametrize(("normalizer", "raw", "expected"), [
    ("id_number", " 11010519491231002x ", "11010519491231002X"),
    ("id_number", "１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"),  # full-width digits
    ("id_number", "110105-19491231-002X", "11010519491231002X"),
    ("phone", "+86 139-1234-5678", "13912345678"),
    ("phone", "0086 13912345678", "13912345678"),
    ("phone", "(139) 1234 5678", "13912345678"),
    ("plate", "京a·12345", "京A12345"),
    ("plate", " 粤B 1234学 ", "粤B1234学"),
    ("name", "  阿依古丽•买买提 ", "阿依古丽·买买提"),
    ("email", " Someone@Example.CN ", "someone@example.cn"),
])
def test_normalisers(normalizer: str, raw: str, expected: str) -> None:
    assert normalize(normalizer, raw) == expected


def test_filters_and_bulk_writes_on_ciphertext_are_refused() -> None:
    make_person()
    from django.core.exceptions import FieldError

    with pytest.raises(FieldError):
        list(Person.objects.filter(name=NAME))
    with pytest.raises(FieldError):
        list(Person.objects.filter(name__contains="欧"))
    with pytest.raises(TypeError, match="encrypted per row"), transaction.atomic():
        Person.objects.update(name="x")
    person = Person.objects.get()
    person.name = "y"
    with pytest.raises(TypeError, match="encrypted per row"), transaction.atomic():
        Person.objects.bulk_update([person], ["name"])
    assert Person.objects.get().name == NAME


def test_bulk_create_encrypts_each_row_for_its_own_id() -> None:
    people = [Person(name=f"测试{i}", id_number=f"1101051949123{i:04d}X") for i in range(20)]
    Person.objects.bulk_create(people)
    loaded = {p.pk: p for p in Person.objects.all()}
    assert {loaded[p.pk].name for p in people} == {f"测试{i}" for i in range(20)}
    assert Person.objects.blind_filter(id_number="11010519491230007X").get().name == "测试7"


def test_unchanged_value_is_written_back_unchanged_and_changed_value_is_resealed() -> None:
    person = make_person()
    before = _raw(Person, person.pk, "name")
    loaded = Person.objects.get(pk=person.pk)
    loaded.level = 3
    loaded.save()
    assert _raw(Person, person.pk, "name") == before  # never decrypted, same bytes
    _ = loaded.name
    loaded.save()
    assert _raw(Person, person.pk, "name") == before  # decrypted, unchanged: same bytes
    loaded.name = "张三"
    loaded.save()
    assert _raw(Person, person.pk, "name") != before
    assert Person.objects.get(pk=person.pk).name == "张三"


def test_deferred_field_loads_and_decrypts() -> None:
    person = make_person()
    loaded = Person.objects.only("id").get(pk=person.pk)
    assert loaded.name == NAME


def test_copying_a_row_under_a_new_id_reseals_for_the_new_row() -> None:
    person = make_person()
    copy = Person.objects.get(pk=person.pk)
    copy.pk = new_id()
    copy.id_number = "110105194912310011"
    copy.save(force_insert=True)
    assert Person.objects.get(pk=copy.pk).name == NAME
    assert Person.objects.get(pk=person.pk).name == NAME


def test_repr_str_and_masks_never_show_plaintext() -> None:
    person = Person.objects.get(pk=make_person().pk)
    for text in (repr(person), str(person), repr(person.__dict__["name"])):
        assert NAME not in text and ID_NUMBER not in text
    assert person.masked("id_number") == "110***********002X"
    assert person.masked("phone") == "139****5678"
    assert person.masked("name") == "欧***"
    assert person.masked("photo") == "********"


def test_serialisation_carries_ciphertext_not_plaintext() -> None:
    from django.core import serializers

    person = make_person()
    text = serializers.serialize("json", [Person.objects.get(pk=person.pk)])
    assert NAME not in text and ID_NUMBER not in text and "sealed:" in text


def test_fixture_round_trip_restores_rows_from_ciphertext() -> None:
    from django.core import serializers

    person = make_person()
    text = serializers.serialize("json", [Person.objects.get(pk=person.pk)])
    assert NAME not in text and ID_NUMBER not in text and BIRTH.isoformat() not in text
    Person.objects.filter(pk=person.pk).delete()
    for obj in serializers.deserialize("json", text):
        obj.save()
    restored = Person.objects.get(pk=person.pk)
    assert (restored.name, restored.id_number, restored.phone) == (NAME, ID_NUMBER, PHONE)
    assert (restored.birth_date, restored.photo) == (BIRTH, PHOTO)
    assert Person.objects.blind_filter(id_number=ID_NUMBER).get().pk == person.pk


def test_values_queries_return_sealed_objects() -> None:
    person = make_person()
    value = Person.objects.values_list("name", flat=True).get(pk=person.pk)
    assert isinstance(value, Sealed)
    assert NAME not in repr(value)


@isolate_apps("tests.crypto_testapp")
def test_system_check_refuses_encrypted_fields_on_an_auto_id_model() -> None:
    class AutoIdModel(models.Model):
        secret = EncryptedTextField()

        class Meta:
            app_label = "crypto_testapp"

        def __str__(self) -> str:
            return "auto"

    errors = AutoIdModel._meta.get_field("secret").check()
    assert [e.id for e in errors if isinstance(e, checks.Error)] == ["tongban.crypto.E001"]


def test_encrypted_field_cannot_be_declared_unique() -> None:
    with pytest.raises(ValueError, match="BlindIndexField"):
        EncryptedTextField(unique=True)


def test_ids_are_positive_increasing_unique_and_time_ordered() -> None:
    ids = [new_id() for _ in range(50_000)]
    assert all(0 < i < 2**63 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert abs((id_time(ids[-1]) - dt.datetime.now(dt.UTC)).total_seconds()) < 5


def test_admin_listing_an_encrypted_field_fails_the_system_check() -> None:
    from django.contrib import admin

    from tongban.crypto.models import admin_plaintext_errors

    site = admin.AdminSite(name="probe")

    class LeakyAdmin(admin.ModelAdmin):
        list_display = ("id", "name")
        search_fields = ("=id_number",)

    site.register(Person, LeakyAdmin)
    site.register(Vehicle, admin.ModelAdmin)
    errors = admin_plaintext_errors(site)
    assert sorted((e.id, e.msg.split("使用了加密字段 ")[1].split("（")[0]) for e in errors) == [
        ("tongban.crypto.E003", "id_number"), ("tongban.crypto.E003", "name")]
    assert admin_plaintext_errors(admin.site) == []
