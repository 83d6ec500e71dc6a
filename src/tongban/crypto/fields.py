"""Model fields that keep personal data SM4-GCM encrypted, and HMAC-SM3 blind indexes to find it.

    class Citizen(EncryptedModel):                        # id assigned in Python before INSERT
        name = EncryptedTextField("姓名", mask="name")
        id_number = EncryptedTextField("公民身份号码", mask="id_number")
        id_number_bidx = BlindIndexField(source="id_number", normalizer="id_number", unique=True)

    Citizen.objects.filter(**blind_lookup(Citizen, "id_number", "11010519900101123x"))

Stored value (a binary column), all integers big-endian:

    format (1) | key version (2) | nonce (12) | ciphertext | tag (16)

format 0x01 is the plaintext as is; 0x02 is the plaintext padded (0x80, then zeros) to a multiple
of 16 bytes, so that a two-character name and a four-character one look alike. The associated
data binds the table, the column and the row's primary key, plus the first three bytes: a value
copied into another row or column, or given another version number, does not decrypt.

A blind index is `version (2) | HMAC-SM3(key_v, "tongban.bidx.v1" | scope | normalised value)`
where scope defaults to "<table>.<index column>", so equal values in two tables do not look equal.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import struct
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.core import checks
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import signals
from django.db.models.fields import AutoFieldMixin
from django.db.models.lookups import IsNull
from django.db.models.query_utils import DeferredAttribute
from django.utils.translation import gettext_lazy as _

from tongban.core import masking
from tongban.core.ids import new_id
from tongban.crypto import keys
from tongban.crypto.errors import DecryptionError
from tongban.crypto.models import KeyPurpose
from tongban.crypto.sm4 import NONCE_SIZE, TAG_SIZE

FORMAT_RAW = 0x01
FORMAT_PADDED = 0x02
_HEADER = struct.Struct(">BH")
HEADER_SIZE = _HEADER.size
MIN_SEALED_SIZE = HEADER_SIZE + NONCE_SIZE + TAG_SIZE
PAD_BLOCK = 16
BIDX_VERSION_SIZE = 2
BIDX_SIZE = BIDX_VERSION_SIZE + 32
_SERIAL_PREFIX = "sealed:"

__all__ = [
    "BlindIndexField",
    "EncryptedBinaryField",
    "EncryptedDateField",
    "EncryptedModel",
    "EncryptedTextField",
    "NORMALIZERS",
    "Sealed",
    "blind_index",
    "blind_lookup",
    "encrypted_fields",
    "encrypted_models",
    "masked",
    "normalize",
]


# -- the stored value ------------------------------------------------------------------------------------


class Sealed:
    """A value as stored: ciphertext only. Shows its version and length, never its content."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        # Not checked here: a damaged value must not stop the rest of its row from loading; it
        # fails when someone tries to decrypt it.
        self.data = bytes(data)

    @property
    def well_formed(self) -> bool:
        return len(self.data) >= MIN_SEALED_SIZE and self.data[0] in (FORMAT_RAW, FORMAT_PADDED)

    @property
    def format(self) -> int:
        return self.data[0] if self.data else 0

    @property
    def version(self) -> int:
        return _HEADER.unpack_from(self.data)[1] if len(self.data) >= HEADER_SIZE else 0

    def __repr__(self) -> str:
        return f"<Sealed v{self.version} {len(self.data)} bytes>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sealed) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)


def _aad(table: str, column: str, pk: Any, header: bytes) -> bytes:
    return b"tongban.field.v1\x00" + f"{table}\x00{column}\x00{pk}\x00".encode() + header


def _pad(data: bytes) -> bytes:
    data += b"\x80"
    return data + b"\x00" * (-len(data) % PAD_BLOCK)


def _unpad(data: bytes) -> bytes:
    end = data.rfind(b"\x80")
    if end < 0 or data[end + 1:].strip(b"\x00"):
        raise DecryptionError("bad padding")
    return data[:end]


