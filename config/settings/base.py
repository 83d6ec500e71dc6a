"""Settings shared by every environment. Values from outside come only through config.env."""

from __future__ import annotations

import secrets
from pathlib import Path

from config import env as envmod

ENV = envmod.load()
BASE_DIR = envmod.BASE_DIR
VAR_DIR = BASE_DIR / "var"


def _development_secret_key() -> str:
    """A per-checkout key kept under var/, so sessions survive a restart of the demo."""
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = ENV.secret_key or _development_secret_key()
DEBUG = ENV.debug
ALLOWED_HOSTS = ENV.allowed_hosts
CSRF_TRUSTED_ORIGINS = ENV.csrf_trusted_origins

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # django-ninja as an app only for its templates and static files: the API docs page (/api/v1/docs) loads
    # Swagger UI from this site, not from a CDN the site's CSP blocks (no network at run time either).
    "ninja",
    "django_otp",
    "tongban.core",
    "tongban.accounts",
    "tongban.crypto",
    "tongban.audit",
    "tongban.jobs",
    "tongban.registry",
    "tongban.verification",
    "tongban.face",
    "tongban.notifications",
    "tongban.cases",
    "tongban.evaluation",
    "tongban.payments",
    "tongban.exams",
    "tongban.violations",
    "tongban.carmove",
    "tongban.partners",
    "tongban.risk",
    "oauth2_provider",
    "tongban.sso",
    "tongban.catalog",
    "tongban.portal",
    "tongban.backoffice",
    "tongban.search",
    "tongban.exchange",
    "tongban.demo",  # the composition root of `tongban demo`: imports every app, imported by none
]

