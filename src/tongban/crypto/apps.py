"""The crypto app: runs the known-answer self-test when Django starts and refuses to start on failure."""

from __future__ import annotations

import logging

from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger("tongban.crypto")


class CryptoConfig(AppConfig):
    name = "tongban.crypto"
    label = "crypto"
    verbose_name = "国产密码"

    def ready(self) -> None:
        from tongban.crypto.errors import CryptoSelfTestError
        from tongban.crypto.selftest import run_selftest

        try:
            report = run_selftest()
        except CryptoSelfTestError as exc:
            raise ImproperlyConfigured(
                f"国产密码算法自检失败：{exc.algorithm}（{exc.detail}），平台拒绝启动。"
                f" Cryptographic self-test failed for {exc.algorithm} ({exc.detail});"
                " the platform refuses to start."
            ) from exc
        logger.info(
            "crypto self-test passed: %s in %.1f ms (%s)",
            ", ".join(report.algorithms),
            report.milliseconds,
            report.libcrypto,
        )