def seal(plaintext: bytes, *, table: str, column: str, pk: Any, pad: bool, version: int | None = None) -> Sealed:
    """Encrypt one field value for (table, column, pk) under the current (or a given) key version."""
    version, cipher = keys.field_cipher(version)
    fmt = FORMAT_PADDED if pad else FORMAT_RAW
    header = _HEADER.pack(fmt, version)
    body = cipher.encrypt(_pad(plaintext) if pad else plaintext, _aad(table, column, pk, header))
    return Sealed(header + body)


def unseal(sealed: Sealed, *, table: str, column: str, pk: Any) -> bytes:
    """Decrypt a value sealed for exactly (table, column, pk); DecryptionError otherwise."""
    if not sealed.well_formed:
        raise DecryptionError("not an encrypted field value")
    data = sealed.data
    header = data[:HEADER_SIZE]
    try:
        _version, cipher = keys.field_cipher(sealed.version)
    except keys.KeyUnavailableError:
        raise DecryptionError("field key version unavailable") from None
    plaintext = cipher.decrypt(data[HEADER_SIZE:], _aad(table, column, pk, header))
    return _unpad(plaintext) if sealed.format == FORMAT_PADDED else plaintext


# -- normalisers for blind indexes ------------------------------------------------------------------------


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def _norm_id_number(value: str) -> str:
    return re.sub(r"[\s\-]", "", _nfkc(value)).upper()


def _norm_phone(value: str) -> str:
    digits = re.sub(r"\D", "", _nfkc(value))
    if len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def _norm_plate(value: str) -> str:
    return re.sub(r"[\s\-·•・.]", "", _nfkc(value)).upper()


def _norm_name(value: str) -> str:
    value = re.sub(r"\s+", " ", _nfkc(value).strip())
    return re.sub(r"[•・.]", "·", value)  # the middle dot of minority and foreign names, in its one form


def _norm_email(value: str) -> str:
    return _nfkc(value).strip().lower()


def _norm_text(value: str) -> str:
    return _nfkc(value).strip()


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "id_number": _norm_id_number,
    "phone": _norm_phone,
    "plate": _norm_plate,
    "name": _norm_name,
    "email": _norm_email,
    "text": _norm_text,
    "exact": lambda value: value,
}


def normalize(normalizer: str, value: str) -> str:
    return NORMALIZERS[normalizer](value)


def blind_index(value: str, *, scope: str, normalizer: str = "text", version: int | None = None) -> bytes:
    """version (2) || HMAC-SM3(blind-index key, domain | scope | normalised value)."""
    message = b"tongban.bidx.v1\x00" + scope.encode() + b"\x00" + normalize(normalizer, value).encode()
    version, mac = keys.blind_index_mac(message, version)
    return version.to_bytes(BIDX_VERSION_SIZE, "big") + mac


# -- masks -------------------------------------------------------------------------------------------------

MASKS: dict[str, Callable[[str], str]] = {
    "id_number": masking.mask_id_number,
    "phone": masking.mask_phone,
    "name": masking.mask_name,
    "permit": masking.mask_permit,
    "address": lambda value: (value[:6] + "****") if len(value) > 6 else "****",
    "all": lambda value: "*" * min(len(value), 8),
}


# -- fields ------------------------------------------------------------------------------------------------


class _EncryptedAttribute(DeferredAttribute):
    """Decrypts on first access and keeps the plaintext on the instance (microseconds per value)."""

    field: EncryptedField

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        raw_saving = instance.__dict__.get("_tongban_raw_saving")
        if raw_saving is not None:
            return raw_saving[self.field.attname]  # a raw save (loaddata) writes the sealed form
        value = super().__get__(instance, cls)
        if isinstance(value, Sealed):
            field = self.field
            plain = field.from_plaintext_bytes(
                unseal(value, table=field.aad_table, column=field.aad_column, pk=_loaded_pk(instance)))
            data = instance.__dict__
            data[field.attname] = plain
            # Remember what was loaded: saving an unchanged value writes the same bytes back.
            data[field.cache_attname] = (value, plain)
            return plain
        return value

    # A data descriptor (unlike Django's DeferredAttribute), so that reads come through __get__
    # even when the instance's __dict__ holds the value.
    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


