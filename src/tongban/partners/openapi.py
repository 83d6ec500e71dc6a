"""The OpenAPI 3.1 description of /partner/v1/, generated from the pydantic models in schemas.py."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from tongban.core.errors import CATALOG
from tongban.partners import schemas

_SIGNED_HEADERS = [
    {"name": "X-Tongban-App", "in": "header", "required": True,
     "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,32}$"}, "description": "应用标识（pa_ 加 20 个字符）"},
    {"name": "X-Tongban-Timestamp", "in": "header", "required": True,
     "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"}, "description": "Unix 时间（秒），与平台时间相差不超过 300 秒"},
    {"name": "X-Tongban-Nonce", "in": "header", "required": True,
     "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"}, "description": "一次性随机数"},
    {"name": "X-Tongban-Signature", "in": "header", "required": True,
     "schema": {"type": "string", "pattern": "^[A-Za-z0-9+/]{4,}={0,2}$"},
     "description": "base64(SM2 签名 r||s)，签名原文见 docs/partner-api.md"},
]
_IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
                "description": "幂等键：24 小时内相同键、相同请求返回首次应答"}
_RESPONSE_HEADERS = {
    "X-Tongban-Response-Signature": {"schema": {"type": "string"},
                                     "description": "平台对应答的 SM2 签名（base64 r||s）"},
    "X-Tongban-Key-Id": {"schema": {"type": "string"}, "description": "签名所用平台密钥（见 /partner/v1/keys）"},
    "X-Tongban-Nonce": {"schema": {"type": "string"}, "description": "请求随机数回显"},
}


def _errors(*codes: str) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(CATALOG[code][0], []).append(code)
    result: dict[str, Any] = {}
    for status, names in sorted(by_status.items()):
        headers = dict(_RESPONSE_HEADERS)
        if status in (429, 503):
            headers["Retry-After"] = {"schema": {"type": "integer"}, "description": "秒"}
        result[str(status)] = {
            "description": "、".join(names),
            "headers": headers,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        }
    return result


_AUTH_ERRORS = ("signature_invalid", "timestamp_out_of_window", "nonce_replayed", "app_suspended", "rate_limited",
                "payload_too_large", "invalid_json", "validation_error", "purpose_required", "purpose_not_allowed",
                "level_not_allowed", "quota_exceeded", "idempotency_conflict", "idempotency_key_invalid",
                "internal_error", "service_unavailable")


def _post(operation_id: str, summary: str, description: str, request: str, response: str,
          *extra_errors: str) -> dict[str, Any]:
    return {"post": {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "parameters": [*_SIGNED_HEADERS, _IDEMPOTENCY],
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{request}"}}}},
        "responses": {
            "200": {"description": "核验结果（只有核验结论，从不返回任何权威数据）", "headers": _RESPONSE_HEADERS,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{response}"}}}},
            **_errors(*_AUTH_ERRORS, *extra_errors),
        },
    }}


@cache
def document() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation" if m in (schemas.VerificationRequest, schemas.BatchRequest) else "serialization")
         for m in (schemas.VerificationRequest, schemas.BatchRequest, schemas.VerificationResponse,
                   schemas.BatchResponse, schemas.ErrorResponse, schemas.KeysResponse,
                   schemas.FaceChallengeRequest, schemas.FaceChallengeResponse, schemas.FaceVerificationRequest,
                   schemas.FaceVerificationResponse)],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tongban 身份核验接入接口 (partner API)",
            "version": "1",
            "description": ("请求与应答均以 SM2-with-SM3 签名（用户 ID 1234567812345678，签名格式 base64(r||s)）。"
                            "签名原文、示例与错误码见 docs/partner-api.md。"),
        },
        "servers": [{"url": "/"}],
        "paths": {
            "/partner/v1/verifications": _post(
                "createVerification", "核验一人", "按认证等级（l1 实名、l2 实证）核验一人的证件号码、姓名与证件有效期。",
                "VerificationRequest", "VerificationResponse", "app_throttled", "identity_throttled",
                "id_format", "id_region", "id_birth_date", "id_checksum", "travel_permit_format", "name_invalid",
                "card_validity_invalid"),
            "/partner/v1/verifications/batch": _post(
                "createVerificationBatch", "批量核验（最多 100 人）", "逐人独立作答；某人出错不影响其他人。配额按人数计。",
                "BatchRequest", "BatchResponse", "batch_too_large"),
            "/partner/v1/face/challenges": _post(
                "createFaceChallenge", "实人认证：取动作", "取一个随机转头动作（一次有效，180 秒）；应用须获准 l3。",
                "FaceChallengeRequest", "FaceChallengeResponse", "face_unavailable"),
            "/partner/v1/face/verifications": _post(
                "createFaceVerification", "实人认证（l3）", "先按 l2 核验身份，再将画面与现持身份证照片比对；只返回结论。",
                "FaceVerificationRequest", "FaceVerificationResponse", "face_unavailable", "face_challenge_invalid",
                "face_frames_invalid", "upload_too_large", "upload_type_not_allowed", "upload_corrupt",
                "source_unavailable", "app_throttled", "identity_throttled", "id_format", "id_region",
                "id_birth_date", "id_checksum", "name_invalid", "card_validity_invalid"),
            "/partner/v1/keys": {"get": {
                "operationId": "listKeys",
                "summary": "平台应答签名公钥",
                "description": ("当前及仍可能出现在应答中的平台 SM2 公钥（按 X-Tongban-Key-Id 选用）。"
                                "应答同样签名（无请求随机数时随机数为空）。"),
                "parameters": [{"name": "X-Tongban-Nonce", "in": "header", "required": False,
                                "schema": {"type": "string"}, "description": "可选：在应答签名中回显"}],
                "responses": {"200": {"description": "公钥列表", "headers": _RESPONSE_HEADERS,
                                      "content": {"application/json": {
                                          "schema": {"$ref": "#/components/schemas/KeysResponse"}}}},
                              **_errors("internal_error", "service_unavailable")},
            }},
        },
        "components": {"schemas": defs["$defs"]},
    }
