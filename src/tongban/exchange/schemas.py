"""The message types as Pydantic models: the JSON schemas in docs/exchange/schemas/ are generated from them
(`tongban exchange schemas --write`; a test checks the files are current), and inbound messages are
validated against them before anything is applied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "docs" / "exchange" / "schemas"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- outgoing ------------------------------------------------------------------------------------------------

class CaseEventV1(_Strict):
    """办件状态变更 (case.event v1): one transition of a case of a hooked item."""
    case_number: str = Field(max_length=18)
    item_code: str
    item_title: str
    department: str
    region_code: str = Field(pattern=r"^\d{6}$")
    event_id: int
    action: str
    from_state: str
    to_state: str
    occurred_at: str = Field(description="ISO 8601, Asia/Shanghai")
    applicant_kind: Literal["citizen", "enterprise"]


class CaseEventPersonalV1(_Strict):
    """The personal part of case.event v1, SM4-GCM sealed (`personal`)."""
    applicant_name: str
    applicant_id_type: str
    applicant_id_number: str


class RatingV1(_Strict):
    """好差评 (evaluation.rating v1): a rating made here of a hooked item's case."""
    rating_id: int
    case_number: str
    item_code: str
    level: int = Field(ge=1, le=5)
    tags: list[str]
    channel: str
    real_name: bool
    national_id: str
    region_code: str
    rated_at: str


class ItemPublicationV1(_Strict):
    """事项发布 (item.publication v1): a hooked item's version published or retired."""
    change_seq: int
    kind: str
    implementation_code: str
    version: int
    name: str
    department: str
    region_code: str
    promised_limit_days: int
    statutory_limit_days: int
    online_depth: int
    hooked_national: bool
    occurred_at: str


class VerificationCountV1(_Strict):
    level: str
    outcome: str
    count: int = Field(ge=0)


class VerificationStatsV1(_Strict):
    """身份核验统计 (verification.stats v1): one day's identity verifications by level and outcome."""
    day: str
    total: int = Field(ge=0)
    counts: list[VerificationCountV1]


# -- incoming ------------------------------------------------------------------------------------------------

class InboundCaseV1(_Strict):
    """case.application v1: an application made on the national platform for one of our items."""
    national_case_id: str = Field(min_length=1, max_length=64)
    item_code: str = Field(min_length=1, max_length=64)
    answers: dict[str, Any] = Field(default_factory=dict)
    delivery: dict[str, Any] | None = None


class InboundCasePersonalV1(_Strict):
    applicant_id_number: str = Field(min_length=15, max_length=18)
    applicant_name: str = Field(min_length=1, max_length=100)


class InboundRatingV1(_Strict):
    """evaluation.rating v1 from the national platform (its 好差评 system)."""
    national_id: str = Field(min_length=1, max_length=64)
    case_number: str = Field(min_length=1, max_length=18)
    level: int = Field(ge=1, le=5)
    tags: list[str] = Field(default_factory=list)
    comment: str | None = Field(default=None, max_length=500)
    rated_at: str | None = None
    real_name: bool = True


class InboundUserLinkV1(_Strict):
    """user.link v1: a national-platform account linked to (or unlinked from) a person."""
    national_sub: str = Field(min_length=1, max_length=64)
    event: Literal["linked", "unlinked"]


class InboundUserLinkPersonalV1(_Strict):
    id_number: str = Field(min_length=15, max_length=18)


class Envelope(BaseModel):
    """The batch around the messages (docs/exchange.md, "Wire format")."""
    v: Literal[1]
    batch_id: str = Field(min_length=1, max_length=40)
    sender: str
    recipient_key: str | None = None
    sent_at: str
    envelope: dict[str, str]
    personal: str | None = Field(default=None, description="SM4-GCM over {idempotency key: personal fields}, AAD = batch_id")
    messages: list[dict[str, Any]] = Field(max_length=5000)


OUTGOING: dict[tuple[str, int], tuple[type[BaseModel], type[BaseModel] | None]] = {("case.event", 1): (CaseEventV1, CaseEventPersonalV1), ("evaluation.rating", 1): (RatingV1, None),
            ("item.publication", 1): (ItemPublicationV1, None),
            ("verification.stats", 1): (VerificationStatsV1, None)}
INCOMING: dict[tuple[str, int], tuple[type[BaseModel], type[BaseModel] | None]] = {("case.application", 1): (InboundCaseV1, InboundCasePersonalV1),
            ("evaluation.rating", 1): (InboundRatingV1, None),
            ("user.link", 1): (InboundUserLinkV1, InboundUserLinkPersonalV1)}


def schema_documents() -> dict[str, dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {"envelope.v1.json": Envelope.model_json_schema()}
    for direction, table in (("out", OUTGOING), ("in", INCOMING)):
        for (type_, version), (body, personal) in table.items():
            doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": f"{type_} v{version}",
                   "direction": direction, "body": body.model_json_schema()}
            if personal is not None:
                doc["personal"] = personal.model_json_schema()
            docs[f"{direction}.{type_}.v{version}.json"] = doc
    return docs


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, doc in schema_documents().items():
        path = directory / name
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