def _loaded_pk(instance: Any) -> Any:
    # The pk the row had when read: values were sealed for it, even if someone changed .pk since.
    return instance.__dict__.get("_tongban_loaded_pk", instance.pk)


class EncryptedField(models.Field):  # type: ignore[type-arg]
    """Base of the encrypted fields: a binary column; plaintext in Python, ciphertext in the database."""

    descriptor_class = _EncryptedAttribute
    pad = False
    empty_strings_allowed = False

    def __init__(self, *args: Any, mask: str | None = None, **kwargs: Any) -> None:
        if mask is not None and mask not in MASKS:
            raise ValueError(f"unknown mask {mask!r}; choose one of {', '.join(MASKS)}")
        self.mask = mask
        if kwargs.get("unique") or kwargs.get("db_index") or kwargs.get("primary_key"):
            raise ValueError("an encrypted field cannot be unique or indexed: add a BlindIndexField for that")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.mask is not None:
            kwargs["mask"] = self.mask
        return name, path, args, kwargs

    def get_internal_type(self) -> str:
        return "BinaryField"

    @property
    def cache_attname(self) -> str:
        return f"_tongban_sealed_{self.attname}"

    @property
    def aad_table(self) -> str:
        return self.model._meta.db_table

    @property
    def aad_column(self) -> str:
        return self.column or self.attname

    # Only IS NULL makes sense on ciphertext; equality goes through a BlindIndexField.
    def get_lookup(self, lookup_name: str) -> Any:
        return IsNull if lookup_name == "isnull" else None

    def get_transform(self, lookup_name: str) -> Any:
        return None

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors = super().check(**kwargs)
        pk = self.model._meta.pk
        if not self.model._meta.abstract and pk is not None and isinstance(pk, AutoFieldMixin):
            errors.append(checks.Error(
                "加密字段要求主键在写入前由程序分配（继承 EncryptedModel 或使用 UUID 主键），不能用自增主键。",
                hint="The row id is bound into each value's associated data, so it must exist before INSERT.",
                obj=self, id="tongban.crypto.E001"))
        return errors

    # -- Python value <-> plaintext bytes (per subclass) --
    def to_plaintext_bytes(self, value: Any) -> bytes:
        raise NotImplementedError

    def from_plaintext_bytes(self, data: bytes) -> Any:
        raise NotImplementedError

    # -- database --
    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sealed | None:
        return None if value is None else Sealed(bytes(value))

    def pre_save(self, model_instance: Any, add: bool) -> Sealed | None:
        data = model_instance.__dict__
        value = data.get(self.attname)
        pk = model_instance.pk
        if pk is None:
            raise ValueError(f"{type(model_instance).__name__}.{self.name}: the primary key must be set before "
                             "saving encrypted fields (use EncryptedModel)")
        if value is None:
            return None
        same_row = _loaded_pk(model_instance) == pk
        current = keys.current_version(KeyPurpose.FIELD_ENCRYPTION)
        if isinstance(value, Sealed):
            loaded = data.get("_tongban_loaded_sealed", {}).get(self.attname)
            if same_row and value is loaded and value.version == current and self._format_ok(value):
                return value  # exactly what was read from this row: write it back untouched
            value = getattr(model_instance, self.attname)  # decrypts, so a foreign value fails here
        if value is None:
            return None
        cached = data.get(self.cache_attname)
        if (same_row and cached is not None and cached[0].version == current and self._format_ok(cached[0])
                and type(cached[1]) is type(value) and cached[1] == value):
            return cached[0]  # type: ignore[no-any-return]
        return seal(self.to_plaintext_bytes(self.to_python(value)), table=self.aad_table, column=self.aad_column,
                    pk=pk, pad=self.pad, version=current)

    def _format_ok(self, sealed: Sealed) -> bool:
        return sealed.format == (FORMAT_PADDED if self.pad else FORMAT_RAW)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if value is None:
            return None
        if isinstance(value, Sealed):
            return connection.Database.Binary(value.data)
        raise TypeError(
            f"{self.model.__name__}.{self.name} is encrypted per row: set it on the instance and call save() "
            "or bulk_create(); QuerySet.update(), bulk_update() and filters cannot encrypt or compare it "
            "(look rows up through a BlindIndexField)."
        )

    def get_placeholder(self, value: Any, compiler: Any, connection: Any) -> Any:
        return connection.ops.binary_placeholder_sql(value)

    def get_default(self) -> Any:
        return super().get_default() if self.has_default() else None

    # -- serialisation: ciphertext, never plaintext (dumpdata, fixtures) --
    def value_to_string(self, obj: Any) -> str:
        value = obj.__dict__.get(self.attname)
        if value is None:
            return ""
        if not isinstance(value, Sealed):
            value = self.pre_save(obj, add=False)
            if value is None:
                return ""
        return _SERIAL_PREFIX + base64.b64encode(value.data).decode("ascii")

    def value_from_object(self, obj: Any) -> Any:
        return getattr(obj, self.attname)


