"""The OpenID Connect provider's tables: clients (relying parties), signing keys, consents, the
sessions each relying party took part in (for single logout), and accounts linked from the national
platform. docs/sso.md tells the whole story.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AbstractApplication

from tongban.crypto.fields import EncryptedBinaryField, EncryptedModel


class IdTokenAlg(models.TextChoices):
    ES256 = "ES256", "ES256（ECDSA P-256，默认）"
    RS256 = "RS256", "RS256（RSA 2048）"
    SM2SM3 = "SM2SM3", "SM2SM3（国密，须双方约定）"


class ClientAuthMethod(models.TextChoices):
    SECRET_BASIC = "client_secret_basic", "client_secret_basic（密钥，HTTP Basic）"
    PRIVATE_KEY_JWT = "private_key_jwt", "private_key_jwt（客户端私钥签名断言）"
    NONE = "none", "none（公共客户端，须 PKCE）"


class ClientSecretHmacField(models.CharField):  # type: ignore[type-arg]
    """A client secret kept only as `hmac-sm3$<key id>$<hex>` (tongban.sso.secrets).

    Secrets are long random values, not passwords: a keyed hash is as strong as a slow password
    hash against a database thief who lacks the key, and costs microseconds instead of ~100 ms.
    """

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        from tongban.sso.secrets import hash_secret, is_hashed

        value = getattr(model_instance, self.attname)
        if value and not is_hashed(value):
            value = hash_secret(value)
            setattr(model_instance, self.attname, value)
        return super().pre_save(model_instance, add)


def _new_client_secret() -> str:
    from tongban.sso.secrets import generate_secret

    return generate_secret()


# What the provider serves (docs/sso.md): the code flow (with refresh tokens) and client credentials. The
# other grant types of django-oauth-toolkit's model (implicit, password, hybrid, device code) are not
# offered: the registry's form does not list them and a client cannot be saved with one.
GRANT_CHOICES = [
    (AbstractApplication.GRANT_AUTHORIZATION_CODE, "授权码模式（用户登录，含刷新令牌）"),
    (AbstractApplication.GRANT_CLIENT_CREDENTIALS, "客户端凭证模式（仅系统间调用）"),
]
CLIENT_TYPE_CHOICES = [
    (AbstractApplication.CLIENT_CONFIDENTIAL, "机密客户端（服务端保存密钥）"),
    (AbstractApplication.CLIENT_PUBLIC, "公共客户端（不持有密钥，如移动应用）"),
]


class Client(AbstractApplication):
    """A relying party: a provincial platform, the national platform, a business system."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+", verbose_name="登记人")
    client_secret = ClientSecretHmacField("客户端密钥", max_length=255, blank=True, default=_new_client_secret,
                                          help_text=_("仅保存 HMAC-SM3 摘要；明文只在创建时显示一次。"))
    algorithm = models.CharField("ID Token 签名算法", max_length=8, choices=IdTokenAlg.choices,
                                 default=IdTokenAlg.ES256)
    organisation = models.CharField("所属单位", max_length=200, blank=True)
    sector_identifier = models.CharField(
        "扇区标识", max_length=200, blank=True,
        help_text=_("同一扇区的应用得到同一个 sub；留空则取第一个回调地址的主机名。"))
    allowed_levels = models.CharField("允许请求的认证等级", max_length=20, default="1,2",
                                      help_text=_("逗号分隔：1 实名、2 实证、3 实人"))
    allowed_scopes = models.CharField("允许的权限范围", max_length=300, default="openid",
                                      help_text=_("空格分隔，如 openid realname idcard_masked phone"))
    allow_client_credentials = models.BooleanField("允许客户端凭证模式（系统间调用）", default=False)
    token_endpoint_auth_method = models.CharField("客户端认证方式", max_length=32, choices=ClientAuthMethod.choices,
                                                  default=ClientAuthMethod.SECRET_BASIC)
    jwks = models.JSONField("客户端公钥（JWKS）", null=True, blank=True,
                            help_text=_("private_key_jwt 使用：{\"keys\": [...]}，只含公钥"))
    backchannel_logout_uri = models.URLField("后端通道退出地址", max_length=500, blank=True)
    contacts = models.TextField("联系人", blank=True, help_text=_("姓名（职务）与联系电话或邮箱，每行一位"))
    is_active = models.BooleanField("启用", default=True)

    class Meta(AbstractApplication.Meta):
        verbose_name = "接入应用（OIDC 客户端）"
        verbose_name_plural = "接入应用（OIDC 客户端）"

    def __str__(self) -> str:
        return self.name or self.client_id

    def clean(self) -> None:
        # DOT's own checks (RSA key in settings, HS256) do not apply: tongban signs with its own keys.
        from django.core.exceptions import ValidationError

        errors: dict[str, str] = {}
        if self.authorization_grant_type not in dict(GRANT_CHOICES):
            errors["authorization_grant_type"] = "不支持该授权方式：仅支持授权码模式和客户端凭证模式。"
        elif self.authorization_grant_type == self.GRANT_AUTHORIZATION_CODE and not self.redirect_uris.split():
            errors["redirect_uris"] = "授权码模式须登记至少一个回调地址。"
        for uri in self.redirect_uris.split():
            if "*" in uri or "#" in uri:
                errors["redirect_uris"] = "回调地址须完整、精确，不可含通配符或片段。"
        if self.client_type == self.CLIENT_PUBLIC and (
                self.allow_client_credentials or self.authorization_grant_type == self.GRANT_CLIENT_CREDENTIALS):
            errors["client_type"] = "公共客户端不持有密钥，不能使用客户端凭证模式。"
        if self.client_type == self.CLIENT_PUBLIC and self.token_endpoint_auth_method != ClientAuthMethod.NONE:
            errors["token_endpoint_auth_method"] = "公共客户端不持有密钥：认证方式应为 none（并须使用 PKCE）。"  # noqa: S105
        if self.token_endpoint_auth_method == ClientAuthMethod.PRIVATE_KEY_JWT and not self.jwks:
            errors["jwks"] = "private_key_jwt 须登记客户端公钥。"
        try:
            levels = self.levels
        except ValueError:
            errors["allowed_levels"] = "认证等级应为 1、2、3 的逗号分隔列表。"
        else:
            if not levels:
                errors["allowed_levels"] = "至少允许一个认证等级。"
        if errors:
            raise ValidationError(errors)

    @property
    def levels(self) -> frozenset[int]:
        values = {int(v) for v in self.allowed_levels.replace(" ", "").split(",") if v}
        if not values <= {1, 2, 3}:
            raise ValueError("levels are 1, 2, 3")
        return frozenset(values)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.allowed_scopes.split())

    @property
    def sector(self) -> str:
        if self.sector_identifier:
            return self.sector_identifier
        from urllib.parse import urlsplit

        first = (self.redirect_uris.split() or [""])[0]
        return urlsplit(first).hostname or f"client:{self.client_id}"

    def allows_grant_type(self, *grant_types: str) -> bool:
        if self.authorization_grant_type in grant_types:
            return True
        return self.allow_client_credentials and self.GRANT_CLIENT_CREDENTIALS in grant_types

    def is_usable(self, request: Any) -> bool:
        return self.is_active


