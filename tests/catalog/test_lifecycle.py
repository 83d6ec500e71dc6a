"""A version's life cycle: draft → submitted → published → retired, four eyes, immutability, audit."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from tests.catalog.factories import editor, make_draft, reviewer
from tongban.audit.models import AuditEntry
from tongban.catalog import application
from tongban.catalog.models import ImplementationVersion, PublishedVersionChanged, VersionStatus
from tongban.catalog.selectors import published_version_by_code, version_diff
from tongban.catalog.services import (
    CatalogValidationError,
    version_draft_new,
    version_publish,
    version_reject,
    version_retire,
    version_submit,
    version_update,
)
from tongban.core.errors import TongbanError

pytestmark = pytest.mark.django_db


def _published(ed, rv):
    draft = make_draft(ed)
    version_submit(actor=ed, version=draft)
    return version_publish(actor=rv, version=draft, note="同意")


def test_editor_changes_and_reviewer_publishes_a_new_version():
    ed, rv = editor(), reviewer()
    v1 = _published(ed, rv)
    assert published_version_by_code("330100-TEST-0001").pk == v1.pk
    v2 = version_draft_new(actor=ed, implementation=v1.implementation)
    assert v2.number == 2 and v2.status == VersionStatus.DRAFT and v2.content() == v1.content()
    version_update(actor=ed, version=v2, changes={"promised_limit_days": 1, "keywords": ["开证明", "户口证明"]})
    version_submit(actor=ed, version=v2)
    version_publish(actor=rv, version=v2)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v1.status == VersionStatus.RETIRED and v2.status == VersionStatus.PUBLISHED
    assert published_version_by_code("330100-TEST-0001").pk == v2.pk
    assert [c.field for c in version_diff(v1, v2)] == ["promised_limit_days", "keywords"]
    assert v1.promised_limit_days == 3  # the old version kept what it said


def test_the_reviewer_is_never_the_editor():
    ed = editor()
    draft = make_draft(ed)
    version_submit(actor=ed, version=draft)
    # An account holding both roles cannot exist, so an editor acting as reviewer fails on the role first...
    with pytest.raises(TongbanError):
        version_publish(actor=ed, version=draft)
    # ...and a reviewer who edited the version (through the database, bypassing roles) is refused by four eyes.
    rv = reviewer()
    ImplementationVersion.objects.filter(pk=draft.pk).update(updated_by=rv)
    with pytest.raises(TongbanError) as caught:
        version_publish(actor=rv, version=draft)
    assert caught.value.code == "catalog_four_eyes"
    with pytest.raises(IntegrityError), transaction.atomic():
        ImplementationVersion.objects.filter(pk=draft.pk).update(reviewed_by=rv, status=VersionStatus.PUBLISHED)


def test_a_published_version_never_changes():
    ed, rv = editor(), reviewer()
    v1 = _published(ed, rv)
    with pytest.raises(TongbanError) as caught:
        version_update(actor=ed, version=v1, changes={"name": "改名"})
    assert caught.value.code == "catalog_state"
    v1.name = "改名"
    with pytest.raises(PublishedVersionChanged):
        v1.save()
    with pytest.raises(PublishedVersionChanged):
        v1.save(update_fields=["name"])
    v1.refresh_from_db()
    assert v1.name == "户籍证明开具"


def test_only_one_open_version_at_a_time_and_reject_returns_to_draft():
    ed, rv = editor(), reviewer()
    v1 = _published(ed, rv)
    v2 = version_draft_new(actor=ed, implementation=v1.implementation)
    with pytest.raises(TongbanError) as caught:
        version_draft_new(actor=ed, implementation=v1.implementation)
    assert caught.value.code == "catalog_open_version"
    version_submit(actor=ed, version=v2)
    with pytest.raises(CatalogValidationError):
        version_reject(actor=rv, version=v2, note=" ")
    version_reject(actor=rv, version=v2, note="收费依据写错了")
    v2.refresh_from_db()
    assert v2.status == VersionStatus.DRAFT and v2.review_note == "收费依据写错了"


def test_retire_withdraws_the_item():
    ed, rv = editor(), reviewer()
    v1 = _published(ed, rv)
    version_retire(actor=rv, version=v1)
    assert published_version_by_code("330100-TEST-0001") is None
    v1.implementation.refresh_from_db()
    assert v1.implementation.published_version is None


def test_scope_outside_department_or_region_is_not_found():
    other_dept = editor("ed2", department="traffic")
    other_region = editor("ed3", region_code="440100")
    for actor in (other_dept, other_region):
        with pytest.raises(TongbanError) as caught:
            make_draft(actor, code=f"330100-X-{actor.pk}")
        assert caught.value.code == "not_found"


def test_every_step_is_audited():
    ed, rv = editor(), reviewer()
    v1 = _published(ed, rv)
    version_draft_new(actor=ed, implementation=v1.implementation)
    actions = list(AuditEntry.objects.filter(action__startswith="catalog.").order_by("id")
                   .values_list("action", "actor_id"))
    assert actions == [("catalog.item.create", str(ed.pk)), ("catalog.version.submit", str(ed.pk)),
                       ("catalog.version.publish", str(rv.pk)), ("catalog.version.create", str(ed.pk))]


def test_publish_hooks_can_stop_a_publication():
    ed, rv = editor(), reviewer()
    draft = make_draft(ed, workflow="one_review",
                       application_form={"fields": [{"name": "purpose", "type": "text", "label": "用途"}]})
    version_submit(actor=ed, version=draft)

    def refuse(version):
        return [f"表单字段 purpose 不被 {version.workflow} 流程接受。"]

    application.register_publish_check(refuse)
    try:
        with pytest.raises(CatalogValidationError) as caught:
            version_publish(actor=rv, version=draft)
        assert caught.value.field_errors == {"application_form": ["表单字段 purpose 不被 one_review 流程接受。"]}
    finally:
        application.unregister_publish_check(refuse)
    assert version_publish(actor=rv, version=draft).status == VersionStatus.PUBLISHED


def test_the_change_feed_numbers_publications_and_retirements_in_order():
    from tongban.catalog.selectors import changes_since, latest_change_seq

    ed, rv = editor(), reviewer()
    v1 = _published(ed, rv)
    v2 = version_draft_new(actor=ed, implementation=v1.implementation)
    version_update(actor=ed, version=v2, changes={"promised_limit_days": 2})
    version_submit(actor=ed, version=v2)
    version_publish(actor=rv, version=v2)
    version_retire(actor=rv, version=v2)
    feed = changes_since(0)
    assert [(c.seq, c.version.number, c.kind) for c in feed] == [(1, 1, "published"), (2, 2, "published"),
                                                                  (3, 2, "retired")]
    assert [c.seq for c in changes_since(2)] == [3] and latest_change_seq() == 3