class EncryptedTextField(EncryptedField):
    """A str (a name, an ID number, a phone number, an address), padded to hide its length."""

    description = "Text, SM4-GCM encrypted"
    pad = True

    def __init__(self, *args: Any, max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, max_length=max_length, **kwargs)
        if max_length is not None:
            from django.core.validators import MaxLengthValidator

            self.validators.append(MaxLengthValidator(max_length))

    def db_type(self, connection: Any) -> str | None:
        # Binary whatever max_length says (max_length only validates the plaintext).
        return connection.data_types["BinaryField"]  # type: ignore[no-any-return]

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, Sealed):
            return value
        if isinstance(value, str) and value.startswith(_SERIAL_PREFIX):
            try:
                sealed = Sealed(base64.b64decode(value[len(_SERIAL_PREFIX):], validate=True))
            except binascii.Error:
                sealed = None
            if sealed is not None and sealed.well_formed:
                return sealed
        return str(value)

    def to_plaintext_bytes(self, value: Any) -> bytes:
        return str(value).encode("utf-8")

    def from_plaintext_bytes(self, data: bytes) -> str:
        return data.decode("utf-8")

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"form_class": forms.CharField, "max_length": self.max_length, **kwargs})


class EncryptedBinaryField(EncryptedField):
    """bytes (a photo, a scanned document). Not padded: photo sizes say little and padding costs."""

    description = "Binary data, SM4-GCM encrypted"

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, Sealed | bytes):
            return value
        if isinstance(value, bytearray | memoryview):
            return bytes(value)
        if isinstance(value, str) and value.startswith(_SERIAL_PREFIX):
            return Sealed(base64.b64decode(value[len(_SERIAL_PREFIX):], validate=True))
        raise ValidationError(_("需要二进制数据。"), code="invalid")

    def to_plaintext_bytes(self, value: Any) -> bytes:
        return bytes(value)

    def from_plaintext_bytes(self, data: bytes) -> bytes:
        return data

    def formfield(self, **kwargs: Any) -> Any:
        return None  # uploads go through the app's own form (size and type checks)


class EncryptedDateField(EncryptedField):
    """A date (a birth date) as ISO 8601 text, encrypted; padded like text."""

    description = "Date, SM4-GCM encrypted"
    pad = True

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, Sealed):
            return value
        if isinstance(value, dt.datetime):
            raise ValidationError(_("需要日期，而不是日期时间。"), code="invalid")
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            if value.startswith(_SERIAL_PREFIX):
                return Sealed(base64.b64decode(value[len(_SERIAL_PREFIX):], validate=True))
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ValidationError(_("日期格式应为 YYYY-MM-DD。"), code="invalid") from None
        raise ValidationError(_("日期不正确。"), code="invalid")

    def to_plaintext_bytes(self, value: Any) -> bytes:
        return value.isoformat().encode("ascii")  # type: ignore[no-any-return]

    def from_plaintext_bytes(self, data: bytes) -> dt.date:
        return dt.date.fromisoformat(data.decode("ascii"))

    def value_from_object(self, obj: Any) -> Any:
        # A str, not a date: Django's serializers copy dates as they are ("protected types") but
        # pass strings through value_to_string, which writes the ciphertext.
        value = getattr(obj, self.attname)
        return value.isoformat() if isinstance(value, dt.date) else value

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"form_class": forms.DateField, **kwargs})