class SigningKeyState(models.TextChoices):
    CURRENT = "current", "当前"
    RETIRING = "retiring", "退役中（仍公布，直至其令牌过期）"
    RETIRED = "retired", "已退役"


class SigningKey(EncryptedModel):
    """A key that signs ID tokens and logout tokens. The private half is SM4-GCM encrypted (field
    encryption under the key hierarchy); the public JWK is published in the JWKS while the key is
    current or retiring, so tokens it signed keep verifying until they expire."""

    kid = models.CharField("密钥标识", max_length=64, unique=True)
    alg = models.CharField("算法", max_length=8, choices=IdTokenAlg.choices)
    state = models.CharField("状态", max_length=16, choices=SigningKeyState.choices, default=SigningKeyState.CURRENT)
    private_jwk = EncryptedBinaryField("私钥（加密）")
    public_jwk = models.JSONField("公钥 JWK")
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    retiring_at = models.DateTimeField("开始退役", null=True, blank=True)
    publish_until = models.DateTimeField("公布截止", null=True, blank=True)

    class Meta:
        verbose_name = "签名密钥"
        verbose_name_plural = "签名密钥"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["alg"], condition=Q(state="current"), name="sso_signingkey_one_current"),
        ]

    def __str__(self) -> str:
        return self.kid


