"""The shipped rules (issue 22). They are seeded into the Rule table (migration 0002) and from then on are
configuration: a security admin changes a threshold, window, severity or response in Django admin."""

from __future__ import annotations

from typing import Any

SHIPPED: list[dict[str, Any]] = [
    {"code": "credential_stuffing", "name": "撞库：一个地址尝试多个账号", "key": "address", "threshold": 10,
     "window_seconds": 600, "severity": "high", "response": "throttle", "response_seconds": 1800, "params": {}},
    {"code": "password_spraying", "name": "密码喷洒：多个地址、多个账号，每个账号少量尝试", "key": "platform",
     "threshold": 20, "window_seconds": 3600, "severity": "high", "response": "second_factor",
     "response_seconds": 86400, "params": {"min_addresses": 5}},
    {"code": "id_many_apps", "name": "同一身份号码被多个应用核验", "key": "id_number", "threshold": 5,
     "window_seconds": 3600, "severity": "high", "response": "none", "response_seconds": 0, "params": {}},
    {"code": "inconsistent_ratio", "name": "应用核验不一致比例过高（疑似遍历）", "key": "app", "threshold": 0.5,
     "window_seconds": 600, "severity": "high", "response": "throttle", "response_seconds": 900,
     "params": {"min_sample": 50, "suspend_after": 2}},
    {"code": "officer_reads_zscore", "name": "工作人员读取个人信息远超同部门同事", "key": "officer",
     "threshold": 3.0, "window_seconds": 86400, "severity": "high", "response": "lock_account",
     "response_seconds": 0, "params": {"min_reads": 50, "min_peers": 3, "check_every": 10}},
    {"code": "off_hours_reads", "name": "非工作时间读取个人信息", "key": "officer", "threshold": 10,
     "window_seconds": 3600, "severity": "medium", "response": "none", "response_seconds": 0,
     "params": {"start_hour": 8, "end_hour": 20}},
    {"code": "export_large", "name": "导出数据超过规定条数", "key": "account", "threshold": 1000,
     "window_seconds": 86400, "severity": "medium", "response": "hold_export", "response_seconds": 0,
     "params": {}},
    {"code": "staff_new_network", "name": "工作人员从新的网络登录", "key": "officer", "threshold": 1,
     "window_seconds": 86400, "severity": "medium", "response": "none", "response_seconds": 0, "params": {}},
    {"code": "audit_chain_failure", "name": "审计日志链校验失败", "key": "platform", "threshold": 1,
     "window_seconds": 3600, "severity": "critical", "response": "none", "response_seconds": 0,
     "params": {"open_incident": True}},
    # The login lockout (MLPS 8.1.4.1 b), counted and enforced by tongban.accounts.lockout through
    # tongban.risk.services.login_failure_count: always in force (they cannot be disabled, see MANDATORY).
    {"code": "login_lockout", "name": "登录失败锁定：一个账号多次登录失败", "key": "account", "threshold": 5,
     "window_seconds": 900, "severity": "medium", "response": "lock_account", "response_seconds": 1800,
     "params": {}},
    {"code": "login_address_failures", "name": "登录失败限制：一个地址多次登录失败", "key": "address",
     "threshold": 30, "window_seconds": 900, "severity": "medium", "response": "throttle", "response_seconds": 0,
     "params": {}},
]

LOGIN_LOCKOUT = "login_lockout"
LOGIN_ADDRESS = "login_address_failures"
# Rules the platform cannot run without (the login lockout): they cannot be disabled, and their numbers
# must stay positive; the account's threshold at most MAX_LOGIN_FAILURES (MLPS: a handful of tries).
MANDATORY = frozenset({LOGIN_LOCKOUT, LOGIN_ADDRESS})
MAX_LOGIN_FAILURES = 10


def shipped(code: str) -> dict[str, Any]:
    return next(row for row in SHIPPED if row["code"] == code)
