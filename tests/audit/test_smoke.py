import pytest

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_checkpoint, audit_record
from tongban.audit.verify import verify_log

pytestmark = pytest.mark.django_db


def test_smoke():
    for i in range(5):
        audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.system("t"), subject=Subject("x", str(i)))
    audit_checkpoint()
    audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.system("t"))
    report = verify_log()
    assert report.ok, report.problems
    assert report.entries == 6
    assert report.unsealed == 1
