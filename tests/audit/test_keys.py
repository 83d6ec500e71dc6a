"""The signing-key adapter: keyring and file keys, side by side; an unknown key fails verification."""

from __future__ import annotations

import pytest

from tongban.audit import chain, keys
from tongban.audit.actions import Action
from tongban.audit.services import Actor, audit_checkpoint, audit_record
from tongban.audit.verify import verify_log

pytestmark = pytest.mark.django_db


def test_keyring_then_file_key_both_verify(settings, tmp_path):
    audit_record(action=Action.KEY_ROTATE, actor=Actor.system("tests"))
    first = audit_checkpoint()
    assert first.key_id.startswith("keyring:audit_signing:")
    settings.TONGBAN_AUDIT_KEY_SOURCE = "file"
    settings.TONGBAN_AUDIT_KEY_FILE = str(tmp_path / "audit.pem")
    chain.reset_local_chains()  # a new process, configured for the file key
    audit_record(action=Action.KEY_ROTATE, actor=Actor.system("tests"))
    second = audit_checkpoint()
    assert second.key_id.startswith("file:")
    assert (tmp_path / "audit.pem").stat().st_mode & 0o777 == 0o600
    report = verify_log()
    assert report.ok, report.problems


def test_checkpoint_signed_by_a_key_we_do_not_have_fails(settings, tmp_path):
    settings.TONGBAN_AUDIT_KEY_SOURCE = "file"
    settings.TONGBAN_AUDIT_KEY_FILE = str(tmp_path / "a.pem")
    audit_record(action=Action.KEY_ROTATE, actor=Actor.system("tests"))
    audit_checkpoint()
    keys._file_key.cache_clear()
    settings.TONGBAN_AUDIT_KEY_FILE = str(tmp_path / "b.pem")  # the installation lost key a
    (tmp_path / "b.pem").write_bytes(b"")
    (tmp_path / "b.pem").unlink()
    report = verify_log()
    assert not report.ok
    assert any("unknown key" in p.message for p in report.problems)
