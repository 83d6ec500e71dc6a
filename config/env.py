"""The one place that reads the process environment: every setting tongban takes from outside.

Each value is parsed and checked here, so a wrong or missing value stops the process at start-up
with a message naming the variable, instead of failing later inside a request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

# The reference authoritative sources, each in its own database (DESIGN.md §2).
SOURCE_ALIASES = ("population", "idcard", "traffic", "exitentry", "criminal")
# Django's PostgreSQL backend, and tongban's (the same with every connection under a budget: issue 12).
POSTGRESQL_ENGINES = ("django.db.backends.postgresql", "tongban.core.pgbackend")


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}") from exc


def _list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_url(url: str, *, conn_max_age: int = 60) -> dict[str, object]:
    """Turn `sqlite:///path` or `postgresql://user:pass@host:port/name?opt=v` into a Django DATABASES entry."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in {"sqlite", "sqlite3"}:
        raw_path = unquote(parts.path)
        if parts.netloc:  # sqlite://relative/path is ambiguous; accept it as relative.
            raw_path = parts.netloc + raw_path
        elif raw_path.startswith("/") and not raw_path.startswith("//"):
            # sqlite:///var/x.db (three slashes) is relative to the project; four slashes is absolute.
            raw_path = raw_path[1:]
        elif raw_path.startswith("//"):
            raw_path = raw_path[1:]
        if raw_path in {"", ":memory:"}:
            name: str | Path = ":memory:"
        else:
            path = Path(raw_path)
            name = path if path.is_absolute() else BASE_DIR / path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": name,
            "OPTIONS": {
                # WAL lets readers go on while one writer commits; IMMEDIATE takes the write lock at
                # BEGIN so two writers queue instead of failing with "database is locked".
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    if scheme in {"postgres", "postgresql", "pgsql"}:
        options = dict(parse_qsl(parts.query))
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "tongban",
            "USER": unquote(parts.username or "postgres"),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "127.0.0.1",
            "PORT": str(parts.port or 5432),
            "CONN_MAX_AGE": conn_max_age,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    raise ConfigurationError(
        f"TONGBAN_DATABASE_URL must start with sqlite:/// or postgresql://, not {scheme or '(nothing)'}://"
    )


def source_database_url(main_url: str, alias: str) -> str:
    """Where a reference source lives unless TONGBAN_SOURCE_<ALIAS>_DATABASE_URL says otherwise.

    SQLite: a file beside the platform's (var/tongban.sqlite3 -> var/tongban-population.sqlite3).
    PostgreSQL: a database of its own on the same server (tongban -> tongban_population).
    """
    override = os.environ.get(f"TONGBAN_SOURCE_{alias.upper()}_DATABASE_URL")
    if override:
        return override
    parts = urlsplit(main_url)
    if parts.scheme.lower().startswith("sqlite"):
        path = parts.path
        if path in {"", "/", "/:memory:"}:
            return main_url
        stem, dot, suffix = path.rpartition(".")
        new_path = f"{stem}-{alias}.{suffix}" if dot and "/" not in suffix else f"{path}-{alias}"
        return f"{parts.scheme}://{parts.netloc}{new_path}"
    name = parts.path.lstrip("/") or "tongban"
    return parts._replace(path=f"/{name}_{alias}").geturl()


@dataclass(frozen=True)
class Env:
    environment: str
    debug: bool
    secret_key: str | None
    database_url: str
    source_urls: dict[str, str]
    redis_url: str | None
    allowed_hosts: list[str]
    csrf_trusted_origins: list[str]
    log_level: str
    log_json: bool
    inprocess_worker: bool
    secure_cookies: bool
    hsts_seconds: int
    source_timeout_ms: int
    time_zone: str = "Asia/Shanghai"
    missing: list[str] = field(default_factory=list)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


def load() -> Env:
    environment = os.environ.get("TONGBAN_ENV", "development").strip().lower()
    if environment not in {"development", "test", "production"}:
        raise ConfigurationError(f"TONGBAN_ENV must be development, test or production, not {environment!r}")
    default_db = "sqlite:///var/tongban.sqlite3"
    database_url = os.environ.get("TONGBAN_DATABASE_URL", "").strip() or default_db
    production = environment == "production"
    return Env(
        environment=environment,
        debug=_bool("TONGBAN_DEBUG", False),
        secret_key=os.environ.get("TONGBAN_SECRET_KEY") or None,
        database_url=database_url,
        source_urls={alias: source_database_url(database_url, alias) for alias in SOURCE_ALIASES},
        redis_url=os.environ.get("TONGBAN_REDIS_URL") or None,
        allowed_hosts=_list("TONGBAN_ALLOWED_HOSTS", [] if production else ["127.0.0.1", "localhost", "[::1]"]),
        csrf_trusted_origins=_list("TONGBAN_CSRF_TRUSTED_ORIGINS", []),
        log_level=os.environ.get("TONGBAN_LOG_LEVEL", "INFO").upper(),
        log_json=_bool("TONGBAN_LOG_JSON", True),
        inprocess_worker=_bool("TONGBAN_INPROCESS_WORKER", not production),
        secure_cookies=_bool("TONGBAN_SECURE_COOKIES", production),
        hsts_seconds=_int("TONGBAN_HSTS_SECONDS", 31536000 if production else 0),
        source_timeout_ms=_int("TONGBAN_SOURCE_TIMEOUT_MS", 2000),
    )


ENV_PRODUCTION_REQUIRED = (
    "TONGBAN_SECRET_KEY",
    "TONGBAN_DATABASE_URL (postgresql://)",
    "TONGBAN_REDIS_URL",
    "TONGBAN_ALLOWED_HOSTS",
)


def missing_production_settings(env: Env) -> list[str]:
    """What a production start lacks, each named so the operator knows what to set."""
    missing: list[str] = []
    if not env.secret_key:
        missing.append("TONGBAN_SECRET_KEY is not set")
    elif len(env.secret_key) < 50:
        missing.append("TONGBAN_SECRET_KEY is shorter than 50 characters")
    if not env.database_url.startswith(("postgres://", "postgresql://")):
        missing.append("TONGBAN_DATABASE_URL must name a PostgreSQL database in production")
    if not env.redis_url:
        missing.append("TONGBAN_REDIS_URL is not set (sessions and rate limits need Redis in production)")
    if not env.allowed_hosts:
        missing.append("TONGBAN_ALLOWED_HOSTS is not set")
    if env.debug:
        missing.append("TONGBAN_DEBUG must be false in production")
    return missing


# --- Keys (issue 3; tongban.crypto.keys, docs/keys.md) ------------------------------------------


@dataclass(frozen=True)
class KeyEnv:
    provider: str  # dotted path of the MasterKeyProvider class
    master_key: str | None  # TONGBAN_MASTER_KEY: 64 hex digits or base64 of 32 bytes (EnvMasterKey)
    master_key_file: Path  # TONGBAN_MASTER_KEY_FILE (FileMasterKey); created outside production only
    keyring_ttl: int  # seconds a process trusts its idea of the current key versions


def load_keys() -> KeyEnv:
    master_key = os.environ.get("TONGBAN_MASTER_KEY", "").strip() or None
    default_provider = "tongban.crypto.keys.EnvMasterKey" if master_key else "tongban.crypto.keys.FileMasterKey"
    raw_file = os.environ.get("TONGBAN_MASTER_KEY_FILE", "").strip()
    path = Path(raw_file) if raw_file else BASE_DIR / "var" / "master.key"
    return KeyEnv(
        provider=os.environ.get("TONGBAN_KEY_PROVIDER", "").strip() or default_provider,
        master_key=master_key,
        master_key_file=path if path.is_absolute() else BASE_DIR / path,
        keyring_ttl=_int("TONGBAN_KEYRING_TTL_SECONDS", 15),
    )


# --- Staff accounts and web security (tongban.accounts, tongban.backoffice, tongban.core.security) ---------


def _networks(name: str, default: list[str]) -> tuple[str, ...]:
    """A comma-separated list of CIDRs (a bare address is a /32 or /128), each checked here."""
    import ipaddress

    result: list[str] = []
    for item in _list(name, default):
        try:
            result.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError as exc:
            raise ConfigurationError(f"{name} must be a comma-separated list of CIDRs; {item!r} is not one") from exc
    return tuple(result)


def _positive(name: str, default: int) -> int:
    value = _int(name, default)
    if value <= 0:
        raise ConfigurationError(f"{name} must be greater than zero, not {value}")
    return value


@dataclass(frozen=True)
class SecurityEnv:
    backoffice_networks: tuple[str, ...]  # who may reach /backoffice/ and /admin/; empty: nobody
    trusted_proxies: tuple[str, ...]  # X-Forwarded-For is believed only from these
    # The login lockout's numbers are risk rules now (risk migration 0003, docs/risk.md), not settings.
    staff_idle_seconds: int
    citizen_idle_seconds: int
    session_max_seconds: int  # the absolute cap after signing in, whatever the activity (staff and citizens)
    identity_checks_per_account: int  # identity verifications one citizen account may ask for in an hour
    identity_checks_per_address: int  # ... one client address (an IPv6 /64) in an hour
    agent_invitations_per_hour: int  # agent invitations one representative may send in an hour
    agent_invitations_per_day: int  # ... in any 24 hours
    staff_password_min_length: int
    password_min_classes: int
    password_history: int
    staff_password_max_age_days: int


def load_security(environment: str | None = None) -> SecurityEnv:
    production = (environment or os.environ.get("TONGBAN_ENV", "development").strip().lower()) == "production"
    return SecurityEnv(
        backoffice_networks=_networks("TONGBAN_BACKOFFICE_NETWORKS", [] if production else ["127.0.0.0/8", "::1/128"]),
        trusted_proxies=_networks("TONGBAN_TRUSTED_PROXIES", []),
        staff_idle_seconds=_positive("TONGBAN_STAFF_IDLE_SECONDS", 900),
        citizen_idle_seconds=_positive("TONGBAN_CITIZEN_IDLE_SECONDS", 1800),
        session_max_seconds=_positive("TONGBAN_SESSION_MAX_AGE_SECONDS", 12 * 3600),
        identity_checks_per_account=_positive("TONGBAN_IDENTITY_CHECKS_PER_ACCOUNT_PER_HOUR", 10),
        identity_checks_per_address=_positive("TONGBAN_IDENTITY_CHECKS_PER_ADDRESS_PER_HOUR", 30),
        agent_invitations_per_hour=_positive("TONGBAN_AGENT_INVITATIONS_PER_HOUR", 10),
        agent_invitations_per_day=_positive("TONGBAN_AGENT_INVITATIONS_PER_DAY", 30),
        staff_password_min_length=_positive("TONGBAN_STAFF_PASSWORD_MIN_LENGTH", 12),
        password_min_classes=min(4, _positive("TONGBAN_PASSWORD_MIN_CLASSES", 3)),
        password_history=_int("TONGBAN_PASSWORD_HISTORY", 5),
        staff_password_max_age_days=_int("TONGBAN_STAFF_PASSWORD_MAX_AGE_DAYS", 90),
    )
# --- end of staff accounts and web security ---


# --- Partner verification API (issue 4; tongban.partners, docs/partner-api.md) ---------------------


def _ratio(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number between 0 and 1, not {raw!r}") from exc
    if not 0 < value <= 1:
        raise ConfigurationError(f"{name} must be greater than 0 and at most 1, not {value}")
    return value


@dataclass(frozen=True)
class PartnerEnv:
    clock_skew_seconds: int  # a signed request's timestamp may be this far from ours
    nonce_ttl_seconds: int  # how long a nonce is remembered (must exceed twice the skew)
    max_body_bytes: int
    identity_limit_per_hour: int  # verifications of one identity by one caller (app, account) before it is refused
    identity_alert_per_hour: int  # ... by every caller together before the velocity alert is raised
    meter_flush_seconds: int  # usage counters are buffered per process at most this long (0: every call)
    app_cache_seconds: int  # a process re-reads an app's row (status, key, limits) at most this often


def load_partners() -> PartnerEnv:
    skew = _positive("TONGBAN_PARTNER_CLOCK_SKEW_SECONDS", 300)
    nonce_ttl = _positive("TONGBAN_PARTNER_NONCE_TTL_SECONDS", 600)
    if nonce_ttl < 2 * skew:
        raise ConfigurationError("TONGBAN_PARTNER_NONCE_TTL_SECONDS must be at least twice "
                                 "TONGBAN_PARTNER_CLOCK_SKEW_SECONDS, or a replay inside the window would pass")
    return PartnerEnv(
        clock_skew_seconds=skew,
        nonce_ttl_seconds=nonce_ttl,
        max_body_bytes=_positive("TONGBAN_PARTNER_MAX_BODY_BYTES", 256 * 1024),
        identity_limit_per_hour=_positive("TONGBAN_PARTNER_IDENTITY_LIMIT_PER_HOUR", 20),
        identity_alert_per_hour=_positive("TONGBAN_PARTNER_IDENTITY_ALERT_PER_HOUR", 20),
        meter_flush_seconds=_int("TONGBAN_PARTNER_METER_FLUSH_SECONDS", 5),
        app_cache_seconds=_int("TONGBAN_PARTNER_APP_CACHE_SECONDS", 5),
    )
# --- end of partner verification API ---


# --- SMS gateway (issue 4; tongban.notifications.sms, docs/accounts.md) ----------------------------


@dataclass(frozen=True)
class SmsEnv:
    backend: str  # dotted path of the SmsGateway implementation
    url: str  # where HttpSmsGateway POSTs (the simulator's /v1/messages outside production)
    token: str  # the gateway's API token (signs each request)
    timeout: float


def load_sms(environment: str | None = None) -> SmsEnv:
    production = (environment or os.environ.get("TONGBAN_ENV", "development").strip().lower()) == "production"
    token = os.environ.get("TONGBAN_SMS_GATEWAY_TOKEN", "").strip()
    url = os.environ.get("TONGBAN_SMS_GATEWAY_URL", "").strip()
    # In production nothing is assumed: the deploy check (tongban.notifications.checks) names what is missing.
    return SmsEnv(
        backend=os.environ.get("TONGBAN_SMS_GATEWAY_BACKEND", "").strip()
        or "tongban.notifications.sms.HttpSmsGateway",
        url=url or ("" if production else "http://127.0.0.1:8025/v1/messages"),  # `tongban sim sms`
        token=token or ("" if production else "tongban-dev-sms-token"),  # the simulator's development token
        timeout=float(_int("TONGBAN_SMS_GATEWAY_TIMEOUT_SECONDS", 5)),
    )
# --- end of SMS gateway ---


# --- the courier (EMS) for postal delivery of results (issue 14; tongban.cases.delivery, docs/cases.md) ---


@dataclass(frozen=True)
class EmsEnv:
    backend: str  # dotted path of the Courier implementation
    url: str  # the courier's API base (the simulator's outside production: `python -m sim.ems`)
    token: str  # signs our orders and the courier's tracking callbacks
    timeout: float
    callback_url: str  # where the courier pushes tracking events (our /cases/ems/callback/)


def load_ems(environment: str | None = None) -> EmsEnv:
    production = (environment or os.environ.get("TONGBAN_ENV", "development").strip().lower()) == "production"
    return EmsEnv(
        backend=os.environ.get("TONGBAN_EMS_BACKEND", "").strip() or "tongban.cases.delivery.HttpCourier",
        url=os.environ.get("TONGBAN_EMS_URL", "").strip() or ("" if production else "http://127.0.0.1:8026"),
        token=os.environ.get("TONGBAN_EMS_TOKEN", "").strip() or ("" if production else "tongban-dev-ems-token"),
        timeout=float(_int("TONGBAN_EMS_TIMEOUT_SECONDS", 5)),
        callback_url=os.environ.get("TONGBAN_EMS_CALLBACK_URL", "").strip()
        or ("" if production else "http://127.0.0.1:8000/cases/ems/callback/"),
    )


@dataclass(frozen=True)
class CasesEnv:
    default_region: str  # where a case is handled when the applicant's household region is unknown
    public_url: str  # this site's public address: the electronic result's QR code leads to /verify/result/


def load_cases() -> CasesEnv:
    region = os.environ.get("TONGBAN_CASES_DEFAULT_REGION", "").strip() or "330100"
    if not (len(region) == 6 and region.isdigit()):
        raise ConfigurationError("TONGBAN_CASES_DEFAULT_REGION must be a 6-digit region code")
    return CasesEnv(default_region=region,
                    public_url=(os.environ.get("TONGBAN_PUBLIC_URL", "").strip() or "http://127.0.0.1:8000").rstrip("/"))
# --- end of the courier ---


# --- police non-tax payments (issue 15; tongban.payments, docs/payments.md) ---------------------------------


@dataclass(frozen=True)
class PaymentsEnv:
    backend: str  # dotted path of the PaymentGateway implementation
    url: str  # the gateway's API base (the simulator's outside production: `python -m sim.pay_gateway`)
    merchant: str  # our merchant number at the gateway
    key: str  # the shared HMAC-SM3 key that signs our requests and the gateway's notifications
    timeout: float
    notify_url: str  # where the gateway posts its asynchronous notifications (our /pay/gateway/notify/)
    attempt_ttl_seconds: int  # an attempt not paid within this is closed at the gateway and expires


def load_payments(environment: str | None = None) -> PaymentsEnv:
    production = (environment or os.environ.get("TONGBAN_ENV", "development").strip().lower()) == "production"
    ttl = _int("TONGBAN_PAY_ATTEMPT_TTL_SECONDS", 900)
    if ttl < 60:
        raise ConfigurationError("TONGBAN_PAY_ATTEMPT_TTL_SECONDS must be at least 60")
    return PaymentsEnv(
        backend=os.environ.get("TONGBAN_PAY_BACKEND", "").strip() or "tongban.payments.gateway.HttpGateway",
        url=os.environ.get("TONGBAN_PAY_URL", "").strip() or ("" if production else "http://127.0.0.1:8027"),
        merchant=os.environ.get("TONGBAN_PAY_MERCHANT", "").strip() or "440100-GA-0001",
        key=os.environ.get("TONGBAN_PAY_KEY", "").strip() or ("" if production else "tongban-dev-pay-key"),
        timeout=float(_int("TONGBAN_PAY_TIMEOUT_SECONDS", 5)),
        notify_url=os.environ.get("TONGBAN_PAY_NOTIFY_URL", "").strip()
        or ("" if production else "http://127.0.0.1:8000/pay/gateway/notify/"),
        attempt_ttl_seconds=ttl,
    )


# --- SMS cost limits (issue 11; tongban.accounts.otp, docs/accounts.md) ----------------------------------


@dataclass(frozen=True)
class SmsLimitsEnv:
    cooldown_seconds: int  # one code per phone this often, whatever its purpose
    phone_per_hour: int  # codes to one phone in any hour, all purposes together
    phone_per_day: int  # ... and in any 24 hours
    network_per_hour: int  # codes requested from one client network in any hour
    ipv4_prefix: int  # the client network: an IPv4 address's /24 by default
    ipv6_prefix: int  # ... an IPv6 address's /64
    global_per_hour: int  # every code together: the platform's ceiling; reaching it raises an alert


def _prefix(name: str, default: int, top: int) -> int:
    value = _int(name, default)
    if not 8 <= value <= top:
        raise ConfigurationError(f"{name} must be a prefix length between 8 and {top}, not {value}")
    return value


def load_sms_limits() -> SmsLimitsEnv:
    return SmsLimitsEnv(
        cooldown_seconds=_positive("TONGBAN_SMS_COOLDOWN_SECONDS", 60),
        phone_per_hour=_positive("TONGBAN_SMS_PHONE_LIMIT_PER_HOUR", 5),
        phone_per_day=_positive("TONGBAN_SMS_PHONE_LIMIT_PER_DAY", 10),
        network_per_hour=_positive("TONGBAN_SMS_NETWORK_LIMIT_PER_HOUR", 30),
        ipv4_prefix=_prefix("TONGBAN_SMS_IPV4_PREFIX", 24, 32),
        ipv6_prefix=_prefix("TONGBAN_SMS_IPV6_PREFIX", 64, 128),
        global_per_hour=_positive("TONGBAN_SMS_GLOBAL_LIMIT_PER_HOUR", 2000),
    )
# --- end of SMS cost limits ---


# --- Single sign-on (issue 5; tongban.sso, docs/sso.md) --------------------------------------------


@dataclass(frozen=True)
class SsoEnv:
    issuer: str  # TONGBAN_SSO_ISSUER: the provider's issuer URL; the request's host outside production if unset
    national_idp_issuer: str  # the national platform as an identity provider (tongban.sso.federation)
    national_idp_client_id: str
    national_idp_client_secret: str
    national_idp_alg: str
    sweep_limit: int  # sessions one run of the expiry sweep ends at most (tongban.sso.services.sweep_limit)


def load_sso() -> SsoEnv:
    alg = os.environ.get("TONGBAN_NATIONAL_IDP_ALG", "").strip() or "ES256"
    if alg not in {"ES256", "RS256", "SM2SM3"}:
        raise ConfigurationError(f"TONGBAN_NATIONAL_IDP_ALG must be ES256, RS256 or SM2SM3, not {alg!r}")
    return SsoEnv(
        issuer=os.environ.get("TONGBAN_SSO_ISSUER", "").strip().rstrip("/"),
        national_idp_issuer=os.environ.get("TONGBAN_NATIONAL_IDP_ISSUER", "").strip(),
        national_idp_client_id=os.environ.get("TONGBAN_NATIONAL_IDP_CLIENT_ID", "").strip(),
        national_idp_client_secret=os.environ.get("TONGBAN_NATIONAL_IDP_CLIENT_SECRET", "").strip(),
        national_idp_alg=alg,
        sweep_limit=_positive("TONGBAN_SSO_SWEEP_LIMIT", 500),
    )
# --- end of single sign-on ---


# --- Dependency budgets (issue 12; tongban.core.resilience, docs/operations.md "Budgets") ---------


@dataclass(frozen=True)
class BudgetEnv:
    # Every PostgreSQL database (the platform's and each source's): TCP keepalive and TCP_USER_TIMEOUT, so a
    # network that goes silent is noticed by the kernel even between queries.
    db_keepalives_idle: int  # seconds of silence before the first keepalive probe
    db_keepalives_interval: int  # seconds between probes
    db_keepalives_count: int  # unanswered probes before the connection is dropped
    db_tcp_user_timeout_ms: int  # sent data unacknowledged this long drops the connection (Linux)
    db_deadline_margin_ms: int  # the client-side deadline is the statement timeout plus this
    # The platform database.
    database_connect_timeout: int  # seconds (libpq counts at least 2)
    database_statement_timeout_ms: int  # in web processes (`tongban serve`); 0: the server's own setting
    # Each reference source.
    source_connect_timeout: int  # seconds (libpq counts at least 2)
    source_max_concurrent: int  # calls in flight to one source in one process (0: half the web threads, ≥ 1)
    # Redis.
    redis_connect_timeout_ms: int
    redis_timeout_ms: int  # each read and write on the socket
    redis_health_check_seconds: int  # a connection idle this long is checked (PING) before it is used
    # How a failed dependency is retried, and what a caller waits for a free slot.
    dependency_cooldown_ms: int  # first wait before a failed dependency is tried again (one probe)
    dependency_max_cooldown_ms: int  # the wait doubles after each failed probe, up to this
    dependency_admission_wait_ms: int  # a call queues this long at most for a slot before answering 503 ...
    dependency_stuck_ms: int  # ... and not at all once the calls holding the slots have been in flight this long
    readyz_timeout_ms: int  # each /readyz check's own budget
    national_idp_timeout_ms: int  # connecting to the national platform (sign-in through it) and each read


def load_budgets() -> BudgetEnv:
    return BudgetEnv(
        db_keepalives_idle=_positive("TONGBAN_DB_KEEPALIVES_IDLE_SECONDS", 10),
        db_keepalives_interval=_positive("TONGBAN_DB_KEEPALIVES_INTERVAL_SECONDS", 5),
        db_keepalives_count=_positive("TONGBAN_DB_KEEPALIVES_COUNT", 3),
        db_tcp_user_timeout_ms=_positive("TONGBAN_DB_TCP_USER_TIMEOUT_MS", 10000),
        db_deadline_margin_ms=_positive("TONGBAN_DB_DEADLINE_MARGIN_MS", 1000),
        database_connect_timeout=_positive("TONGBAN_DATABASE_CONNECT_TIMEOUT_SECONDS", 3),
        database_statement_timeout_ms=_int("TONGBAN_DATABASE_STATEMENT_TIMEOUT_MS", 5000),
        source_connect_timeout=_positive("TONGBAN_SOURCE_CONNECT_TIMEOUT_SECONDS", 2),
        source_max_concurrent=_int("TONGBAN_SOURCE_MAX_CONCURRENT", 0),
        redis_connect_timeout_ms=_positive("TONGBAN_REDIS_CONNECT_TIMEOUT_MS", 500),
        redis_timeout_ms=_positive("TONGBAN_REDIS_TIMEOUT_MS", 1000),
        redis_health_check_seconds=_int("TONGBAN_REDIS_HEALTH_CHECK_SECONDS", 10),
        dependency_cooldown_ms=_positive("TONGBAN_DEPENDENCY_COOLDOWN_MS", 1000),
        dependency_max_cooldown_ms=_positive("TONGBAN_DEPENDENCY_MAX_COOLDOWN_MS", 5000),
        dependency_admission_wait_ms=_int("TONGBAN_DEPENDENCY_ADMISSION_WAIT_MS", 1000),
        dependency_stuck_ms=_positive("TONGBAN_DEPENDENCY_STUCK_MS", 500),
        readyz_timeout_ms=_positive("TONGBAN_READYZ_TIMEOUT_MS", 800),
        national_idp_timeout_ms=_positive("TONGBAN_NATIONAL_IDP_TIMEOUT_MS", 5000),
    )


SERVING_THREADS_VARIABLE = "TONGBAN_SERVING_THREADS"


def serving_threads() -> int:
    """Threads per web process when this process serves requests (`tongban serve` sets the variable before
    its workers start, so it is read when asked, not at import); 0 in any other process."""
    return max(0, _int(SERVING_THREADS_VARIABLE, 0))
# --- end of dependency budgets ---


# --- the unified data exchange with the national platform (issue 17; tongban.exchange, docs/exchange.md) ---


@dataclass(frozen=True)
class ExchangeEnv:
    url: str  # the national platform's exchange endpoint; empty: the exchange is off
    peer_public_key: str  # the counterpart's SM2 public key, 65 bytes in hex (04 || x || y)
    timeout: float
    lanes: int  # per-entity order: each entity hashes to one lane, a lane is delivered by one worker at a time
    batch_size: int


def load_exchange() -> ExchangeEnv:
    url = os.environ.get("TONGBAN_EXCHANGE_URL", "").strip()
    key = os.environ.get("TONGBAN_EXCHANGE_PEER_PUBLIC_KEY", "").strip().lower()
    if url and not url.startswith(("http://", "https://")):
        raise ConfigurationError("TONGBAN_EXCHANGE_URL must start with http:// or https://")
    if key and not (len(key) == 130 and key.startswith("04") and all(c in "0123456789abcdef" for c in key)):
        raise ConfigurationError("TONGBAN_EXCHANGE_PEER_PUBLIC_KEY must be an uncompressed SM2 public key: 130 hex digits starting 04")
    if url and not key:
        raise ConfigurationError("TONGBAN_EXCHANGE_URL is set: TONGBAN_EXCHANGE_PEER_PUBLIC_KEY is required with it")
    raw = os.environ.get("TONGBAN_EXCHANGE_TIMEOUT", "").strip() or "10"
    try:
        timeout = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"TONGBAN_EXCHANGE_TIMEOUT must be a number of seconds, not {raw!r}") from exc
    if not 0 < timeout <= 300:
        raise ConfigurationError("TONGBAN_EXCHANGE_TIMEOUT must be greater than 0 and at most 300 seconds")
    return ExchangeEnv(url=url, peer_public_key=key, timeout=timeout,
                       lanes=_positive("TONGBAN_EXCHANGE_LANES", 16),
                       batch_size=_positive("TONGBAN_EXCHANGE_BATCH_SIZE", 500))
