"""Invariant 3: a key rotation whose job ran out of attempts is marked failed with a `key.rotate` failure entry,
in the same transaction."""

from __future__ import annotations

import pytest

from tests.crypto_testapp.models import Person
from tongban.audit.actions import Action, ActorType, Outcome
from tongban.audit.models import AuditEntry
from tongban.crypto import services
from tongban.crypto.models import KeyRotation, RotationState
from tongban.jobs.models import Job, JobStatus
from tongban.jobs.worker import Worker


class WalkBroke(Exception):
    pass


@pytest.fixture
def failing_rotation(settings, monkeypatch):
    settings.TONGBAN_KEY_ROTATION_DELAY = 0
    settings.TONGBAN_KEYRING_TTL = 0
    Person.objects.bulk_create([Person(name=f"测试{i}号", id_number=f"1101051990{i:07d}X", phone=f"139{i:08d}",
                                       address=f"测试路{i}号") for i in range(3)])
    rotation = services.key_rotate(purpose="field_encryption", operator="keyadmin").rotation
    assert rotation is not None
    Job.objects.filter(pk=rotation.last_job_id).update(max_attempts=1)

    def broken(**kwargs):
        raise WalkBroke("the walk broke")

    monkeypatch.setattr(services, "rotation_step", broken)
    return rotation


@pytest.mark.django_db(transaction=True)
def test_a_rotation_out_of_attempts_fails_audited(failing_rotation):
    Worker(queues=["keys"]).run_once()
    rotation = KeyRotation.objects.get(pk=failing_rotation.pk)
    assert rotation.state == RotationState.FAILED and "WalkBroke" in rotation.last_error
    assert Job.objects.get(pk=rotation.last_job_id).status == JobStatus.DEAD
    entry = AuditEntry.objects.get(action=Action.KEY_ROTATE, outcome=Outcome.FAILURE)
    assert (entry.actor_type, entry.actor_id) == (ActorType.SYSTEM, "crypto.keys")
    assert (entry.subject_type, entry.subject_id) == ("crypto.datakey", f"rotation:{rotation.pk}")
    assert entry.details["failed"] is True and entry.details["purpose"] == "field_encryption"
    assert entry.details["version"] == rotation.to_version and "the walk broke" not in str(entry.details)


@pytest.mark.django_db(transaction=True)
def test_the_failure_rolls_back_with_its_entry(failing_rotation, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("tongban.audit.services.audit_record", boom)
    with pytest.raises(RuntimeError):
        services.rotation_fail(rotation_id=failing_rotation.pk, error="x")
    assert KeyRotation.objects.get(pk=failing_rotation.pk).state != RotationState.FAILED
