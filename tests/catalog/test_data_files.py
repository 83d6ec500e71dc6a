"""The shipped catalog: every data file loads and passes the rules; loading twice changes nothing."""

from __future__ import annotations

import json
import shutil

import pytest
from django.core.management import call_command

from tongban.audit.models import AuditEntry
from tongban.catalog.chinese import is_traditional_of
from tongban.catalog.loading import CatalogDataError, catalog_load, data_dir, read_data
from tongban.catalog.models import Implementation, ImplementationVersion, VersionStatus
from tongban.catalog.selectors import published_versions

pytestmark = pytest.mark.django_db


def test_the_shipped_files_load_and_pass_every_rule():
    data = read_data()
    assert len(data.implementations) >= 120
    provinces = {row["region_code"][:2] for row in data.implementations}
    assert provinces == {"33", "44"}
    report = catalog_load()
    assert report.created == len(data.implementations) and report.updated == 0
    assert published_versions().count() == len(data.implementations)


def test_loading_is_idempotent():
    catalog_load()
    versions = ImplementationVersion.objects.count()
    entries = AuditEntry.objects.count()
    report = catalog_load()
    assert (report.created, report.updated, report.unchanged) == (0, 0, Implementation.objects.count())
    assert ImplementationVersion.objects.count() == versions
    assert AuditEntry.objects.count() == entries + 1  # only the run itself is recorded


def test_a_changed_file_publishes_a_new_version(tmp_path):
    catalog_load()
    copy = tmp_path / "data"
    shutil.copytree(data_dir(), copy)
    path = copy / "330000" / "hukou.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["implementations"][0]["content"]["promised_limit_days"] = 0
    doc["implementations"][0]["content"]["immediate"] = True
    doc["implementations"][0]["content"]["case_type"] = "immediate"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    report = catalog_load(copy)
    assert report.updated == 1
    impl = Implementation.objects.get(code=doc["implementations"][0]["code"])
    assert list(impl.versions.order_by("number").values_list("status", flat=True)) == [
        VersionStatus.RETIRED, VersionStatus.PUBLISHED]


def test_a_bad_file_loads_nothing_and_names_the_problem(tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(data_dir(), copy)
    path = copy / "440000" / "exit_entry.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["implementations"][1]["content"]["promised_limit_days"] = 99
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CatalogDataError) as caught:
        catalog_load(copy)
    assert any("440000/exit_entry.json 第 2 项" in p and "promised_limit_days" in p for p in caught.value.problems)
    assert Implementation.objects.count() == 0


def test_shipped_content_is_honest():
    versions = {v.implementation.code: v for v in (catalog_load() and published_versions())}
    hooked_basic = {v.implementation.basic_item.code for v in versions.values() if v.hooked_national}
    assert 10 <= len(hooked_basic) <= 29  # the seed: 29 items hooked to the national platform
    by_name = {}
    for v in versions.values():
        by_name.setdefault(v.name, []).append(v)
    fees = {"居民身份证申领": 2000, "居民身份证换领": 2000, "居民身份证补领": 2000, "临时居民身份证申领": 1000,
            "普通护照签发": 12000, "往来港澳通行证签注": 1500, "机动车驾驶证补领": 1000}
    for name, fen in fees.items():
        assert {v.fee_standard_fen for v in by_name[name]} == {fen}, name
    # at least eight items are applicable online, an enterprise one among them
    online = [v for v in versions.values() if v.applicable_online]
    assert len({v.implementation.basic_item.code for v in online}) >= 8
    assert any(v.enterprise_applicable for v in online)
    assert {"户政", "出入境", "交管", "治安"} <= {v.implementation.get_department_display() for v in online}
    # the provinces differ
    zj = {v.implementation.basic_item.code: v for v in versions.values() if v.implementation.region_code.startswith("33")}
    gd = {v.implementation.basic_item.code: v for v in versions.values() if v.implementation.region_code.startswith("44")}
    assert set(gd) - set(zj)  # 粤港澳直通车 only in Guangdong
    assert sum(zj[c].content() != gd[c].content() for c in set(zj) & set(gd)) == len(set(zj) & set(gd))
    for v in versions.values():
        if v.audience_hk_macao:
            assert is_traditional_of(v.name_tc, v.name), v.name


def test_the_command_loads(capsys):
    call_command("catalog", "load")
    assert "实施清单新增" in capsys.readouterr().out


def test_staff_work_wins_over_the_files(tmp_path):
    from tests.catalog.factories import editor, reviewer
    from tongban.catalog.services import version_draft_new, version_retire

    catalog_load()
    copy = tmp_path / "data"
    shutil.copytree(data_dir(), copy)
    path = copy / "330000" / "hukou.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for row in doc["implementations"][:3]:
        row["content"]["enquiry_phone"] = "0571-12345678"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    first, second, third = (Implementation.objects.get(code=row["code"]) for row in doc["implementations"][:3])
    version_retire(actor=reviewer(), version=first.published_version)  # retired by a reviewer
    version_draft_new(actor=editor(), implementation=second)  # a draft open
    report = catalog_load(copy)
    assert sorted(report.kept) == sorted([first.code, second.code]) and report.updated == 1
    first.refresh_from_db()
    assert first.published_version is None
    third.refresh_from_db()
    assert third.published_version.enquiry_phone == "0571-12345678"


def test_the_publish_checks_run_on_the_files_too():
    from tongban.catalog import application

    def refuse_lawyers(version):
        return ["律师会见须由司法行政系统办理。"] if "律师" in version.name else []

    application.register_publish_check(refuse_lawyers)
    try:
        with pytest.raises(CatalogDataError) as caught:
            read_data()
    finally:
        application.unregister_publish_check(refuse_lawyers)
    assert len(caught.value.problems) == 2  # 浙江 and 广东
    assert all("律师会见须由司法行政系统办理" in p and "application_form" in p for p in caught.value.problems)
