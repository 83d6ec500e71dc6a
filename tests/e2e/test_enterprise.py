"""An enterprise in the browser: the L2 legal representative registers it and invites an agent, who is told
by SMS, accepts in their own account and acts for it; the representative revokes the agent."""

import pytest

from tests.accounts.browser import register_in_browser, verify_mainland_in_browser
from tests.accounts.conftest import deliver, people, sms_sim  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

USCC = "91110000600037341L"


def test_enterprise_with_an_agent(browser, live_server, sms_sim, people, assert_accessible):  # noqa: F811
    rep_context = browser.new_context(locale="zh-CN")
    agent_context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        rep, agent = rep_context.new_page(), agent_context.new_page()
        representative = people.mainland[0]
        register_in_browser(rep, live_server.url, sms_sim, "13912340011")
        verify_mainland_in_browser(rep, representative, level=2)
        register_in_browser(agent, live_server.url, sms_sim, "13912340012")
        verify_mainland_in_browser(agent, people.mainland[1], level=1)

        rep.goto(live_server.url + "/enterprise/")
        rep.click("text=登记企业账号")
        rep.fill("#id_uscc", USCC)
        rep.fill("#id_name", "杭州示例科技有限公司")
        rep.fill("#id_representative_name", representative["name"])
        rep.check("#id_declared")
        rep.click("button[type=submit]")
        rep.wait_for_url("**/enterprise/*/")
        rep.fill("#id_agent_phone", "13912340012")
        rep.fill("#id_scope", "证照办理")
        rep.click("button:has-text('发送邀请')")
        assert "已向 139****0012 发送经办人邀请" in rep.content()
        assert "139****0012" in rep.locator("#invitations").inner_text()
        assert "139****0012" not in rep.locator("#agents").inner_text()  # not an agent until they accept
        assert_accessible(rep)  # the pending invitation listed with its withdraw button, the message

        # The invited person is told by SMS, and accepts in their own account.
        deliver()
        assert any("邀请您作为其经办人" in m.text for m in sms_sim.messages("13912340012"))
        agent.goto(live_server.url + "/me/")
        agent.click("#invitations-badge")
        agent.wait_for_url("**/enterprise/invitations/")
        assert "杭州示例科技有限公司" in agent.locator("#invitations").inner_text()
        agent.click("#invitations button:has-text('接受')")
        agent.wait_for_url("**/enterprise/")
        assert "杭州示例科技有限公司" in agent.locator("#agencies").inner_text()
        rep.reload()
        assert "139****0012" in rep.locator("#agents").inner_text()
        agent.click("#agencies button")
        assert agent.locator("#acting-name").inner_text() == "杭州示例科技有限公司"
        assert_accessible(agent)  # acting for the enterprise

        rep.click("#agents button:has-text('撤销授权')")
        assert "已撤销" in rep.locator("#agents").inner_text()
        agent.goto(live_server.url + "/enterprise/")
        assert agent.locator("#acting-name").count() == 0
        assert "杭州示例科技有限公司" not in agent.locator("#agencies").inner_text()
    finally:
        rep_context.close()
        agent_context.close()
