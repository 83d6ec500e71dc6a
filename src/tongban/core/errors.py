"""Errors with a stable machine code and a message in Chinese and English (invariant 7).

Every JSON endpoint answers failures with the same envelope:
    {"error": {"code": "...", "message": "...", "request_id": "...", "details": [...]}}
Raise `TongbanError` (or a subclass) from services; the API layer turns it into the envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# code -> (HTTP status, Chinese message, English message)
CATALOG: dict[str, tuple[int, str, str]] = {
    "bad_request": (400, "请求格式不正确。", "The request is malformed."),
    "invalid_json": (400, "请求体不是有效的 JSON。", "The request body is not valid JSON."),
    "validation_error": (422, "请求参数校验失败。", "The request did not pass validation."),
    "unauthenticated": (401, "需要登录或提供有效凭证。", "Authentication is required."),
    "forbidden": (403, "无权执行此操作。", "You are not allowed to do this."),
    "not_found": (404, "请求的资源不存在。", "The requested resource does not exist."),
    "method_not_allowed": (405, "不支持该请求方法。", "This method is not allowed here."),
    "conflict": (409, "请求与当前状态冲突。", "The request conflicts with the current state."),
    "payload_too_large": (413, "请求体过大。", "The request body is too large."),
    "unsupported_media_type": (415, "不支持的内容类型。", "Unsupported content type."),
    "rate_limited": (429, "请求过于频繁，请稍后再试。", "Too many requests; try again later."),
    "internal_error": (500, "系统繁忙，请稍后再试。", "Something went wrong on our side; try again later."),
    "service_unavailable": (503, "服务暂时不可用，请稍后重试。", "The service is temporarily unavailable; retry shortly."),
    "source_unavailable": (503, "权威数据源暂不可用。", "An authoritative source is unavailable."),
    "not_ready": (503, "服务尚未就绪。", "The service is not ready."),
    "invalid_date": (422, "日期不正确。", "The date is not valid."),
    "invalid_id_number": (422, "公民身份号码不正确。", "The citizen ID number is not valid."),
    # Accounts, access control and uploads (tongban.accounts, tongban.core.uploads).
    "separation_of_duties": (409, "职责分离：该角色组合不允许由同一账号兼任。",
                             "Separation of duties: these roles may not be held by one account."),
    "invalid_staff_scope": (422, "部门警种或辖区代码不正确。", "The department or region code is not valid."),
    "password_rejected": (422, "新密码不符合密码策略。", "The new password does not meet the password policy."),
    "upload_empty": (422, "上传的文件为空。", "The uploaded file is empty."),
    "upload_too_large": (413, "上传的文件过大。", "The uploaded file is too large."),
    "upload_type_not_allowed": (415, "不支持该文件类型，请上传 JPEG、PNG 图片或 PDF 文件。",
                                "This file type is not accepted; upload a JPEG or PNG image or a PDF."),
    "upload_corrupt": (422, "文件已损坏或与其类型不符。", "The file is damaged or is not what its type says."),
    # Real-person verification (tongban.face; docs/face.md)
    "face_unavailable": (503, "本平台暂未开通实人认证（刷脸）功能。",
                         "Real-person (face) verification is not available on this platform."),
    "face_challenge_invalid": (422, "动作提示已失效，请重新开始。",
                               "The challenge has expired or was already used; start again."),
    "face_frames_invalid": (422, "画面帧数不符合要求（4–12 帧）。", "Send 4 to 12 frames."),
    # Identifiers (tongban.core.identifiers) and identity verification (tongban.verification).
    "id_format": (422, "公民身份号码格式不正确：应为 18 位，前 17 位为数字，末位为数字或 X。",
                  "The citizen ID number must be 18 characters: 17 digits and a digit or X."),
    "id_region": (422, "公民身份号码中的行政区划代码不存在。",
                  "The region code in the citizen ID number does not exist."),
    "id_birth_date": (422, "公民身份号码中的出生日期不正确。",
                      "The birth date in the citizen ID number is not a real date, or is in the future."),
    "id_checksum": (422, "公民身份号码校验码不正确，请检查是否输错。",
                    "The citizen ID number's check digit is wrong; check for a typing mistake."),
    "residence_permit_format": (422, "港澳居民居住证号码格式不正确：应为 810000（香港）或 820000（澳门）开头的 18 位号码。",
                                "A HK/Macao residence permit number is 18 characters starting 810000 (HK) or 820000 (Macao)."),
    "residence_permit_birth_date": (422, "港澳居民居住证号码中的出生日期不正确。",
                                    "The birth date in the residence permit number is not valid."),
    "residence_permit_checksum": (422, "港澳居民居住证号码校验码不正确，请检查是否输错。",
                                  "The residence permit number's check digit is wrong; check for a typing mistake."),
    "travel_permit_format": (422, "港澳居民来往内地通行证号码格式不正确：应为 H 或 M 加 8 位数字，可带 2 位换证次数。",
                             "A Mainland Travel Permit number is H or M and 8 digits, optionally 2 more digits."),
    "uscc_format": (422, "统一社会信用代码格式不正确：应为 18 位数字或大写字母（不含 I、O、S、V、Z）。",
                    "The unified social credit code must be 18 digits or capital letters (no I, O, S, V, Z)."),
    "uscc_checksum": (422, "统一社会信用代码校验码不正确，请检查是否输错。",
                      "The unified social credit code's check character is wrong; check for a typing mistake."),
    "mobile_invalid": (422, "手机号码不正确：应为 11 位内地手机号码，或 +852、+853 开头的 8 位港澳手机号码。",
                       "The mobile number must be an 11-digit mainland number, or an 8-digit Hong Kong (+852) "
                       "or Macao (+853) mobile number."),
    "name_invalid": (422, "姓名不正确。", "The name is not valid."),
    "card_validity_invalid": (422, "身份证有效期不正确：请填写起始日期，以及截止日期或“长期”。",
                              "Give the ID card's validity start and its end date, or long-term."),
    "level_not_supported": (422, "暂不支持所请求的认证等级。", "The requested assurance level is not supported."),
    # The service-item catalog (tongban.catalog).
    "catalog_invalid": (422, "事项内容未通过校验，请按提示修改。", "The item's content did not pass validation."),
    "catalog_state": (409, "该事项版本的当前状态不允许此操作。", "The item version's state does not allow this."),
    "catalog_four_eyes": (409, "双人复核：审核人不得为该版本的编辑人或提交人。",
                          "Four eyes: the reviewer may not be an editor or the submitter of the version."),
    "catalog_open_version": (409, "该事项已有未发布的版本，请先完成或退回该版本。",
                             "The item already has an unpublished version; finish it first."),
    "catalog_import_invalid": (422, "导入文件未通过校验，未导入任何内容。",
                               "The import file did not pass validation; nothing was imported."),
    # Police non-tax payments (tongban.payments, docs/payments.md).
    "payment_already_paid": (409, "该缴款文书已缴款，无需重复缴纳。", "This notice or decision is already paid."),
    "payment_document_closed": (409, "该缴款文书已作废，不能缴款。", "This notice or decision was cancelled."),
    "payment_gateway_unavailable": (503, "支付平台暂时不可用，请稍后再试。",
                                    "The payment gateway is unavailable; try again shortly."),
    "payment_invalid": (422, "缴款信息不正确，请按提示修改。", "The payment details are not valid."),
    "refund_invalid": (422, "退款申请不正确。", "The refund request is not valid."),
    "refund_four_eyes": (409, "双人复核：退款须由申请人以外的另一名工作人员审批。",
                         "Four eyes: a refund is approved by someone other than who asked for it."),
    "refund_state": (409, "该退款的当前状态不允许此操作。", "The refund's state does not allow this."),
    # The partner verification API (tongban.partners, docs/partner-api.md).
    "signature_invalid": (401, "请求签名无效，或应用标识不存在。",
                          "The request signature is invalid, or the app is not known."),
    "timestamp_out_of_window": (401, "请求时间戳超出允许的时间窗口（±5 分钟）。",
                                "The request timestamp is outside the allowed window (±5 minutes)."),
    "nonce_replayed": (401, "请求随机数已使用过（疑似重放）。", "This nonce was used before (a replay?)."),
    "app_suspended": (403, "该接入应用已暂停使用。", "This app is suspended."),
    "app_throttled": (429, "该应用不一致结果比例过高，已暂停核验，请稍后再试。",
                      "Too many inconsistent answers for this app; verification is paused for a while."),
    "identity_throttled": (429, "该身份在短时间内核验次数过多，请稍后再试。",
                           "This identity was verified too often recently; try again later."),
    "purpose_required": (422, "须提供用途代码（purpose）。", "A purpose code is required."),
    "purpose_not_allowed": (403, "该应用无权使用此用途代码。", "This app may not use this purpose code."),
    "level_not_allowed": (403, "该应用无权请求此认证等级。", "This app may not ask for this assurance level."),
    "quota_exceeded": (429, "该应用今日调用次数已达配额。", "This app has used up today's quota."),
    "idempotency_conflict": (409, "幂等键已用于内容不同的请求。",
                             "This Idempotency-Key was used with a different request."),
    "idempotency_key_invalid": (422, "幂等键格式不正确：1-128 位字母、数字或 ._:- 。",
                                "An Idempotency-Key is 1-128 letters, digits or ._:- characters."),
    "batch_too_large": (422, "批量核验每次最多 100 人。", "A batch holds at most 100 people."),
}


def message_for(code: str, language: str | None) -> str:
    """The message in Simplified Chinese, Traditional Chinese (zh-Hant, zh-TW/HK/MO) or English."""
    _, zh, en = CATALOG.get(code, CATALOG["internal_error"])
    if (language or "").lower().startswith("en"):
        return en
    return _localized_zh(zh, language)


def _localized_zh(text: str, language: str | None) -> str:
    from tongban.core.hant import is_traditional_language, to_traditional

    return to_traditional(text) if is_traditional_language(language) else text


def status_for(code: str) -> int:
    return CATALOG.get(code, CATALOG["internal_error"])[0]


@dataclass
class TongbanError(Exception):
    """A failure the caller can act on. `code` must be in CATALOG (or give status/message)."""

    code: str
    message_zh: str | None = None
    message_en: str | None = None
    status: int | None = None
    details: list[dict[str, Any]] | None = None
    headers: dict[str, str] | None = None

    def __post_init__(self) -> None:
        super().__init__(self.code)
        if self.code not in CATALOG and (self.status is None or self.message_zh is None):
            raise ValueError(f"error code {self.code!r} needs a status and a message")

    def http_status(self) -> int:
        return self.status if self.status is not None else status_for(self.code)

    def message(self, language: str | None) -> str:
        english = (language or "").lower().startswith("en")
        if english and self.message_en:
            return self.message_en
        if not english and self.message_zh:
            return _localized_zh(self.message_zh, language)
        return message_for(self.code, language)


def error_body(
    code: str,
    *,
    language: str | None,
    request_id: str | None,
    message: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message or message_for(code, language)}
    if request_id:
        body["request_id"] = request_id
    if details:
        body["details"] = details
    return {"error": body}
