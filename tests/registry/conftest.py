"""Fixtures for the registry tests: a generated dataset in memory, and a small one loaded into the sources."""

from __future__ import annotations

import datetime

import pytest

AS_OF = datetime.date(2026, 3, 1)
PEOPLE = 2_000
SEED = 11


@pytest.fixture(scope="session")
def dataset():
    """Rows for 20,000 people, built once without a database: enough for the shares to mean something."""
    from tongban.registry.generator.dataset import build_dataset

    return build_dataset(20_000, SEED, AS_OF)


@pytest.fixture
def loaded():
    """PEOPLE people generated into the four source databases (the test must use databases="__all__")."""
    from tongban.registry.generator import generate

    captured = []
    result = generate(people=PEOPLE, seed=SEED, as_of=AS_OF, parallel=False, on_dataset=captured.append)
    return result, captured[0]


def rows(table):
    """A generated table as a list of dicts (column name -> string value or None)."""
    return [dict(zip(table.columns, values, strict=True)) for values in zip(*table.data, strict=True)]
