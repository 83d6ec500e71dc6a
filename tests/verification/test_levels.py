"""Assurance levels, their URIs, and the vocabulary of reasons."""

from __future__ import annotations

import pytest

from tongban.verification.levels import SUPPORTED_LEVELS, AssuranceLevel
from tongban.verification.reasons import INTERNAL_REASONS, FieldVerdict, ReasonCode


def test_levels_are_ordered_and_named():
    assert AssuranceLevel.NONE < AssuranceLevel.L1 < AssuranceLevel.L2 < AssuranceLevel.L3
    assert [level.label for level in AssuranceLevel] == ["未认证", "实名", "实证", "实人"]
    assert SUPPORTED_LEVELS == {AssuranceLevel.L1, AssuranceLevel.L2}


def test_uris_round_trip():
    assert AssuranceLevel.L1.uri == "urn:tongban:acr:l1"
    assert AssuranceLevel.L3.uri == "urn:tongban:acr:l3"
    assert AssuranceLevel.NONE.uri is None
    for level in (AssuranceLevel.L1, AssuranceLevel.L2, AssuranceLevel.L3):
        assert AssuranceLevel.from_uri(level.uri) is level
    with pytest.raises(ValueError):
        AssuranceLevel.from_uri("urn:tongban:acr:l9")


def test_every_code_has_a_chinese_label():
    for code in ReasonCode:
        assert code.label
    for verdict in FieldVerdict:
        assert verdict.label


def test_internal_reasons_fold_into_identity_inconsistent():
    assert INTERNAL_REASONS == {ReasonCode.NOT_FOUND, ReasonCode.NAME_INCONSISTENT}
    for code in ReasonCode:
        expected = ReasonCode.IDENTITY_INCONSISTENT if code in INTERNAL_REASONS else code
        assert code.public is expected
