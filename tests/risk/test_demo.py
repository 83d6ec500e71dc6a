import pytest

from tongban.risk.models import Alert

pytestmark = pytest.mark.django_db


def test_the_demo_data_puts_a_row_in_the_history_and_an_alert_on_the_console():
    from tests.accounts.factories import make_citizen
    from tongban.accounts.models import CitizenProfile
    from tongban.risk.demo import risk_demo_ensure
    from tongban.risk.selectors import citizen_verifications

    citizen = make_citizen("citizen")
    CitizenProfile.objects.create(user=citizen, phone="13800138001", id_type="resident_id", name="李四",
                                  id_number="110105198001011238", person_key="110105198001011238", level=2)
    risk_demo_ensure()
    risk_demo_ensure()  # idempotent apart from the history row each run adds
    rows = citizen_verifications(citizen)
    assert rows[0]["organisation"] == "演示商业银行" and rows[0]["purpose"] == "金融开户"
    assert Alert.objects.filter(key="demo").count() == 1
