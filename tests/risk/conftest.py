import pytest


@pytest.fixture(autouse=True)
def _fresh_rules():
    """Each test reads the rules as its own database holds them (the engine keeps them for a few seconds)."""
    from tongban.risk import engine

    engine.rules_forget()
    yield
    engine.rules_forget()
