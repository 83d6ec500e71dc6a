"""The start-up self-test passes on a good build and stops the platform, naming the algorithm, on a bad one."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from tongban.crypto import _libcrypto, selftest
from tongban.crypto.errors import CryptoSelfTestError, OpenSSLError


def test_selftest_passes_quickly():
    report = selftest.run_selftest()
    assert report.algorithms == ("SM3", "HMAC-SM3", "SM4", "SM4-GCM", "SM2")
    assert report.milliseconds < 100
    assert report.libcrypto.startswith("OpenSSL 3.")


def test_the_crypto_app_is_installed_and_ready():
    config = apps.get_app_config("crypto")
    assert config.verbose_name == "国产密码"
    config.ready()  # passes: no exception


@pytest.mark.parametrize(
    ("patch", "algorithm"),
    [
        (lambda mp: mp.setattr(selftest, "SM3_VECTORS", [(b"abc", "00" * 32)]), "SM3"),
        (lambda mp: mp.setattr(selftest, "HMAC_SM3_VECTORS", [(b"k", b"d", "00" * 32)]), "HMAC-SM3"),
        (lambda mp: mp.setitem(selftest.SM4_BLOCK_VECTOR, "ciphertext", "00" * 16), "SM4"),
        (lambda mp: mp.setitem(selftest.SM4_GCM_VECTOR, "tag", "00" * 16), "SM4-GCM"),
        (lambda mp: mp.setitem(selftest.SM2_VECTOR, "s", "00" * 31 + "01"), "SM2"),
        (lambda mp: mp.setitem(selftest.SM2_VECTOR, "za", "00" * 32), "SM2"),
    ],
)
def test_a_broken_known_answer_stops_start_up(monkeypatch, patch, algorithm):
    patch(monkeypatch)
    with pytest.raises(CryptoSelfTestError) as info:
        selftest.run_selftest()
    assert info.value.algorithm == algorithm
    with pytest.raises(ImproperlyConfigured) as info2:
        apps.get_app_config("crypto").ready()
    message = str(info2.value)
    assert algorithm in message
    assert "自检失败" in message and "self-test failed" in message


def test_a_broken_implementation_is_caught(monkeypatch):
    from tongban.crypto import sm4

    monkeypatch.setattr(sm4.SM4GCM, "seal", lambda self, nonce, pt, aad=b"": b"\x00" * (len(pt) + 16))
    with pytest.raises(ImproperlyConfigured, match="SM4-GCM"):
        apps.get_app_config("crypto").ready()


def test_a_missing_libcrypto_is_reported_as_an_sm2_failure(monkeypatch):
    def no_library():
        raise OpenSSLError("no usable OpenSSL 3 libcrypto.so.3 (install Debian's libssl3)")

    monkeypatch.setattr(_libcrypto, "lib", no_library)
    with pytest.raises(ImproperlyConfigured, match="SM2.*libssl3"):
        apps.get_app_config("crypto").ready()
