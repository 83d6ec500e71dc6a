"""What an audit entry can say: the action enumeration and the actor and outcome kinds.

Apps add their actions here, in this one enumeration, so an auditor reads one list. The value is
stored (dotted, stable, English); the label is what the audit screens show. Adding a member needs
no migration: the column carries no database-level choices.
"""

from __future__ import annotations

from django.db import models


class Action(models.TextChoices):
    # Authentication and sessions
    AUTH_LOGIN_SUCCESS = "auth.login.success", "登录成功"
    AUTH_LOGIN_FAILURE = "auth.login.failure", "登录失败"
    AUTH_LOGIN_REFUSED = "auth.login.refused", "拒绝登录（已锁定或来源受限）"
    AUTH_LOGOUT = "auth.logout", "退出登录"
    AUTH_SESSION_TIMEOUT = "auth.session.timeout", "会话超时"
    AUTH_LOCKOUT = "auth.lockout", "账号锁定"
    AUTH_UNLOCK = "auth.unlock", "账号解锁"
    AUTH_TOTP_ENROL = "auth.totp.enrol", "绑定动态口令"
    AUTH_TOTP_VERIFY = "auth.totp.verify", "动态口令验证"
    AUTH_TOTP_RESET = "auth.totp.reset", "重置动态口令"
    AUTH_NETWORK_DENIED = "auth.network.denied", "来源地址受限"
    # Accounts
    ACCOUNT_CREATE = "account.create", "创建账号"
    ACCOUNT_ROLE_CHANGE = "account.role.change", "变更角色"
    ACCOUNT_PASSWORD_CHANGE = "account.password.change", "修改密码"
    ACCOUNT_PASSWORD_RESET = "account.password.reset", "重置密码"
    ACCOUNT_PASSWORD_EXPIRED = "account.password.expired", "密码过期"
    ACCOUNT_DISABLE = "account.disable", "停用账号"
    ACCOUNT_ENABLE = "account.enable", "启用账号"
    ACCOUNT_USERNAME_CHANGE = "account.username.change", "变更用户名"
    ACCOUNT_REGISTER = "account.register", "注册账号"
    ACCOUNT_IDENTITY_VERIFY = "account.identity.verify", "账号实名认证"
    ACCOUNT_PHONE_CHANGE = "account.phone.change", "更换手机号"
    ACCOUNT_CLOSE = "account.close", "注销账号"
    AUTH_SESSION_REVOKE = "auth.session.revoke", "下线会话"
    # Enterprises and their agents
    ENTERPRISE_REGISTER = "enterprise.register", "登记企业"
    ENTERPRISE_AGENT_AUTHORISE = "enterprise.agent.authorise", "授权代理人"
    ENTERPRISE_AGENT_REVOKE = "enterprise.agent.revoke", "撤销代理人"
    ENTERPRISE_AGENT_INVITE = "enterprise.agent.invite", "邀请经办人"
    ENTERPRISE_AGENT_DECLINE = "enterprise.agent.decline", "经办人拒绝邀请"
    ENTERPRISE_AGENT_INVITE_CANCEL = "enterprise.agent.invite.cancel", "撤回经办人邀请"
    ENTERPRISE_ACT_AS = "enterprise.act_as", "以企业身份办事"
    # Personal data and identity verification
    PERSONAL_DATA_READ = "personal_data.read", "读取个人信息"
    PERSONAL_DATA_EXPORT = "personal_data.export", "导出个人信息"
    VERIFICATION_REQUEST = "verification.request", "身份核验请求"
    # Partner verification API (tongban.partners)
    PARTNER_AUTH_FAILURE = "partner.auth.failure", "接入应用签名验证失败"
    PARTNER_APP_CREATE = "partner.app.create", "登记接入应用"
    PARTNER_APP_CHANGE = "partner.app.change", "变更接入应用"
    PARTNER_ABUSE_ALERT = "partner.abuse.alert", "滥用告警"
    PARTNER_ALERT_ACK = "partner.alert.ack", "处理滥用告警"
    # Single sign-on (tongban.sso): sign-ins at relying parties and the tokens they hold
    SSO_SIGNIN = "sso.signin", "单点登录应用"
    SSO_CODE_EXCHANGE = "sso.code.exchange", "授权码换取令牌"
    SSO_CODE_REUSE = "sso.code.reuse", "授权码重复使用（已吊销令牌）"
    SSO_TOKEN_REFRESH = "sso.token.refresh", "刷新令牌轮换"
    SSO_TOKEN_REUSE = "sso.token.reuse", "刷新令牌重复使用（整组吊销）"
    SSO_TOKEN_REVOKE = "sso.token.revoke", "接入应用吊销令牌"
    # Keys and configuration
    KEY_GENERATE = "key.generate", "生成密钥"
    KEY_ROTATE = "key.rotate", "轮换密钥"
    KEY_RETIRE = "key.retire", "停用密钥"
    KEY_DELETE = "key.delete", "删除密钥"
    CONFIG_CHANGE = "config.change", "变更配置"
    # The audit log itself
    AUDIT_READ = "audit.read", "查阅审计日志"
    AUDIT_EXPORT = "audit.export", "导出审计日志"
    AUDIT_VERIFY = "audit.verify", "校验审计日志"
    AUDIT_PURGE = "audit.purge", "清理过期审计日志"
    # The service-item catalog (tongban.catalog)
    CATALOG_ITEM_CREATE = "catalog.item.create", "新建事项"
    CATALOG_VERSION_CREATE = "catalog.version.create", "新建事项版本"
    CATALOG_VERSION_EDIT = "catalog.version.edit", "编辑事项版本"
    CATALOG_VERSION_SUBMIT = "catalog.version.submit", "提交事项审核"
    CATALOG_VERSION_REJECT = "catalog.version.reject", "退回事项版本"
    CATALOG_VERSION_PUBLISH = "catalog.version.publish", "发布事项版本"
    CATALOG_VERSION_RETIRE = "catalog.version.retire", "停用事项版本"
    CATALOG_IMPORT = "catalog.import", "导入实施清单"
    CATALOG_IMPORT_REJECTED = "catalog.import.rejected", "拒绝导入实施清单"
    CATALOG_EXPORT = "catalog.export", "导出实施清单"
    CATALOG_LOAD = "catalog.load", "加载事项数据文件"
    # Background work
    JOB_DEAD = "job.dead", "后台任务失败"
    JOB_RETRY = "job.retry", "重试后台任务"
    JOB_CANCEL = "job.cancel", "取消后台任务"
    JOB_EXPIRED = "job.expired", "后台任务过期未执行"
    # Data exchange with the national platform (tongban.exchange)
    EXCHANGE_DEAD = "exchange.dead", "交换消息转入死信"
    EXCHANGE_REPLAY = "exchange.replay", "重发交换消息"
    EXCHANGE_DISCARD = "exchange.discard", "放弃交换死信"
    EXCHANGE_INSPECT = "exchange.inspect", "查看交换消息（脱敏）"
    EXCHANGE_KEY_ROTATE = "exchange.key.rotate", "轮换交换信封密钥"
    EXCHANGE_INBOUND = "exchange.inbound", "接收国家平台消息"
    EXCHANGE_INBOUND_REFUSED = "exchange.inbound.refused", "拒绝国家平台批次（签名无效）"
    EXCHANGE_RECONCILE = "exchange.reconcile", "交换对账"
    EXCHANGE_BACKFILL = "exchange.backfill", "补发历史数据"
    # Cases (tongban.cases)
    CASE_CREATE = "case.create", "创建办件（草稿）"
    CASE_DRAFT_SAVE = "case.draft.save", "保存办件草稿"
    CASE_TRANSITION = "case.transition", "办件流转"
    CASE_ACTION_REFUSED = "case.action.refused", "拒绝办件操作"
    CASE_ASSIGN = "case.assign", "分派办件"
    CASE_COMMENT = "case.comment", "办件批注"
    CASE_MATERIAL_ADD = "case.material.add", "上传申请材料"
    CASE_MATERIAL_OPEN = "case.material.open", "查看申请材料"
    CASE_MATERIAL_FETCH = "case.material.fetch", "平台获取材料（免提交）"
    CASE_DELIVERY = "case.delivery", "办件寄递事件"
    CASE_RESULT_ISSUE = "case.result.issue", "签发电子结果"
    CASE_RESULT_DOWNLOAD = "case.result.download", "下载电子结果"
    # Evaluations, 好差评 (tongban.evaluation)
    EVALUATION_RATE = "evaluation.rate", "评价办件"
    EVALUATION_CHANGE = "evaluation.change", "修改评价"
    EVALUATION_REFUSED = "evaluation.refused", "拒绝评价"
    EVALUATION_RECEIVE = "evaluation.receive", "接收国家平台评价"
    EVALUATION_VISIT = "evaluation.visit", "差评回访核实"
    EVALUATION_RECTIFY = "evaluation.rectify", "差评整改"
    EVALUATION_FEEDBACK = "evaluation.feedback", "差评整改反馈"
    EVALUATION_FIX_RATE = "evaluation.fix_rate", "评价整改结果"
    EVALUATION_APPEAL = "evaluation.appeal", "差评申诉"
    EVALUATION_APPEAL_DECIDE = "evaluation.appeal.decide", "差评申诉复核"
    EVALUATION_OVERDUE = "evaluation.overdue", "差评整改超期"
    EVALUATION_RATER_READ = "evaluation.rater.read", "查看评价人联系方式（回访）"
    # Police non-tax payments (tongban.payments)
    PAYMENT_DOCUMENT_ISSUE = "payment.document.issue", "签发缴款文书"
    PAYMENT_DOCUMENT_OPEN = "payment.document.open", "查询缴款文书"
    PAYMENT_STATE = "payment.state", "缴款状态变更"
    PAYMENT_NOTIFICATION_REJECTED = "payment.notification.rejected", "拒绝支付结果通知"
    PAYMENT_RECEIPT_ISSUE = "payment.receipt.issue", "开具非税收入电子票据"
    PAYMENT_RECEIPT_DOWNLOAD = "payment.receipt.download", "下载非税收入电子票据"
    PAYMENT_REFUND = "payment.refund", "退款状态变更"
    PAYMENT_RECONCILE = "payment.reconcile", "对账"
    PAYMENT_DIFFERENCE_RESOLVE = "payment.difference.resolve", "处理对账差异"
    # Driving-test booking (tongban.exams)
    EXAMS_SITE_CHANGE = "exams.site.change", "变更考场"
    EXAMS_SESSION_CHANGE = "exams.session.change", "考试场次变更（新建、发布、排定）"
    EXAMS_PERMIT_CHANGE = "exams.permit.change", "驾驶证申请受理与学习驾驶证明"
    EXAMS_BOOKING = "exams.booking", "考试预约（申请、取消）"
    EXAMS_RESULT = "exams.result", "登记考试结果"
    # Traffic-violation handling (tongban.violations)
    VIOLATION_RECORD = "violation.record", "录入交通违法记录"
    VIOLATION_HANDLE = "violation.handle", "处理交通违法（作出处罚决定）"
    VIOLATION_POINTS = "violation.points", "驾驶证记分变更（满分、学习、减分）"
    VIOLATION_DRIVEN_VEHICLE = "violation.driven_vehicle", "驾驶他人机动车备案"
    # One-click car moving, 一键挪车 (tongban.carmove)
    CARMOVE_REQUEST = "carmove.request", "发起挪车请求"
    CARMOVE_REFUSED = "carmove.refused", "拒绝挪车请求"
    CARMOVE_NUDGE = "carmove.nudge", "挪车催单"
    CARMOVE_REPLY = "carmove.reply", "车主答复挪车请求"
    CARMOVE_CONFIRM = "carmove.confirm", "请求人确认已挪车"
    CARMOVE_PHOTO_OPEN = "carmove.photo.open", "查看挪车现场照片"
    CARMOVE_HANDLE = "carmove.handle", "交警处置挪车请求"
    CARMOVE_REVIEW = "carmove.review", "复核有异议的挪车请求"
    CARMOVE_BAN = "carmove.ban", "限制使用挪车服务"
    # Criminal-record certificates, 无犯罪记录证明 (through tongban.cases)
    CRIMINAL_RECORD_CHECK = "criminal_record.check", "查询违法犯罪记录"
    # Real-person verification, 实人 (tongban.face)
    FACE_CHECK = "face.check", "实人核验"
    FACE_REVIEW = "face.review", "实人核验人工复核"
    FACE_IMAGE_OPEN = "face.image.open", "查看实人核验人像"
    # Security risk early warning (tongban.risk)
    RISK_ALERT = "risk.alert", "风险告警"
    RISK_RESPONSE = "risk.response", "自动响应生效"
    RISK_RESPONSE_LIFT = "risk.response.lift", "解除自动响应"
    RISK_ALERT_ACK = "risk.alert.ack", "处理风险告警"
    RISK_EXPORT_DECIDE = "risk.export.decide", "审批导出工单"
    RISK_INCIDENT = "risk.incident", "安全事件处置"
    RISK_RULE_CHANGE = "risk.rule.change", "变更风险规则"


