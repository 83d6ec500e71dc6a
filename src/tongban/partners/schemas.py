"""The partner API's request and answer shapes (pydantic v2): they validate input, and the OpenAPI
description at /partner/v1/openapi.json is generated from them, so the two cannot drift apart."""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

IdType = Literal["resident_id", "hk_macao_permit"]
Level = Literal["l1", "l2"]
ReachedLevel = Literal["none", "l1", "l2"]
Verdict = Literal["consistent", "inconsistent", "source_unavailable", "not_checked"]
LONG_TERM = "长期"

MAX_BATCH = 100

# The schema states the format rules the server enforces (tongban.core.identifiers: `id_format` and
# `travel_permit_format`), so that a request valid against the schema is never refused for its shape. The
# server also takes spaces and dashes inside the number (it removes them); what no pattern can express —
# a GB/T 2260 region in use, a real birth date not in the future, the GB 11643 check character — is
# checked after the shape (`id_region`, `id_birth_date`, `id_checksum`).
RESIDENT_ID_PATTERN = (r"^[1-9][0-9]{5}(18[89][0-9]|19[0-9]{2}|20[0-9]{2})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])"
                       r"[0-9]{3}[0-9Xx]$")
TRAVEL_PERMIT_PATTERN = r"^[HMhm][0-9]{8}([0-9]{2})?$"
# A name: at least one character that is not a space, no control character (the engine's name_invalid).
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
# A purpose: at least one character that is not a space (spaces around it are ignored): `purpose_required`
# answers a missing, null, empty or blank one.
PURPOSE_PATTERN = r"\S"
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _iso_date(value: Any) -> Any:
    """Only a YYYY-MM-DD string is a date here (pydantic alone would also take a number of seconds)."""
    if isinstance(value, datetime.date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("a date is written YYYY-MM-DD")


IsoDate = Annotated[datetime.date, BeforeValidator(_iso_date)]


def _person_schema(schema: dict[str, Any]) -> None:
    """The number's pattern depends on id_type (JSON Schema 2020-12 if/then/else)."""
    schema["if"] = {"properties": {"id_type": {"const": "hk_macao_permit"}}, "required": ["id_type"]}
    schema["then"] = {"properties": {"id_number": {"pattern": TRAVEL_PERMIT_PATTERN}}}
    schema["else"] = {"properties": {"id_number": {"pattern": RESIDENT_ID_PATTERN}}}


class Person(BaseModel):
    """One person to verify. Card validity is needed for l2 with a resident ID."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_person_schema)

    id_type: IdType = Field("resident_id", description="resident_id 居民身份证；hk_macao_permit 港澳居民来往内地通行证")
    id_number: str = Field(
        min_length=1, max_length=32,
        description=("证件号码。居民身份证：18 位，前 17 位数字、末位数字或 X，行政区划代码须存在（id_region），"
                     "出生日期须真实且不晚于今天（id_birth_date），末位为 GB 11643 校验码（id_checksum）；"
                     "通行证：H 或 M 加 8 位数字，可带 2 位换证次数（travel_permit_format）。"),
        json_schema_extra={"pattern": f"({RESIDENT_ID_PATTERN})|({TRAVEL_PERMIT_PATTERN})"})
    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN, description="姓名（name_invalid）")
    valid_from: IsoDate | None = Field(None, description="身份证有效期起始日期 YYYY-MM-DD（l2 必填；card_validity_invalid）")
    valid_to: IsoDate | Literal["长期"] | None = Field(
        None, description="身份证有效期截止日期 YYYY-MM-DD，或“长期”（l2 必填，晚于起始日期；card_validity_invalid）")


_PURPOSE = Field(min_length=1, max_length=32, json_schema_extra={"pattern": PURPOSE_PATTERN},
                 description="用途代码，须为应用登记的用途之一（缺少或为空：purpose_required；未登记：purpose_not_allowed）")


class VerificationRequest(Person):
    level: Level = Field(description="认证等级：l1 实名，l2 实证")
    purpose: str = _PURPOSE


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    level: Level
    purpose: str = _PURPOSE
    items: list[Person] = Field(min_length=1, max_length=MAX_BATCH, description="1-100 人，逐人独立作答")


class BatchEnvelope(BaseModel):
    """A batch as first parsed: the people stay raw, so one bad person does not fail the others."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    level: Level
    purpose: str = Field(min_length=1, max_length=32)
    items: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


class Verdicts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_number: Verdict
    name: Verdict
    card_validity: Verdict | None = Field(None, description="居民身份证（l2）")
    issue_count: Verdict | None = Field(None, description="通行证换证次数（给出时）")


class Outcome(BaseModel):
    verification_id: str = Field(description="核验流水号（用于事后查询与争议），对应一条审计记录")
    level_requested: Level
    level_reached: ReachedLevel
    acr: str | None = Field(description="所达等级的 URI（urn:tongban:acr:l1 …），未达任何等级时为 null")
    passed: bool = Field(description="是否达到所请求的等级；数据源不可用时一律为 false")
    reason: str | None = Field(description="未达到所请求等级的原因代码；通过时为 null")
    fields: Verdicts


class VerificationResponse(Outcome):
    nonce: str = Field(description="请求的 X-Tongban-Nonce（回显）")
    purpose: str


class ErrorBody(BaseModel):
    code: str
    message: str
    request_id: str | None = None
    details: list[dict[str, object]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class BatchItem(BaseModel):
    index: int = Field(ge=0, description="该人在 items 中的序号（从 0 开始）")
    outcome: Outcome | None = Field(None, description="核验结果；出错时为 null")
    error: ErrorBody | None = Field(None, description="该人的错误（参数错误、身份限流等）；成功时为 null")


class BatchResponse(BaseModel):
    nonce: str
    purpose: str
    level_requested: Level
    count: int
    results: list[BatchItem]


class PublishedKey(BaseModel):
    key_id: str
    status: str = Field(description="current 当前签名密钥；active/retiring 仍可能出现在近期应答中")
    algorithm: Literal["SM2-SM3"]
    uid: str
    public_key: str = Field(description="base64 of 04||X||Y (65 bytes)")
    public_key_pem: str


class KeysResponse(BaseModel):
    keys: list[PublishedKey]


# -- 实人 (l3): the face call (tongban.partners.face_api; docs/partner-api.md §7a) ---------------------------------

FaceStatus = Literal["accepted", "refused", "rejected", "review", "not_checked"]


class FaceChallengeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FaceChallengeResponse(BaseModel):
    nonce: str
    challenge_id: str = Field(description="动作编号，180 秒内一次有效")
    challenge: Literal["turn_left", "turn_right"] = Field(description="turn_left 请向左转头；turn_right 请向右转头")
    expires_in: int


class FaceVerificationRequest(Person):
    purpose: str = _PURPOSE
    challenge_id: str = Field(min_length=1, max_length=64, description="/partner/v1/face/challenges 返回的动作编号（一次有效）")
    frames: list[str] = Field(min_length=4, max_length=12,
                              description="按时间顺序的 4–12 帧画面，每帧 JPEG 或 PNG 的 base64（单帧不超过 400 kB）")


class FaceVerificationResponse(BaseModel):
    nonce: str
    purpose: str
    verification_id: str
    level_requested: Literal["l3"]
    level_reached: Literal["none", "l1", "l2", "l3"]
    acr: str | None
    passed: bool
    reason: str | None = Field(description="未达 l3 的原因代码（face_not_found、face_multiple、face_changed、"
                                           "face_challenge_failed、face_mismatch、face_review 等）；从不返回照片或比对距离")
    fields: Verdicts
    face: FaceStatus