class BlindIndexField(models.BinaryField):
    """An HMAC-SM3 blind index of another (encrypted) field, kept up to date on every save.

    Indexed by default; pass unique=True where the value identifies the row (an account's ID
    number). Equality look-ups go through `blind_lookup`, which also tries the versions a running
    blind-index key rotation has not finished with.
    """

    description = "HMAC-SM3 blind index"

    def __init__(self, *args: Any, source: str, normalizer: str = "text", scope: str | None = None,
                 **kwargs: Any) -> None:
        if normalizer not in NORMALIZERS:
            raise ValueError(f"unknown normalizer {normalizer!r}; choose one of {', '.join(NORMALIZERS)}")
        self.source = source
        self.normalizer = normalizer
        self.scope = scope
        kwargs.setdefault("max_length", BIDX_SIZE)
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        if not kwargs.get("unique"):
            kwargs.setdefault("db_index", True)
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["source"] = self.source
        kwargs["normalizer"] = self.normalizer
        if self.scope is not None:
            kwargs["scope"] = self.scope
        for key, default in (("max_length", BIDX_SIZE), ("null", True), ("blank", True)):
            if kwargs.get(key) == default:
                del kwargs[key]
        if kwargs.get("db_index") and not kwargs.get("unique"):
            del kwargs["db_index"]
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors = super().check(**kwargs)
        try:
            source = self.model._meta.get_field(self.source)
        except Exception:
            source = None
        if source is None or not isinstance(source, EncryptedTextField | EncryptedDateField):
            errors.append(checks.Error(f"BlindIndexField source {self.source!r} is not an encrypted text or date "
                                       "field of this model", obj=self, id="tongban.crypto.E002"))
        return errors

    @property
    def index_scope(self) -> str:
        return self.scope or f"{self.model._meta.db_table}.{self.column}"

    def compute(self, value: Any, version: int | None = None) -> bytes | None:
        if value is None:
            return None
        return blind_index(str(value), scope=self.index_scope, normalizer=self.normalizer, version=version)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> bytes | None:
        return None if value is None else bytes(value)

    def pre_save(self, model_instance: Any, add: bool) -> bytes | None:
        data = model_instance.__dict__
        source_field = model_instance._meta.get_field(self.source)
        stored = data.get(self.attname)
        raw_source = data.get(source_field.attname)
        if raw_source is None and source_field.attname in data:
            data[self.attname] = None
            return None
        current = keys.current_version(KeyPurpose.BLIND_INDEX)
        if (isinstance(raw_source, Sealed) and isinstance(stored, bytes | memoryview) and stored
                and int.from_bytes(bytes(stored)[:BIDX_VERSION_SIZE], "big") == current
                and _loaded_pk(model_instance) == model_instance.pk):
            return bytes(stored)  # source untouched since loading and the index is current
        value = self.compute(getattr(model_instance, self.source), version=current)
        setattr(model_instance, self.attname, value)
        return value


# -- the base model, look-ups, masks ------------------------------------------------------------------------


class EncryptedQuerySet(models.QuerySet):  # type: ignore[type-arg]
    def blind_filter(self, **values: str) -> EncryptedQuerySet:
        """`Citizen.objects.blind_filter(id_number="110…")`: equality through the blind index."""
        qs = self
        for name, value in values.items():
            qs = qs.filter(**blind_lookup(self.model, name, value))
        return qs


