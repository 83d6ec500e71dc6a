"""The partner API's request and answer shapes (pydantic v2): they validate input, and the OpenAPI
description at /partner/v1/openapi.json is generated from them, so the two cannot drift apart."""

from __future__ import annotations

import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

IdType = Literal["resident_id", "hk_macao_permit"]
Level = Literal["l1", "l2"]
ReachedLevel = Literal["none", "l1", "l2"]
Verdict = Literal["consistent", "inconsistent", "source_unavailable", "not_checked"]
LONG_TERM = "长期"

MAX_BATCH = 100


class Person(BaseModel):
    """One person to verify. Card validity is needed for l2 with a resident ID."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id_type: IdType = Field("resident_id", description="resident_id 居民身份证；hk_macao_permit 港澳居民来往内地通行证")
    id_number: str = Field(min_length=1, max_length=32, description="证件号码（通行证可带 2 位换证次数）")
    name: str = Field(min_length=1, max_length=100, description="姓名")
    valid_from: datetime.date | None = Field(None, description="身份证有效期起始日期 YYYY-MM-DD（l2 必填）")
    valid_to: datetime.date | Literal["长期"] | None = Field(
        None, description="身份证有效期截止日期 YYYY-MM-DD，或“长期”（l2 必填）")


class VerificationRequest(Person):
    level: Level = Field(description="认证等级：l1 实名，l2 实证")
    purpose: str = Field(min_length=1, max_length=32, description="用途代码，须为应用登记的用途之一")


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    level: Level
    purpose: str = Field(min_length=1, max_length=32)
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
