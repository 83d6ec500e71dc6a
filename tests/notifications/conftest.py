from tests.accounts.conftest import sms_sim  # noqa: F401  (the simulator fixture, shared)
