"""Log lines are JSON, carry the request id and never show an ID or phone number in clear."""

import json
import logging

import pytest

from tongban.core.logging import get_logger, scrub_personal_data
from tongban.core.masking import mask_id_number, mask_name, mask_permit, mask_phone, scrub


def test_masks():
    assert mask_id_number("110105199001011234") == "110***********1234"
    assert mask_phone("13800138000") == "138****8000"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_permit("H12345678") == "H****5678"


def test_scrub_free_text():
    text = "用户 11010519900101123X 手机 +86 13800138000 回乡证 M1234567801 订单 202611240000000000001"
    out = scrub(text)
    assert "11010519900101123X" not in out and "110***********123X" in out
    assert "13800138000" not in out and "138****8000" in out
    assert "M1234567801" not in out
    assert "202611240000000000001" in out  # a 21-digit order number is not an ID number


def test_processor_scrubs_nested_values():
    event = {"event": "x", "who": {"id": "110105199001011234", "phones": ["13912345678"]}}
    out = scrub_personal_data(None, "info", event)
    assert out["who"]["id"] == "110***********1234"
    assert out["who"]["phones"] == ["139****5678"]


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


class _Captured:
    def __init__(self, stream):
        self.stream = stream

    def text(self):
        return self.stream.getvalue()


@pytest.fixture
def captured():
    """A handler with the production formatter, so the test reads exactly what operators get."""
    import io

    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    yield _Captured(stream)
    root.removeHandler(handler)


def test_structured_line_has_request_id_and_masks_personal_data(client, captured):
    log = get_logger("tongban.test")
    client.get("/api/v1/core/calendar/add-working-days?start=2026-09-17&days=3", HTTP_X_REQUEST_ID="req-12345678")
    log.info("lookup", id_number="110105199001011234", note="phone 13800138000")
    lines = _json_lines(captured.text())
    request_line = next(line for line in lines if line.get("event") == "request")
    assert request_line["request_id"] == "req-12345678"
    assert request_line["status"] == 200
    lookup = next(line for line in lines if line.get("event") == "lookup")
    assert lookup["id_number"] == "110***********1234"
    assert "13800138000" not in json.dumps(lookup)


def test_personal_data_in_a_path_is_masked_in_the_request_line(client, captured):
    client.get("/api/v1/people/110105199001011234")
    err = captured.text()
    assert "110105199001011234" not in err
    assert "110***********1234" in err


def test_row_ids_stay_readable_but_every_dated_number_is_masked():
    assert scrub("job 383742278693317058 done") == "job 383742278693317058 done"
    assert "110105199001011234" not in scrub("x 110105199001011234 y")
    assert "44030619991231002X" not in scrub("44030619991231002X")


def test_the_request_id_is_unbound_after_the_request(client, captured):
    """Server threads are reused: one request's id must not follow the thread into the next log lines."""
    import structlog

    from tongban.core.logging import get_logger

    client.get("/healthz", HTTP_X_REQUEST_ID="req-unbind-0001")
    assert "request_id" not in structlog.contextvars.get_contextvars()
    get_logger("tongban.test").info("after_the_request")
    line = [e for e in _json_lines(captured.text()) if e.get("event") == "after_the_request"][0]
    assert "request_id" not in line