MIDDLEWARE = [
    "tongban.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "tongban.core.security.SecurityHeadersMiddleware",
    "tongban.core.security.NetworkGateMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tongban.core.middleware.ApiErrorMiddleware",
    "tongban.core.middleware.FastPathMiddleware",  # TONGBAN_FAST_PATHS skip everything below
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "tongban.core.hant.TraditionalChineseMiddleware",  # zh-Hant pages: catalog data converted too (OpenCC)
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tongban.accounts.middleware.IdleTimeoutMiddleware",
    "tongban.backoffice.middleware.StaffGateMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The signed partner API's hot endpoints: authenticated by their signature, no session, CSRF or
# template on them (tongban.core.middleware.FastPathMiddleware; bench/verify.py).
# Real-person verification thresholds and liveness rules (tongban.face.liveness.Rules; docs/face.md).
TONGBAN_FACE: dict[str, float | int] = {}
TONGBAN_FACE_CHALLENGES_PER_HOUR = (10, 10_000)  # a citizen, a partner app
TONGBAN_FAST_PATHS = ["partners:verifications", "partners:verifications_batch",
                      "partners:face_challenges", "partners:face_verifications",  # signed, no session (tongban.face)
                      # liveness: answered from the process alone, no session or database (issue 12)
                      "healthz",
                      # OpenID Connect endpoints that use no session or cookie (tongban.sso; bench/sso.py)
                      "sso:token", "sso:discovery", "sso:jwks", "sso:userinfo", "sso:revoke"]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# Every dependency's budget (issue 12; tongban.core.resilience, docs/operations.md "Budgets").
TONGBAN_BUDGETS = envmod.load_budgets()


def _budget_postgresql(conf: dict[str, object], *, connect_timeout: int, statement_timeout_ms: int,
                       dependency: str | None) -> None:
    """tongban's PostgreSQL backend (tongban.core.pgbackend) with a connect timeout, TCP keepalive and
    TCP_USER_TIMEOUT on the connection, and the statement timeout its client-side deadline follows."""
    conf["ENGINE"] = "tongban.core.pgbackend"
    opts: dict = conf["OPTIONS"]  # type: ignore[assignment]
    opts.setdefault("connect_timeout", connect_timeout)
    opts.setdefault("keepalives", 1)
    opts.setdefault("keepalives_idle", TONGBAN_BUDGETS.db_keepalives_idle)
    opts.setdefault("keepalives_interval", TONGBAN_BUDGETS.db_keepalives_interval)
    opts.setdefault("keepalives_count", TONGBAN_BUDGETS.db_keepalives_count)
    opts.setdefault("tcp_user_timeout", TONGBAN_BUDGETS.db_tcp_user_timeout_ms)
    conf["TONGBAN_BUDGET"] = {"dependency": dependency, "statement_timeout_ms": statement_timeout_ms,
                              "serving_statement_timeout": dependency == "database"}


# The platform's own database plus one database per reference authoritative source.
DATABASES: dict[str, dict[str, object]] = {"default": envmod.database_from_url(ENV.database_url)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _budget_postgresql(DATABASES["default"], connect_timeout=TONGBAN_BUDGETS.database_connect_timeout,
                       statement_timeout_ms=TONGBAN_BUDGETS.database_statement_timeout_ms, dependency="database")
for _alias, _url in ENV.source_urls.items():
    DATABASES[_alias] = envmod.database_from_url(_url)
    if DATABASES[_alias]["ENGINE"] == "django.db.backends.postgresql":
        _budget_postgresql(DATABASES[_alias], connect_timeout=TONGBAN_BUDGETS.source_connect_timeout,
                           statement_timeout_ms=ENV.source_timeout_ms, dependency=None)
        # A source that hangs must become "source unavailable", not a stuck worker (the generator's bulk
        # load lifts this for its own session); the client-side deadline covers what the server cannot.
        _opts: dict = DATABASES[_alias]["OPTIONS"]  # type: ignore[assignment]
        _opts.setdefault("options", f"-c statement_timeout={ENV.source_timeout_ms}")
        # Each source call is one indexed query on the verification hot path (bench/verify.py), run as a
        # lean prepared statement (tongban.core.statements); a query run through a cursor instead (in a
        # transaction, or while queries are logged) binds on the server and is prepared after 5 runs.
        _opts.setdefault("server_side_binding", True)
        _opts.setdefault("prepare_threshold", 5)
    # No `SELECT 1` round trip before each request's first query: a dead source connection fails that
    # one call as "source unavailable" (never a pass; the breaker counts it) and is replaced at the end
    # of the request (docs/performance.md, "Partner verification API").
    DATABASES[_alias]["CONN_HEALTH_CHECKS"] = False
DATABASE_ROUTERS = ["tongban.registry.routers.SourceRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if ENV.redis_url:
    CACHES = {
        "default": {
            "BACKEND": "tongban.core.cache.RedisCache",
            "LOCATION": ENV.redis_url,
            "KEY_PREFIX": "tongban",
            "TIMEOUT": 300,
            # redis-py's connection pool: every connect, read and write bounded, an idle connection checked
            # before use (issue 12). A failure answers 503 and fails closed (tongban.core.cache).
            "OPTIONS": {
                "socket_connect_timeout": TONGBAN_BUDGETS.redis_connect_timeout_ms / 1000,
                "socket_timeout": TONGBAN_BUDGETS.redis_timeout_ms / 1000,
                "socket_keepalive": True,
                "health_check_interval": TONGBAN_BUDGETS.redis_health_check_seconds,
                "retry_on_timeout": False,
            },
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
else:
    # Rate limits, lockout counters and risk counts live here: Django's default of 300 entries would cull
    # them (a third at a time) as soon as an attacker spreads over 300 keys. 200,000 small entries are a few
    # tens of MB.
    CACHES = {"default": {"BACKEND": "tongban.core.cache.LocMemCache", "LOCATION": "tongban",
                          "OPTIONS": {"MAX_ENTRIES": 200_000}}}
    # Local memory is per process: keep sessions in the database so every server worker sees them.
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # Django's, with a message its zh_Hans catalog lacks (tongban.accounts.passwords)
    {"NAME": "tongban.accounts.passwords.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("zh-hant", "繁體中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "src" / "tongban" / "locale"]
TIME_ZONE = ENV.time_zone
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# gunicorn serves static files through WhiteNoise; outside production straight from the apps' folders.
WHITENOISE_USE_FINDERS = not ENV.is_production
WHITENOISE_AUTOREFRESH = False

# Security headers and cookies (the rest of MLPS level 3's web controls come with the security core).
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = ENV.secure_cookies
CSRF_COOKIE_SECURE = ENV.secure_cookies
SESSION_COOKIE_NAME = "tongban_session"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_HSTS_SECONDS = ENV.hsts_seconds
SECURE_HSTS_INCLUDE_SUBDOMAINS = ENV.hsts_seconds > 0
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Staff accounts, access control and the second factor (tongban.accounts, tongban.backoffice;
# docs/security.md). Figures come from TONGBAN_* variables read in config.env.load_security.
TONGBAN_SECURITY = envmod.load_security(ENV.environment)
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["tongban.accounts.backends.TongbanBackend"]
LOGIN_URL = "portal:login"
AUTH_PASSWORD_VALIDATORS += [
    {"NAME": "tongban.accounts.passwords.ComplexityValidator"},
    {"NAME": "tongban.accounts.passwords.HistoryValidator"},
]
# The absolute cap (12 h by default): each login sets the session's expiry to a date, sign-in + this, so
# saving the session later does not move it (tongban.accounts.middleware); idle sessions end much sooner.
SESSION_COOKIE_AGE = TONGBAN_SECURITY.session_max_seconds
OTP_TOTP_ISSUER = "一网通办"
OTP_TOTP_THROTTLE_FACTOR = 1  # after a wrong code, wait 1, 2, 4 ... seconds before the next is tried

LOGGING_CONFIG = None  # configured by tongban.core.logging in AppConfig.ready via configure_logging below
from tongban.core.logging import configure_logging  # noqa: E402

TONGBAN_LOG_LEVEL = ENV.log_level
TONGBAN_LOG_JSON = ENV.log_json
configure_logging(level=TONGBAN_LOG_LEVEL, json=TONGBAN_LOG_JSON)

# Which implementation stands behind each authoritative-source interface (dotted paths).
TONGBAN_SOURCES = {
    "population": "tongban.registry.sources.DatabasePopulationSource",
    "idcard": "tongban.registry.sources.DatabaseIdCardSource",
    "traffic": "tongban.registry.sources.DatabaseTrafficSource",
    "exitentry": "tongban.registry.sources.DatabaseExitEntrySource",
    "criminal": "tongban.registry.sources.DatabaseCriminalRecordSource",
}
TONGBAN_INPROCESS_WORKER = ENV.inprocess_worker
TONGBAN_VAR_DIR: Path = VAR_DIR

# Keys (tongban.crypto.keys, docs/keys.md): the master key that wraps the versioned data keys.
_KEYS = envmod.load_keys()
TONGBAN_KEY_PROVIDER = _KEYS.provider
TONGBAN_MASTER_KEY = _KEYS.master_key
TONGBAN_MASTER_KEY_FILE: Path = _KEYS.master_key_file
TONGBAN_KEYRING_TTL = _KEYS.keyring_ttl

# The partner verification API (tongban.partners, docs/partner-api.md): windows and abuse limits.
TONGBAN_PARTNERS = envmod.load_partners()

# The SMS gateway (tongban.notifications.sms; the simulator outside production: `tongban sim sms`).
_SMS = envmod.load_sms(ENV.environment)
TONGBAN_SMS_GATEWAY = {"BACKEND": _SMS.backend, "URL": _SMS.url, "TOKEN": _SMS.token, "TIMEOUT": _SMS.timeout}
# The courier for postal delivery of results (tongban.cases.delivery; the simulator outside production).
_EMS = envmod.load_ems(ENV.environment)
TONGBAN_EMS = {"BACKEND": _EMS.backend, "URL": _EMS.url, "TOKEN": _EMS.token, "TIMEOUT": _EMS.timeout,
               "CALLBACK_URL": _EMS.callback_url}
# The unified data exchange with the national platform (tongban.exchange, docs/exchange.md): off until
# TONGBAN_EXCHANGE_URL is set; the counterpart's SM2 public key (65 bytes, hex) is required with it.
_EXCHANGE = envmod.load_exchange()
TONGBAN_EXCHANGE = {"URL": _EXCHANGE.url, "PEER_PUBLIC_KEY": _EXCHANGE.peer_public_key, "TIMEOUT": _EXCHANGE.timeout,
                    "LANES": _EXCHANGE.lanes, "BATCH_SIZE": _EXCHANGE.batch_size}
_CASES = envmod.load_cases()
# Where a case is handled when the applicant's household region is not known (HK/Macao residents).
TONGBAN_CASES_DEFAULT_REGION = _CASES.default_region
# The electronic result's QR code leads to this site's /verify/result/ (set it in production).
TONGBAN_PUBLIC_URL = _CASES.public_url
# Police non-tax payments (tongban.payments, docs/payments.md): the gateway, attempt expiry, number formats.
_PAY = envmod.load_payments(ENV.environment)
TONGBAN_PAYMENTS: dict[str, object] = {
    "GATEWAY": {"BACKEND": _PAY.backend, "URL": _PAY.url, "MERCHANT": _PAY.merchant, "KEY": _PAY.key,
                "TIMEOUT": _PAY.timeout},
    "NOTIFY_URL": _PAY.notify_url,
    "ATTEMPT_TTL_SECONDS": _PAY.attempt_ttl_seconds,
    # Number formats are configuration: what a typed number must look like, and how new ones are made
    # ({region} 6 digits, {date} yymmdd, {seq} the day's sequence, then a Damm check digit over them).
    "NUMBERS": {
        "notice": {"label": "缴款码", "accept": r"^\d{20}$", "layout": "{region}{date}{seq:07d}", "check": True},
        "decision": {"label": "处罚决定书编号", "accept": r"^\d{15,20}$", "layout": "{region}{date}{seq:05d}",
                     "check": True},
        "receipt": {"label": "票号", "accept": r"^\d{10}$", "layout": "{yy}{seq:08d}", "check": False},
    },
    # The receipt's 票据代码 (issued by the finance department per region and kind) and the payee shown on it.
    "RECEIPT_CODE": "44010126",
    "RECEIPT_PAYEE": "广东省财政厅（非税收入汇缴结算户）",
    "FEES_FILE": "",  # empty: the packaged tongban/payments/data/fees.json
}
# What one-time codes by SMS may cost: cooldown and caps per phone, per client network, the global ceiling.
TONGBAN_SMS_LIMITS = envmod.load_sms_limits()

# The OpenID Connect provider (tongban.sso, docs/sso.md): django-oauth-toolkit with tongban's client model,
# validator and signing keys. Set TONGBAN_SSO_ISSUER in production (else the request's host is used).
_SSO = envmod.load_sso()
TONGBAN_SSO_ISSUER = _SSO.issuer
# Sessions one run of the expiry sweep ends at most; the job queues a follow-up run while more remain.
TONGBAN_SSO_SWEEP_LIMIT = _SSO.sweep_limit
OAUTH2_PROVIDER_APPLICATION_MODEL = "sso.Client"
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OAUTH2_VALIDATOR_CLASS": "tongban.sso.validators.TongbanValidator",
    "APPLICATION_ADMIN_CLASS": "tongban.sso.admin.ClientAdmin",
    "SCOPES": {"openid": "登录标识", "realname": "真实姓名", "idcard_masked": "证件号码（部分隐藏）",
               "idcard": "完整证件号码", "phone": "手机号码", "api": "系统间接口调用"},
    "DEFAULT_SCOPES": ["openid"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "ID_TOKEN_EXPIRE_SECONDS": 3600,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "REFRESH_TOKEN_EXPIRE_SECONDS": 30 * 24 * 3600,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
}
# "使用国家政务服务平台账号登录" (tongban.sso.federation): the national platform as an identity provider.
TONGBAN_NATIONAL_IDP: dict[str, object] = {
    "ISSUER": _SSO.national_idp_issuer,
    "CLIENT_ID": _SSO.national_idp_client_id,
    "CLIENT_SECRET": _SSO.national_idp_client_secret,
    "ALG": _SSO.national_idp_alg,
}
