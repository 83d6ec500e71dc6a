"""Benchmark: encrypted model fields and blind indexes through the Django field machinery, on one core.

    .venv/bin/python bench/crypto_fields.py [--seconds 3] [--cpu 0] [--rows 5000]
                                            [--database-url sqlite:////tmp/tongban-bench-fields.sqlite3]

Measures, per value: EncryptedTextField seal (pre_save: to_python, SM4-GCM under the current key,
table/column/row bound) and open (the attribute descriptor's decrypt); a seal+open pair; the
BlindIndexField computation (normalise + HMAC-SM3); blind_lookup (what a query builds). Then, on
a real database, writing and reading whole citizen-shaped rows (six encrypted fields, two blind
indexes) through the ORM. Uses the test settings' fixed master key; creates and migrates the
database if needed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
from _common import rate  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--rows", type=int, default=5000, help="rows for the ORM write/read figures")
    parser.add_argument("--database-url", default="sqlite:////tmp/tongban-bench-fields.sqlite3")
    args = parser.parse_args()
    try:
        os.sched_setaffinity(0, {args.cpu})
    except (AttributeError, OSError) as exc:
        print(f"cannot pin to core {args.cpu}: {exc}", file=sys.stderr)
        return 2

    os.environ["TONGBAN_DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("TONGBAN_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)

    from tests.crypto_testapp.models import Person
    from tongban.core.ids import new_id
    from tongban.crypto import keys
    from tongban.crypto.fields import blind_lookup

    keys.ensure_keys()
    s = args.seconds
    name_field = Person._meta.get_field("name")
    address_field = Person._meta.get_field("address")
    bidx_field = Person._meta.get_field("id_number_bidx")
    person = Person(name="欧阳娜娜", id_number="11010519491231002X", phone="13912345678",
                    address="北京市东城区景山前街4号院故宫博物院西华门内", birth_date=dt.date(1949, 12, 31))
    sealed_name = name_field.pre_save(person, add=True)
    sealed_address = address_field.pre_save(person, add=True)

    def seal_name() -> object:
        person.__dict__.pop(name_field.cache_attname, None)
        return name_field.pre_save(person, add=True)

    def open_name() -> object:
        person.__dict__["name"] = sealed_name
        return person.name

    def seal_open_address() -> object:
        person.__dict__["address"] = "北京市东城区景山前街4号院故宫博物院西华门内"
        person.__dict__.pop(address_field.cache_attname, None)
        person.__dict__["address"] = address_field.pre_save(person, add=True)
        return person.address

    results: dict[str, float] = {
        "field_seal_name_per_s": rate(seal_name, s),
        "field_open_name_per_s": rate(open_name, s),
        "field_seal+open_address_per_s": rate(seal_open_address, s),
        "blind_index_id_number_per_s": rate(lambda: bidx_field.compute("11010519491231002x"), s),
        "blind_lookup_filter_args_per_s": rate(lambda: blind_lookup(Person, "id_number", "11010519491231002X"), s),
    }
    assert sealed_address is not None

    # Whole rows through the ORM on a real database.
    Person.objects.all().delete()
    people = [Person(id=new_id(), name=f"测试{i}", id_number=f"1101051990{i:07d}X", phone=f"139{i:08d}",
                     address=f"北京市东城区测试路{i}号", birth_date=dt.date(1990, 1, 1), photo=os.urandom(256))
              for i in range(args.rows)]
    start = time.perf_counter()
    for chunk in range(0, len(people), 500):
        Person.objects.bulk_create(people[chunk:chunk + 500])
    results["orm_bulk_create_rows_per_s"] = args.rows / (time.perf_counter() - start)
    start = time.perf_counter()
    total = 0
    for p in Person.objects.all().iterator(chunk_size=1000):
        total += len(p.name) + len(p.id_number) + len(p.phone) + len(p.address) + len(p.photo)
        _ = p.birth_date
    results["orm_load_and_decrypt_rows_per_s"] = args.rows / (time.perf_counter() - start)
    start = time.perf_counter()
    for i in range(0, args.rows, max(1, args.rows // 1000)):
        Person.objects.blind_filter(id_number=f"1101051990{i:07d}x").get()
    lookups = len(range(0, args.rows, max(1, args.rows // 1000)))
    results["orm_blind_lookup_get_per_s"] = lookups / (time.perf_counter() - start)

    # A field-key rotation of those rows: the re-encryption walk (both walks) through the job worker.
    from django.conf import settings

    from tongban.crypto import services
    from tongban.crypto.models import KeyRotation, RotationState
    from tongban.jobs.worker import Worker

    settings.TONGBAN_KEY_ROTATION_DELAY = 0
    rotation = services.key_rotate(purpose="field_encryption", operator="bench").rotation
    assert rotation is not None
    worker = Worker(queues=["keys"])
    start = time.perf_counter()
    while KeyRotation.objects.get(pk=rotation.pk).state != RotationState.DONE:
        worker.run_once()
    results["rotation_reencrypt_rows_per_s"] = args.rows / (time.perf_counter() - start)

    print(f"Database: {connection.vendor} {args.database_url}; pinned to CPU {args.cpu}; "
          f"Python {sys.version.split()[0]}; {os.cpu_count()} cores")
    print(f"Results (median of 3 rounds, {s:g} s per line; ORM lines: {args.rows} rows once):")
    for label, value in results.items():
        print(f"  {label:36} {value:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