class EncryptedModel(models.Model):
    """Base for models holding personal data: a time-ordered 64-bit id assigned before INSERT.

    `str()` and `repr()` show the class and the id only, never a field value.
    """

    id = models.BigIntegerField(primary_key=True, default=new_id, editable=False)

    objects = EncryptedQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.pk}>"

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        instance = super().from_db(*args, **kwargs)
        data = instance.__dict__
        data["_tongban_loaded_pk"] = instance.pk
        # Which ciphertexts came from this very row (only those may be written back unopened).
        data["_tongban_loaded_sealed"] = {
            f.attname: data[f.attname] for f in cls._encrypted_fields() if isinstance(data.get(f.attname), Sealed)}
        return instance

    @classmethod
    def _encrypted_fields(cls) -> list[EncryptedField]:
        found = cls.__dict__.get("_tongban_encrypted_fields")
        if found is None:
            found = [f for f in cls._meta.concrete_fields if isinstance(f, EncryptedField)]
            cls._tongban_encrypted_fields = found  # type: ignore[attr-defined]
        return found  # type: ignore[no-any-return]

    def masked(self, field_name: str) -> str:
        return masked(self, field_name)


def _raw_save_starts(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    # Django's raw save (loaddata) reads attributes instead of calling pre_save: hand it the values
    # sealed for this row (a fixture's "sealed:" value is checked by opening it first).
    if raw and isinstance(instance, EncryptedModel):
        instance.__dict__["_tongban_raw_saving"] = {
            f.attname: f.pre_save(instance, add=False) for f in instance._encrypted_fields()}


def _raw_save_ends(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        instance.__dict__.pop("_tongban_raw_saving", None)


signals.pre_save.connect(_raw_save_starts, dispatch_uid="tongban.crypto.fields.raw_save_starts")
signals.post_save.connect(_raw_save_ends, dispatch_uid="tongban.crypto.fields.raw_save_ends")


def masked(instance: Any, field_name: str) -> str:
    """The field's value masked for a page or a log line (`110***********1234`), using its `mask`."""
    field = instance._meta.get_field(field_name)
    value = getattr(instance, field_name)
    if value is None:
        return ""
    mask = MASKS[getattr(field, "mask", None) or "all"]
    return mask(value.isoformat() if isinstance(value, dt.date) else str(value))


def _blind_field(model: Any, name: str) -> BlindIndexField:
    field = model._meta.get_field(name)
    if isinstance(field, BlindIndexField):
        return field
    for candidate in model._meta.concrete_fields:
        if isinstance(candidate, BlindIndexField) and candidate.source == name:
            return candidate
    raise ValueError(f"{model.__name__}.{name} has no blind index")


def blind_lookup(model: Any, name: str, value: str) -> dict[str, Any]:
    """Filter arguments finding rows whose field `name` (or whose index `name`) equals `value`.

    `name` is the encrypted field or its BlindIndexField. While a blind-index rotation runs, rows
    may carry either version, so the filter tries each version still in use.
    """
    field = _blind_field(model, name)
    digests = [field.compute(value, version=v) for v in keys.searchable_blind_index_versions()]
    if len(digests) == 1:
        return {field.name: digests[0]}
    return {f"{field.name}__in": digests}


def encrypted_fields(model: Any) -> list[EncryptedField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedField) and f.model is model]


def blind_index_fields(model: Any) -> list[BlindIndexField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, BlindIndexField) and f.model is model]


def encrypted_models(models_: Iterable[Any] | None = None) -> list[Any]:
    """Every concrete model of the platform database holding encrypted fields or blind indexes,
    ordered by label (the rotation walks them in this order)."""
    from django.apps import apps
    from django.db import router

    found = []
    for model in models_ if models_ is not None else apps.get_models():
        opts = model._meta
        if opts.abstract or opts.proxy or not opts.managed:
            continue
        if router.db_for_write(model) not in (None, "default"):
            continue
        if encrypted_fields(model) or blind_index_fields(model):
            found.append(model)
    return sorted(found, key=lambda m: m._meta.label)