class ProviderSecret(EncryptedModel):
    """A provider-wide secret that must never change (the pairwise-subject key) or that keys a fast
    hash (client secrets), generated once and kept SM4-GCM encrypted."""

    name = models.CharField(max_length=32, unique=True)
    value = EncryptedBinaryField("密钥（加密）")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "提供方密钥"
        verbose_name_plural = "提供方密钥"


class Consent(models.Model):
    """What a person agreed to share with a client. Remembered until revoked on /me/authorizations/."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_consents")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    scopes = models.CharField("授权范围", max_length=300)
    granted_at = models.DateTimeField("授权时间", default=timezone.now)
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)

    class Meta:
        verbose_name = "授权同意"
        verbose_name_plural = "授权同意"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "client"], condition=Q(revoked_at__isnull=True),
                                    name="sso_consent_one_active"),
        ]

    def __str__(self) -> str:
        return f"授权 #{self.pk}"

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class SessionParticipation(models.Model):
    """One sign-in at a client from one browser session: what was asserted (acr, amr, auth_time),
    the code and the tokens it gave. Logging out of the session notifies every client it touched."""

    sid = models.CharField("会话标识", max_length=64, db_index=True)
    # SHA-256 of the Django session key (as accounts.LoginSession.key_hash): a session ended without a
    # logout (revoked from the device list, password recovered, account closed) still ends its sign-ins.
    session_key_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    issuer = models.CharField("签发者", max_length=200, blank=True, default="")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="participations")
    level = models.PositiveSmallIntegerField("认证等级", default=0)
    amr = models.CharField("认证方式", max_length=64, blank=True)
    auth_time = models.DateTimeField("认证时间")
    code_hash = models.CharField(max_length=64, unique=True)
    code_used_at = models.DateTimeField(null=True, blank=True)
    access_token_id = models.BigIntegerField(null=True, blank=True)
    refresh_family = models.UUIDField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField("登录时间", default=timezone.now, db_index=True)
    ended_at = models.DateTimeField("退出时间", null=True, blank=True)

    class Meta:
        verbose_name = "单点登录记录"
        verbose_name_plural = "单点登录记录"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["client", "created_at"], name="sso_part_client_created"),
        ]

    def __str__(self) -> str:
        return f"登录 #{self.pk}"


class FederatedIdentity(models.Model):
    """An account linked to an identity provider we trust (the national platform), by the provider's
    subject. The link was made by the verified identity (the ID number's blind index), never by a phone."""

    provider = models.CharField("身份提供方", max_length=32)
    subject = models.CharField("对方标识", max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="federated_identities")
    level_asserted = models.PositiveSmallIntegerField("对方断言等级", default=0)
    created_account = models.BooleanField("由联合登录创建账号", default=False)
    linked_at = models.DateTimeField("关联时间", default=timezone.now)
    last_login_at = models.DateTimeField("最近登录", null=True, blank=True)

    class Meta:
        verbose_name = "联合登录关联"
        verbose_name_plural = "联合登录关联"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["provider", "subject"], name="sso_federated_provider_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} #{self.pk}"
