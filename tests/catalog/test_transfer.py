"""Import and export of implementation lists: round trip, drafts for review, a bad file rejected whole."""

from __future__ import annotations

import json

import pytest
import tablib

from tests.catalog.factories import editor, reviewer
from tongban.audit.models import AuditEntry
from tongban.audit.services import Actor
from tongban.catalog.loading import catalog_load
from tongban.catalog.models import Implementation, ImplementationVersion, VersionStatus
from tongban.catalog.services import version_publish, version_submit
from tongban.catalog.transfer import ImportRejected, implementations_export, implementations_import

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded():
    catalog_load()


def _hangzhou_hukou(fmt: str) -> bytes:
    return implementations_export(fmt=fmt, actor=Actor.system("test"),
                                  queryset=Implementation.objects.filter(department="hukou", region_code="330106"))


def test_export_then_import_unchanged_is_a_no_op(loaded):
    ed = editor()
    for fmt in ("json", "csv"):
        result = implementations_import(actor=ed, raw=_hangzhou_hukou(fmt), fmt=fmt)
        assert result.created == result.drafted == 0 and result.unchanged > 10, fmt
    assert not ImplementationVersion.objects.filter(status=VersionStatus.DRAFT).exists()


def test_a_csv_change_becomes_a_draft_a_reviewer_publishes(loaded):
    ed, rv = editor(), reviewer()
    data = tablib.Dataset().load(_hangzhou_hukou("csv").decode("utf-8-sig"), format="csv")
    row = next(i for i, r in enumerate(data.dict) if r["name"] == "户籍证明")
    code = data.dict[row]["code"]
    edited = tablib.Dataset(headers=data.headers)
    for i, r in enumerate(data.dict):
        values = dict(r)
        if i == row:
            values["enquiry_phone"] = "0571-87280000"
        edited.append([values[h] for h in data.headers])
    result = implementations_import(actor=ed, raw=edited.export("csv").encode("utf-8"), fmt="csv")
    assert (result.created, result.drafted) == (0, 1)
    draft = ImplementationVersion.objects.get(implementation__code=code, status=VersionStatus.DRAFT)
    assert draft.enquiry_phone == "0571-87280000" and draft.created_by == ed
    version_submit(actor=ed, version=draft)
    assert version_publish(actor=rv, version=draft).number == 2


def test_a_bad_file_imports_nothing_and_names_each_row_and_field(loaded):
    ed = editor()
    doc = json.loads(_hangzhou_hukou("json"))
    rows = doc["implementations"]
    rows[0]["promised_limit_days"] = rows[0]["statutory_limit_days"] + 1
    rows[2]["charged"] = True
    rows[2]["fee_basis"] = ""
    rows[3]["online_depth"] = 4
    rows[3]["visits"] = 2
    rows[3]["visits_reason"] = "采集指纹"
    rows[1]["keywords"] = ["改过的关键词"]  # a good change in the same file is not imported either
    rows.append({"code": "330106-NOPE", "basic_code": "NOPE", "organisation": "330106-hukou", "region_code": "330106"})
    entries = AuditEntry.objects.count()
    with pytest.raises(ImportRejected) as caught:
        implementations_import(actor=ed, raw=json.dumps(doc, ensure_ascii=False).encode(), fmt="json")
    found = {(p.row, p.field) for p in caught.value.problems}
    assert (1, "promised_limit_days") in found
    assert (3, "fee_basis") in found
    assert (4, "visits") in found
    assert (len(rows), "basic_code") in found
    assert all(p.message for p in caught.value.problems)
    assert not ImplementationVersion.objects.filter(status=VersionStatus.DRAFT).exists()
    rejected = AuditEntry.objects.filter(action="catalog.import.rejected")
    assert AuditEntry.objects.count() == entries + 1 and rejected.count() == 1


def test_rows_outside_the_editors_scope_are_refused(loaded):
    traffic_editor = editor("ed-traffic", department="traffic")
    with pytest.raises(ImportRejected) as caught:
        implementations_import(actor=traffic_editor, raw=_hangzhou_hukou("json"), fmt="json")
    assert {p.field for p in caught.value.problems} == {"code"}


@pytest.mark.parametrize(("raw", "fmt"), [(b"\xff\xfe", "csv"), (b"{", "json"), (b"name\n1\n", "csv"),
                                          (b"[]", "json"), (b"x", "xlsx")])
def test_unreadable_files_get_one_clear_problem(loaded, raw, fmt):
    with pytest.raises(ImportRejected) as caught:
        implementations_import(actor=editor(), raw=raw, fmt=fmt)
    assert caught.value.problems[0].row == 0 and caught.value.problems[0].message
