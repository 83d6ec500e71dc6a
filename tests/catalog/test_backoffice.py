"""The catalog in the staff site: an editor changes an item, a reviewer publishes it as a new version."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.accounts.factories import login_verified, make_officer
from tests.catalog.factories import editor, reviewer
from tongban.catalog.loading import catalog_load
from tongban.catalog.models import Implementation, ImplementationVersion, VersionStatus
from tongban.catalog.selectors import published_version_by_code

pytestmark = pytest.mark.django_db

CODE = "330106-GAHZ010"  # 户籍证明, 杭州市西湖区


@pytest.fixture
def loaded():
    catalog_load()


def _client(user) -> Client:
    client = Client()
    login_verified(client, user)
    return client


def _form_data(version: ImplementationVersion, **changes) -> dict:
    from tongban.catalog.forms import JSONTextField, LinesField, VersionForm

    data: dict = {}
    form = VersionForm()
    for name, field in form.fields.items():
        value = changes.get(name, getattr(version, name, None))
        if name == "fill_traditional":
            continue
        if isinstance(field, LinesField):
            data[name] = "\n".join(value)
        elif isinstance(field, JSONTextField):
            data[name] = json.dumps(value, ensure_ascii=False) if value else ""
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data[name] = value
        else:
            data[name] = "" if value is None else value
    return data


def test_editor_changes_an_item_and_a_reviewer_publishes_it(loaded):
    ed, rv = editor(), reviewer()
    ec, rc = _client(ed), _client(rv)
    assert CODE in ec.get("/backoffice/catalog/?q=户籍证明").content.decode()
    response = ec.post(f"/backoffice/catalog/items/{CODE}/new/")
    draft = ImplementationVersion.objects.get(implementation__code=CODE, status=VersionStatus.DRAFT)
    assert response.status_code == 302 and response["Location"].endswith(f"/v{draft.number}/edit/")
    page = ec.get(f"/backoffice/catalog/items/{CODE}/v{draft.number}/edit/")
    assert page.status_code == 200 and "保存草稿" in page.content.decode()
    data = _form_data(draft, enquiry_phone="0571-87280000", keywords=["开证明", "户口证明", "开户籍证明"])
    response = ec.post(f"/backoffice/catalog/items/{CODE}/v{draft.number}/edit/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ec.post(f"/backoffice/catalog/items/{CODE}/v{draft.number}/submit/").status_code == 302
    # The reviewer sees it waiting, with the field-by-field diff.
    assert f"第 {draft.number} 版" in rc.get("/backoffice/catalog/").content.decode()
    page = rc.get(f"/backoffice/catalog/items/{CODE}/v{draft.number}/").content.decode()
    assert 'data-field="enquiry_phone"' in page and "0571-87280000" in page and 'data-field="keywords"' in page
    assert 'data-field="name"' not in page
    assert "审核通过并发布" in page
    rc.post(f"/backoffice/catalog/items/{CODE}/v{draft.number}/publish/", {"note": "同意"})
    published = published_version_by_code(CODE)
    assert published.number == draft.number == 2 and published.reviewed_by == rv
    assert published.enquiry_phone == "0571-87280000"


def test_the_edit_form_shows_each_rule_next_to_its_field(loaded):
    ed = editor()
    ec = _client(ed)
    ec.post(f"/backoffice/catalog/items/{CODE}/new/")
    draft = ImplementationVersion.objects.get(implementation__code=CODE, status=VersionStatus.DRAFT)
    data = _form_data(draft, immediate=False, case_type="promised", statutory_limit_days=3,
                      promised_limit_days=5, charged=True, fee_basis="")
    response = ec.post(f"/backoffice/catalog/items/{CODE}/v{draft.number}/edit/", data)
    html = response.content.decode()
    assert response.status_code == 422
    assert "<title>错误：" in html and 'class="error-summary"' in html
    assert 'id="id_promised_limit_days_error"' in html and "不得超过法定办结时限" in html
    assert 'id="id_fee_basis_error"' in html and 'aria-invalid="true"' in html
    draft.refresh_from_db()
    assert draft.promised_limit_days == 0  # nothing saved


def test_four_eyes_and_scope_in_the_staff_site(loaded):
    ed, rv = editor(), reviewer()
    ec = _client(ed)
    ec.post(f"/backoffice/catalog/items/{CODE}/new/")
    draft = ImplementationVersion.objects.get(implementation__code=CODE, status=VersionStatus.DRAFT)
    ec.post(f"/backoffice/catalog/items/{CODE}/v{draft.number}/submit/")
    # The editor cannot publish (no reviewer role): not found.
    assert ec.post(f"/backoffice/catalog/items/{CODE}/v{draft.number}/publish/").status_code == 404
    # An officer, or an editor of another department, finds no catalog at all.
    assert _client(make_officer("o1")).get("/backoffice/catalog/").status_code == 404
    traffic = _client(editor("ed-traffic", department="traffic"))
    assert traffic.get(f"/backoffice/catalog/items/{CODE}/").status_code == 404
    # A Guangdong reviewer of 户政 cannot see a Hangzhou item.
    assert _client(reviewer("rv-gd", region_code="440100")).get(f"/backoffice/catalog/items/{CODE}/").status_code == 404
    assert published_version_by_code(CODE).number == 1
    assert _client(rv).post(f"/backoffice/catalog/items/{CODE}/v1/retire/").status_code == 302
    assert published_version_by_code(CODE) is None


def test_import_page_reports_each_bad_row_and_imports_nothing(loaded):
    from django.core.files.uploadedfile import SimpleUploadedFile

    ed = editor()
    ec = _client(ed)
    exported = ec.get("/backoffice/catalog/export.json")
    assert exported.status_code == 200
    doc = json.loads(exported.content)
    assert {row["code"][:6] for row in doc["implementations"]} <= {"330106", "330100"}
    doc["implementations"][0]["visits"] = 1
    doc["implementations"][0]["visits_reason"] = ""
    doc["implementations"][0]["online_depth"] = 3
    upload = SimpleUploadedFile("list.json", json.dumps(doc, ensure_ascii=False).encode(), "application/json")
    response = ec.post("/backoffice/catalog/import/", {"file": upload})
    html = response.content.decode()
    assert response.status_code == 422 and "<title>错误：" in html
    assert "第 1 行" in html and "visits_reason" in html and "未导入任何内容" in html
    assert not ImplementationVersion.objects.filter(status=VersionStatus.DRAFT).exists()
    csv = ec.get("/backoffice/catalog/export.csv")
    upload = SimpleUploadedFile("list.csv", csv.content, "text/csv")
    response = ec.post("/backoffice/catalog/import/", {"file": upload})
    assert response.status_code == 302
    assert Implementation.objects.count() == len(doc["implementations"]) + Implementation.objects.exclude(
        code__in=[row["code"] for row in doc["implementations"]]).count()
    assert not ImplementationVersion.objects.filter(status=VersionStatus.DRAFT).exists()  # nothing changed