class ActorType(models.TextChoices):
    USER = "user", "用户"
    PARTNER_APP = "partner_app", "接入应用"
    SYSTEM = "system", "系统"
    ANONYMOUS = "anonymous", "匿名"


class Outcome(models.TextChoices):
    SUCCESS = "success", "成功"
    FAILURE = "failure", "失败"
    DENIED = "denied", "拒绝"
    ERROR = "error", "出错"


def action_label(value: str) -> str:
    """The Chinese label of a stored action value; an unknown (retired) value shows as itself."""
    try:
        return str(Action(value).label)
    except ValueError:
        return value


# tongban.accounts.events.SecurityEvent values → actions, for wiring record_security_event to audit_record.
SECURITY_EVENT_ACTIONS: dict[str, Action] = {
    "login_succeeded": Action.AUTH_LOGIN_SUCCESS,
    "login_failed": Action.AUTH_LOGIN_FAILURE,
    "login_refused": Action.AUTH_LOGIN_REFUSED,
    "logout": Action.AUTH_LOGOUT,
    "session_idle_timeout": Action.AUTH_SESSION_TIMEOUT,
    "session_expired": Action.AUTH_SESSION_TIMEOUT,
    "account_locked": Action.AUTH_LOCKOUT,
    "account_unlocked": Action.AUTH_UNLOCK,
    "totp_enrolment_started": Action.AUTH_TOTP_ENROL,
    "totp_enrolled": Action.AUTH_TOTP_ENROL,
    "totp_failed": Action.AUTH_TOTP_VERIFY,
    "totp_verified": Action.AUTH_TOTP_VERIFY,
    "totp_reset": Action.AUTH_TOTP_RESET,
    "role_changed": Action.ACCOUNT_ROLE_CHANGE,
    "staff_created": Action.ACCOUNT_CREATE,
    "password_changed": Action.ACCOUNT_PASSWORD_CHANGE,
    "password_reset": Action.ACCOUNT_PASSWORD_RESET,
    "password_expired": Action.ACCOUNT_PASSWORD_EXPIRED,
    "network_denied": Action.AUTH_NETWORK_DENIED,
}
