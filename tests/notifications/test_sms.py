"""The SMS gateway: the HTTP client, the simulator it talks to, and delivery through the outbox."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from sim.sms_gateway import SmsSimulator, sign
from tests.accounts.conftest import deliver
from tongban.jobs.models import Job, JobStatus
from tongban.notifications.models import SmsMessage, SmsStatus
from tongban.notifications.services import payload_id_parse, sms_queue
from tongban.notifications.sms import HttpSmsGateway, SmsRejected, SmsUnavailable, gateway

PHONE = "13800000011"


def test_gateway_posts_signed_json_and_is_idempotent(sms_sim):
    client = gateway()
    assert isinstance(client, HttpSmsGateway)
    first = client.send(phone=PHONE, text="你好", idempotency_key="k-1")
    again = client.send(phone=PHONE, text="你好", idempotency_key="k-1")
    assert first == again and len(sms_sim.messages(PHONE)) == 1
    client.send(phone=PHONE, text="第二条", idempotency_key="k-2")
    assert [m.text for m in sms_sim.messages(PHONE)] == ["第二条", "你好"]  # newest first


def test_wrong_token_or_signature_is_refused(sms_sim):
    with pytest.raises(SmsUnavailable):  # 401: a configuration problem, retried until fixed
        HttpSmsGateway(url=sms_sim.url, token="wrong").send(phone=PHONE, text="x", idempotency_key="k")
    body = json.dumps({"phone": PHONE, "text": "x", "idempotency_key": "k"}).encode()
    ts = str(int(time.time()) - 3600)
    request = urllib.request.Request(sms_sim.url, data=body, method="POST", headers={
        "Authorization": "Bearer test-sms-token", "X-Sms-Timestamp": ts,
        "X-Sms-Signature": sign("test-sms-token", ts, body), "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=5)
    assert exc.value.code == 401
    assert sms_sim.messages(PHONE) == []


def test_invalid_message_is_rejected_for_good(sms_sim):
    with pytest.raises(SmsRejected):
        gateway().send(phone="12345", text="x", idempotency_key="k")


def test_unreachable_gateway_is_unavailable():
    with pytest.raises(SmsUnavailable):
        HttpSmsGateway(url="http://127.0.0.1:9/v1/messages", token="t", timeout=1).send(
            phone=PHONE, text="x", idempotency_key="k")


def test_simulator_json_and_page(sms_sim):
    gateway().send(phone=PHONE, text="您的验证码为 123456 <b>", idempotency_key="k-page")
    with urllib.request.urlopen(f"{sms_sim.url}?phone={PHONE}", timeout=5) as response:
        data = json.loads(response.read())
    assert data["messages"][0]["text"].startswith("您的验证码为 123456")
    with urllib.request.urlopen(sms_sim.base_url + "/", timeout=5) as response:
        page = response.read().decode()
    assert "短信网关模拟器" in page and PHONE in page and "&lt;b&gt;" in page and 'name="viewport"' in page


@pytest.mark.django_db
def test_eighteen_digit_row_ids_travel_as_integers():
    """tongban ids are 18-19 digits: as integers they are ids, never taken for ID numbers."""
    from tongban.jobs.services import outbox_send

    for pk in (383742278693317058, 110105199001011234):
        job = outbox_send(channel="sms", payload={"message_id": pk}, idempotency_key=f"t:{pk}")
        assert payload_id_parse(job.payload["message_id"]) == pk
    with pytest.raises(ValueError):
        payload_id_parse("383742278693317058")


@pytest.mark.django_db
def test_outbox_delivers_once_and_forgets_the_text(sms_sim):
    message = sms_queue(phone=PHONE, text="【一网通办】测试", purpose="test")
    job = Job.objects.get()
    assert PHONE not in json.dumps(job.payload) and job.idempotency_key == f"sms:{message.pk}"
    assert deliver() == 1
    message.refresh_from_db()
    assert message.status == SmsStatus.SENT and message.text is None and message.gateway_message_id
    assert [m.text for m in sms_sim.messages(PHONE)] == ["【一网通办】测试"]


@pytest.mark.django_db
def test_outbox_retries_when_the_gateway_fails(sms_sim):
    sms_sim.app.fail_next(1)
    sms_queue(phone=PHONE, text="重试", purpose="test")
    deliver()
    job = Job.objects.get()
    assert job.status == JobStatus.RETRYING and sms_sim.messages(PHONE) == []
    Job.objects.update(run_after=job.created_at)
    deliver()
    assert Job.objects.get().status == JobStatus.SUCCEEDED and len(sms_sim.messages(PHONE)) == 1
    assert SmsMessage.objects.get().status == SmsStatus.SENT


@pytest.mark.django_db
def test_rejected_message_goes_dead(sms_sim, settings):
    sms_queue(phone="10000000000", text="坏号码", purpose="test")  # not a mobile number: the gateway says 400
    deliver()
    assert Job.objects.get().status == JobStatus.DEAD
    assert SmsMessage.objects.get().status == SmsStatus.FAILED


def test_simulator_subprocess_starts_and_stops():
    import socket

    from sim.sms_gateway import start_sms_simulator

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = start_sms_simulator(port)
    try:
        client = HttpSmsGateway(url=f"http://127.0.0.1:{port}/v1/messages", token="tongban-dev-sms-token")
        assert client.send(phone=PHONE, text="子进程", idempotency_key="k").startswith("sim-")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_thread_simulator_without_token_accepts_plain_posts():
    sim = SmsSimulator.start(token=None)
    try:
        assert HttpSmsGateway(url=sim.url, token="anything").send(phone=PHONE, text="x", idempotency_key="k")
    finally:
        sim.stop()


def test_sim_command_refuses_production(settings):
    import dataclasses

    from django.core.management import CommandError, call_command

    settings.ENV = dataclasses.replace(settings.ENV, environment="production")
    with pytest.raises(CommandError):
        call_command("sim", "sms", "--port", "8025")
