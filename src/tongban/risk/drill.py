"""The attack drill (攻防演练): replays the shipped attack patterns against a running platform and reports
which rules fired, what was blocked, and that each block took effect and was reversed by a security admin.

Over HTTP to `base_url`: the citizen logins (credential stuffing, password spraying — its many client
addresses sent in X-Forwarded-For, believed only when the drill's host is one of TONGBAN_TRUSTED_PROXIES),
the partner API (signed calls from the drill's own partner apps, whose credentials an operator made
beforehand with `tongban drill --make-partner-credentials FILE`), a staff sign-in to the back office from a
new network (password and TOTP code of the drill's own staff account), and every lift (the drill's security
admin in the console, /backoffice/risk/).

Replayed as the audit entries the platform writes for them, marked `drill`, in the platform's database (the
drill runs where `tongban` runs, with its settings) — because over HTTP they would mean reading or exporting
real people's records, or breaking the audit chain: an officer's bulk personal-data reads (z-score) and the
same reads after hours, and an `audit.verify` failure. The export above the size calls the export guard
(`services.export_authorise`) the export views call: no export endpoint holds a thousand personal rows the
drill could pull without pulling real data.

The login lockout's rules over HTTP too: wrong passwords against the drill's own staff account until it is
locked (the right one then refused), lifted in the console and signed in again; failed logins from one
drill address (X-Forwarded-For) until it is refused, lifted, and answered again.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.risk import engine, services
from tongban.risk.models import Alert, Block, BlockStatus, ResponseKind

REASON = "攻防演练：自动解除"


@dataclass
class Finding:
    rule: str
    fired: bool = False
    via: str = "http"
    response: str = ""
    blocked: bool | None = None  # the response took effect (None: the rule only alerts)
    reversed: bool | None = None  # a security admin lifted it and the effect was gone
    notes: list[str] = field(default_factory=list)


class Drill:
    def __init__(self, base_url: str, *, secadmin: Any, partners: list[PartnerCredential] | None = None,
                 timeout: float = 10.0) -> None:
        self.base = base_url.rstrip("/")
        self.partners = list(partners or [])
        self._clients: dict[str, Any] = {}
        self._admin: requests.Session | bool | None = None
        self._probes = 0
        self.secadmin = secadmin
        self.timeout = timeout
        self.tag = secrets.token_hex(3)
        self.findings: list[Finding] = []

    # -- HTTP -------------------------------------------------------------------------------------------

    def _login(self, session: requests.Session, username: str, password: str, forwarded: str = "") -> str:
        page = session.get(f"{self.base}/login/", timeout=self.timeout)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        headers = {"Referer": f"{self.base}/login/"}
        if forwarded:
            headers["X-Forwarded-For"] = forwarded
        answer = session.post(f"{self.base}/login/", data={
            "csrfmiddlewaretoken": token.group(1) if token else "", "username": username, "password": password},
            headers=headers, timeout=self.timeout, allow_redirects=False)
        if answer.status_code in (301, 302):
            return "signed_in"
        if "锁定" in answer.text:
            return "refused"
        if "短信验证码登录" in answer.text:
            return "second_factor"
        return "wrong"

    def _alerts(self, code: str, since: int) -> list[Alert]:
        return list(Alert.objects.filter(rule__code=code, pk__gt=since).order_by("pk"))

    def _lift(self, finding: Finding, blocks: list[Block]) -> None:
        """The security admin lifts each block in the console (/backoffice/risk/), over HTTP — so the lift runs
        in the platform's process and clears what that process caches; through the service only when the
        drill cannot sign in to the back office (noted)."""
        console = self._console() if blocks else None
        for block in blocks:
            if console is not None:
                page = console.get(f"{self.base}/backoffice/risk/", timeout=self.timeout)
                url = f"{self.base}/backoffice/risk/blocks/{block.pk}/lift/"
                console.post(url, data={"csrfmiddlewaretoken": _csrf(page.text), "reason": REASON},
                             headers={"Referer": f"{self.base}/backoffice/risk/"}, timeout=self.timeout,
                             allow_redirects=False)
            else:
                services.response_lift(block=block, actor=self.secadmin, reason=REASON)
                if "lifted_by_service" not in finding.notes:
                    finding.notes.append("lifted_by_service")
        finding.reversed = bool(blocks) and all(
            Block.objects.get(pk=b.pk).status == BlockStatus.LIFTED for b in blocks)

    def credential_stuffing(self) -> Finding:
        finding = Finding("credential_stuffing", response=ResponseKind.THROTTLE)
        since = Alert.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        session = requests.Session()
        rule = engine.rule(finding.rule)
        for i in range(int(rule.threshold) if rule else 10):
            self._login(session, f"drill-{self.tag}-{i}", "Drill-wrong-1")
        alerts = self._alerts(finding.rule, since)
        finding.fired = bool(alerts)
        blocks = list(Block.objects.filter(alert__in=alerts, status=BlockStatus.ACTIVE))
        finding.blocked = bool(blocks) and self._login(session, f"drill-{self.tag}-x", "Drill-wrong-1") == "refused"
        self._lift(finding, blocks)
        if finding.reversed:
            finding.reversed = self._login(session, f"drill-{self.tag}-y", "Drill-wrong-1") == "wrong"
        return finding

    def password_spraying(self, victim: str, victim_password: str) -> Finding:
        finding = Finding("password_spraying", response=ResponseKind.SECOND_FACTOR)
        since = Alert.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        rule = engine.rule(finding.rule)
        wanted = int(rule.threshold) if rule else 20
        session = requests.Session()
        self._login(session, victim, "Spring2026!", forwarded="198.51.100.251")  # one common password tried
        for i in range(wanted - 1):
            self._login(session, f"spray-{self.tag}-{i}", "Spring2026!", forwarded=f"198.51.100.{i % 250 + 1}")
        alerts = self._alerts(finding.rule, since)
        finding.fired = bool(alerts)
        blocks = list(Block.objects.filter(alert__in=alerts, status=BlockStatus.ACTIVE))
        finding.blocked = self._login(requests.Session(), victim, victim_password,
                                      forwarded="192.0.2.10") == "second_factor"
        self._lift(finding, blocks)
        if finding.reversed:
            finding.reversed = self._login(requests.Session(), victim, victim_password,
                                           forwarded="192.0.2.10") == "signed_in"
        if not finding.fired:
            finding.notes.append("需把演练主机列入 TONGBAN_TRUSTED_PROXIES，平台才会采信多个来源地址")
        return finding

    # -- replayed as audit entries ---------------------------------------------------------------------

    def _event(self, action: Action, *, actor: Actor, subject: Subject | None = None, outcome: Outcome = Outcome.SUCCESS,
               ip: str = "", details: dict[str, Any] | None = None) -> None:
        audit_record(action=action, actor=actor, subject=subject, outcome=outcome, client_address=ip,
                     details={**(details or {}), "drill": True})

    def _replayed(self, finding: Finding, since: int, check: Any = None, after: Any = None) -> Finding:
        finding.via = "event"
        alerts = self._alerts(finding.rule, since)
        finding.fired = bool(alerts)
        Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(drill=True)
        blocks = list(Block.objects.filter(alert__in=alerts, status=BlockStatus.ACTIVE))
        if finding.response and finding.response != ResponseKind.NONE:
            finding.blocked = bool(blocks) and (check() if check else True)
            self._lift(finding, blocks)
            if finding.reversed and after is not None:
                finding.reversed = after()
        return finding

    # -- the partner API, signed, over HTTP --------------------------------------------------------------

    def _partner(self, credential: PartnerCredential) -> Any:
        from tongban.client import PartnerClient

        client = self._clients.get(credential.app_id)
        if client is None:  # one per app: the platform's keys are fetched once and pinned
            client = self._clients[credential.app_id] = PartnerClient(
                self.base, credential.app_id, credential.private_key, timeout=self.timeout)
        return client

    def _verify_many(self, credential: PartnerCredential, numbers: list[str]) -> int:
        """One signed batch call (1–100 people) from `credential`'s app; its HTTP status."""
        return self._partner(credential).verify_batch(
            [{"id_number": n, "name": "演练"} for n in numbers], level="l1", purpose=credential.purpose).status

    def _call_status(self, credential: PartnerCredential) -> int:
        """One signed verification from `credential`'s app: 200 served, 429 paused, 403 suspended … A new
        number each time: one app asking about one identity again and again is throttled on its own."""
        self._probes += 1
        return self._partner(credential).verify(id_number=_resident_number(self.tag, 9000 + self._probes),
                                                name="演练", purpose=credential.purpose).status

    def _until(self, check: Any) -> bool:
        """`check()` until true, for at most the partner app cache's lifetime (another process's server
        re-reads an app's status that often)."""
        from django.conf import settings

        deadline = time.monotonic() + float(settings.TONGBAN_PARTNERS.app_cache_seconds) + 1
        while True:
            if check():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)

    def id_many_apps(self) -> Finding:
        finding = Finding("id_many_apps", response=ResponseKind.NONE)
        since = _last_alert()
        rule = engine.rule(finding.rule)
        wanted = int(rule.threshold) if rule else 5
        apps = self.partners[:-1] if len(self.partners) > wanted else self.partners
        if len(apps) < wanted:
            finding.notes.append(f"需要 {wanted} 个接入应用凭据（--partner-credentials），只有 {len(apps)} 个")
        number = _resident_number(self.tag, 0)
        for credential in apps[:wanted]:
            self._verify_many(credential, [number])
        alerts = self._alerts(finding.rule, since)
        finding.fired = bool(alerts)
        Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(drill=True)
        return finding

    def inconsistent_ratio(self) -> Finding:
        """Enumeration twice from one app, as signed batch calls: the first time the app is paused
        (throttle: its calls answered 429), the second its key suspended (refused); each lifted, and the
        app served again."""
        finding = Finding("inconsistent_ratio", response="throttle→suspend_app")
        if not self.partners:
            finding.notes.append("没有接入应用凭据（--partner-credentials），无法演练")
            return finding
        credential = self.partners[-1]
        rule = engine.rule("inconsistent_ratio")
        sample = int((rule.params if rule else {}).get("min_sample", 50))
        rounds = max(1, int((rule.params if rule else {}).get("suspend_after", 2)))
        effects: list[bool] = []
        gone: list[bool] = []
        for n in range(rounds):
            since = _last_alert()
            numbers = [_resident_number(self.tag, 1000 * (n + 1) + i) for i in range(sample)]
            for start in range(0, sample, 100):
                self._verify_many(credential, numbers[start:start + 100])
            alerts = self._alerts(finding.rule, since)
            finding.fired = finding.fired or bool(alerts)
            Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(drill=True)
            blocks = list(Block.objects.filter(alert__in=alerts, status=BlockStatus.ACTIVE))
            # The first round pauses the app (429); the last must have suspended its key (a refusal other
            # than a pause). Seen by the app itself, over HTTP.
            last = n == rounds - 1
            effects.append(bool(blocks) and self._until(
                lambda last=last: self._call_status(credential) not in ((200, 429) if last else (200,))))
            self._lift(finding, blocks)
            gone.append(bool(finding.reversed) and self._until(lambda: self._call_status(credential) == 200))
        finding.blocked = all(effects)
        finding.reversed = all(gone)
        if not finding.fired and _sources_unavailable(credential.app_id):
            finding.notes.append("核验答复为“数据源不可用”，不计入不一致比例：请先加载人口库（tongban registry generate）")
        return finding

    def officer_reads(self, officer: Any) -> Finding:
        since = Alert.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        rule = engine.rule("officer_reads_zscore")
        reads = int((rule.params if rule else {}).get("min_reads", 50))
        off = engine.rule("off_hours_reads")
        narrowed = None
        if off is not None and not engine.off_hours(clock.now(), int(off.params.get("start_hour", 8)),
                                                    int(off.params.get("end_hour", 20))):
            # In working hours the drill stands for the night by giving the rule an empty working day for the
            # replay (audited, risk.rule.change) and restoring it after.
            narrowed = dict(off.params)
            services.rule_update(rule=off, actor=self.secadmin, params={**narrowed, "start_hour": 0, "end_hour": 0})
        try:
            # Read until the z-score rule fires (the peers' counts grow with each drill in the window), at
            # most twenty times the rule's minimum.
            every = max(1, int((rule.params if rule else {}).get("check_every", 10)))
            done = 0
            while done < reads or (rule is not None and done < 20 * reads
                                   and not Alert.objects.filter(rule__code=rule.code, pk__gt=since).exists()):
                for _ in range(reads if done == 0 else every):
                    self._event(Action.PERSONAL_DATA_READ, actor=Actor.user(officer),
                                subject=Subject("drill.record", 1))
                done += reads if done == 0 else every
        finally:
            if narrowed is not None and off is not None:
                services.rule_update(rule=off, actor=self.secadmin, params=narrowed)
        if rule is not None and not Alert.objects.filter(rule__code=rule.code, pk__gt=since).exists():
            engine.officer_zscore_check(officer.pk, rule)

        def locked() -> bool:
            officer.refresh_from_db()
            return bool(officer.is_locked())

        finding = self._replayed(Finding("officer_reads_zscore", response=ResponseKind.LOCK_ACCOUNT), since,
                                 locked, lambda: not locked())
        # The drill's reader is disabled afterwards, so the next drill's peers are the usual ones.
        type(officer).objects.filter(pk=officer.pk).update(is_active=False)
        if off is not None:  # the same reads, at night or on a rest day, raise the off-hours alert
            late = Finding("off_hours_reads", via="event", response=ResponseKind.NONE)
            late.fired = Alert.objects.filter(rule__code=off.code, pk__gt=since).exists()
            if narrowed is not None:
                late.notes.append("工作时间内演练：回放期间把规则的工作时段临时设为空（已审计并恢复）")
            self.findings.append(late)
        return finding

    def export(self, user: Any) -> Finding:
        since = Alert.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        rule = engine.rule("export_large")
        rows = int(rule.threshold) + 1 if rule else 1001
        finding = Finding("export_large", via="service", response=ResponseKind.HOLD_EXPORT)
        try:
            services.export_authorise(user=user, export=f"drill.{self.tag}", rows=rows)
            finding.blocked = False
        except TongbanError as exc:
            finding.blocked = exc.code == "export_held"
        alerts = self._alerts(finding.rule, since)
        finding.fired = bool(alerts)
        blocks = list(Block.objects.filter(alert__in=alerts, status=BlockStatus.ACTIVE))
        self._lift(finding, blocks)
        if finding.reversed:
            finding.reversed = services.export_authorise(user=user, export=f"drill.{self.tag}", rows=rows) is not None
        return finding

    def _staff_login(self, username: str, password: str, token: str, forwarded: str,
                     session: requests.Session | None = None) -> bool:
        """The back office's two steps over HTTP (password, then the authenticator's code) from `forwarded`."""
        session = session if session is not None else requests.Session()
        session.headers["X-Forwarded-For"] = forwarded
        url = f"{self.base}/backoffice/login/"
        page = session.get(url, timeout=self.timeout)
        csrf = _csrf(page.text)
        first = session.post(url, data={"csrfmiddlewaretoken": csrf, "username": username, "password": password},
                             headers={"Referer": url}, timeout=self.timeout, allow_redirects=False)
        if first.status_code not in (301, 302):
            return False
        totp_url = f"{self.base}/backoffice/login/totp/"
        page = session.get(totp_url, timeout=self.timeout)
        second = session.post(totp_url, data={"csrfmiddlewaretoken": _csrf(page.text) or csrf, "token": token},
                              headers={"Referer": totp_url}, timeout=self.timeout, allow_redirects=False)
        return second.status_code in (301, 302) and "login" not in second.headers.get("Location", "login")

    def _console(self) -> requests.Session | None:
        """The security admin's back-office session (signed in once, over HTTP), or None when it cannot be."""
        if self._admin is None:
            addresses = _two_staff_networks()
            session = requests.Session()
            password, tokens = _staff_credentials(self.secadmin)
            signed = bool(addresses) and self._staff_login(self.secadmin.get_username(), password, tokens[2],
                                                           addresses[0] if addresses else "", session)
            self._admin = session if signed else False
        return self._admin if isinstance(self._admin, requests.Session) else None

    def staff_new_network(self, staff: Any) -> Finding:
        """The drill's staff account signs in to the back office over HTTP (password and TOTP code, the
        account's authenticator held by the drill) from a known network, then from a new one."""
        finding = Finding("staff_new_network", response=ResponseKind.NONE)
        since = _last_alert()
        password, tokens = _staff_credentials(staff)
        addresses = _two_staff_networks()
        if not addresses:
            finding.notes.append("TONGBAN_BACKOFFICE_NETWORKS 中找不到两个不同的 /24 网段，无法演练")
            return finding
        signed = [self._staff_login(staff.username, password, token, ip)
                  for token, ip in zip(tokens[:2], addresses, strict=True)]
        if not all(signed):
            finding.notes.append("演练工作人员账号未能登录后台（需把演练主机列入 TONGBAN_TRUSTED_PROXIES）")
        alerts = self._alerts(finding.rule, since)
        finding.fired = bool(alerts)
        Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(drill=True)
        return finding

    def _staff_password(self, username: str, password: str, forwarded: str) -> str:
        """The back office's first step only: "next" (the password was taken), "refused" (locked), "wrong"."""
        session = requests.Session()
        session.headers["X-Forwarded-For"] = forwarded
        url = f"{self.base}/backoffice/login/"
        page = session.get(url, timeout=self.timeout)
        answer = session.post(url, data={"csrfmiddlewaretoken": _csrf(page.text), "username": username,
                                         "password": password}, headers={"Referer": url}, timeout=self.timeout,
                              allow_redirects=False)
        if answer.status_code in (301, 302):
            return "next"
        return "refused" if "锁定" in answer.text else "wrong"

    def login_lockout(self, staff: Any) -> Finding:
        """Wrong passwords against the drill's own staff account until the rule locks it; the right password
        is then refused; the security admin lifts the lock in the console; the account signs in again."""
        finding = Finding("login_lockout", response=ResponseKind.LOCK_ACCOUNT)
        since = _last_alert()
        addresses = _two_staff_networks()
        if not addresses:
            finding.notes.append("TONGBAN_BACKOFFICE_NETWORKS 中找不到两个不同的 /24 网段，无法演练")
            return finding
        password, _tokens = _staff_credentials(staff)
        rule = engine.rule(finding.rule)
        for _ in range(int(rule.threshold) if rule else 5):
            self._staff_password(staff.username, f"Drill-wrong-{self.tag}", addresses[0])
        alerts = self._alerts(finding.rule, since)
        finding.fired = bool(alerts)
        Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(drill=True)
        blocks = list(Block.objects.filter(alert__in=alerts, status=BlockStatus.ACTIVE))
        finding.blocked = bool(blocks) and self._staff_password(staff.username, password, addresses[0]) == "refused"
        self._lift(finding, blocks)
        if finding.reversed:
            staff.refresh_from_db()
            password, tokens = _staff_credentials(staff)
            finding.reversed = self._staff_login(staff.username, password, tokens[1], addresses[0])
        return finding

    def login_address_failures(self) -> Finding:
        """Failed logins from one drill address, spread over a few names (each below the account's limit and
        fewer than credential stuffing's), until the rule refuses the address; lifted; answered again."""
        finding = Finding("login_address_failures", response=ResponseKind.THROTTLE)
        since = _last_alert()
        rule = engine.rule(finding.rule)
        account = engine.rule("login_lockout")
        wanted = int(rule.threshold) if rule else 30
        per_name = max(1, int(account.threshold) - 1 if account else 4)
        address = f"198.51.100.{200 + secrets.randbelow(40)}"
        session = requests.Session()
        for i in range(wanted):
            self._login(session, f"drill-{self.tag}-addr-{i // per_name}", "Drill-wrong-1", forwarded=address)
        alerts = self._alerts(finding.rule, since)
        finding.fired = bool(alerts)
        Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(drill=True)
        blocks = list(Block.objects.filter(alert__in=alerts, status=BlockStatus.ACTIVE))
        finding.blocked = bool(blocks) and self._login(session, f"drill-{self.tag}-addr-x", "Drill-wrong-1",
                                                       forwarded=address) == "refused"
        self._lift(finding, blocks)
        if finding.reversed:
            finding.reversed = self._login(session, f"drill-{self.tag}-addr-y", "Drill-wrong-1",
                                           forwarded=address) == "wrong"
        if not finding.fired:
            finding.notes.append("需把演练主机列入 TONGBAN_TRUSTED_PROXIES，平台才会采信演练的来源地址")
        return finding

    def audit_chain(self) -> Finding:
        since = Alert.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        self._event(Action.AUDIT_VERIFY, actor=Actor.system("risk.drill"), subject=Subject("audit.log", ""),
                    outcome=Outcome.FAILURE, details={"simulated": "broken_chain"})
        return self._replayed(Finding("audit_chain_failure", response=ResponseKind.NONE), since)


def _staff_credentials(staff: Any) -> tuple[str, list[str]]:
    """A fresh password for the drill's own staff account and two authenticator codes for it (one time step
    apart, within the device's tolerance: a code is accepted once), and a third for the next step. The drill holds its accounts' TOTP
    secrets as the demo holds its staff's; never a real officer's account."""
    from tongban.accounts.models import StaffTOTPDevice

    password = f"Drill-{secrets.token_urlsafe(12)}-9a"
    staff.set_password(password)
    staff.must_change_password = False
    staff.save()
    device = StaffTOTPDevice.objects.filter(user=staff, confirmed=True).order_by("pk").first()
    if device is None:
        device = StaffTOTPDevice.objects.create(user=staff, name="攻防演练", confirmed=True)
    from django_otp.oath import hotp

    now = int((time.time() - device.t0) // device.step) + device.drift
    return password, [f"{hotp(device.bin_key, step, device.digits):0{device.digits}d}" for step in (now - 1, now, now + 1)]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return found.group(1) if found else ""


def _two_staff_networks() -> tuple[str, str] | None:
    """Two addresses in different /24 networks from which the back office may be reached
    (TONGBAN_BACKOFFICE_NETWORKS): the first a fixed one, the second new on every drill."""
    import ipaddress

    from django.conf import settings

    nets = [ipaddress.ip_network(n, strict=False) for n in settings.TONGBAN_SECURITY.backoffice_networks]
    v4 = [n for n in nets if n.version == 4]
    for net in v4:
        if net.prefixlen <= 22:
            subnets = 1 << (24 - net.prefixlen)
            first = net.network_address + (subnets - 1) * 256 + 1
            second = net.network_address + secrets.randbelow(subnets - 1) * 256 + 1
            return str(first), str(second)
    if len(v4) >= 2 and engine.network_of(str(v4[0].network_address + 1)) != engine.network_of(
            str(v4[1].network_address + 1)):
        return str(v4[0].network_address + 1), str(v4[1].network_address + 1)
    return None


def _sources_unavailable(app_id: str) -> bool:
    from tongban.audit.models import AuditEntry

    last = AuditEntry.objects.filter(action=Action.VERIFICATION_REQUEST, actor_type="partner_app",
                                     actor_id=app_id).order_by("-pk").first()
    return last is not None and (last.details or {}).get("reason") == "source_unavailable"


def _last_alert() -> int:
    return Alert.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _resident_number(tag: str, n: int) -> str:
    """A well-formed resident ID number (GB 11643 check digit) no one in the registry holds — born in 1900 —
    so every answer is "inconsistent", what an enumerating app gets. Distinct per drill and per `n`."""
    import datetime as dt

    from stdnum.cn import ric

    born = dt.date(1900, 1, 1) + dt.timedelta(days=(int(tag, 16) + n // 1000) % 3650)
    body = f"110101{born:%Y%m%d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


@dataclass
class PartnerCredential:
    """A partner app the drill attacks as: its id, its SM2 private key (PEM), a purpose it may use."""

    app_id: str
    private_key: str
    purpose: str = "gov_service"


def partner_credentials_load(path: str) -> list[PartnerCredential]:
    """The file `tongban drill --make-partner-credentials` writes (JSON: {"apps": [{app_id, private_key,
    purpose}]})."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return [PartnerCredential(str(a["app_id"]), str(a["private_key"]), str(a.get("purpose") or "gov_service"))
            for a in data.get("apps", [])]


def partner_credentials_make(path: str, *, apps: int = 6) -> list[PartnerCredential]:
    """Register `apps` partner apps of the drill's own organisation (攻防演练; never a real partner's),
    each with a generated key pair, and write their credentials to `path` (mode 0600): the operator's
    step before a drill. The platform keeps only the public keys."""
    import os

    from tongban.partners.models import PurposeCode
    from tongban.partners.services import organisation_get_or_create, partner_app_create

    actor = Actor.cli()
    purpose, _ = PurposeCode.objects.get_or_create(code="gov_service", defaults={"name": "政务服务办理"})
    org = organisation_get_or_create(name="攻防演练", kind="other", region_code="", actor=actor)
    made: list[PartnerCredential] = []
    stamp = secrets.token_hex(2)
    for i in range(apps):
        new = partner_app_create(organisation=org, name=f"攻防演练应用-{stamp}-{i + 1}", levels=("l1",),
                                 purposes=(purpose.code,), actor=actor)
        made.append(PartnerCredential(new.app.app_id, new.private_key_pem or "", purpose.code))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"apps": [c.__dict__ for c in made]}, fh, ensure_ascii=False, indent=1)
    return made


def drill_run(base_url: str, *, victim: str, victim_password: str,
              partners: list[PartnerCredential] | None = None) -> list[Finding]:
    """Run every pattern; the drill's own staff accounts are made (or reused) for it."""
    from tongban.accounts.models import User, UserKind

    def staff(username: str, **roles: Any) -> Any:
        user, _ = User.objects.get_or_create(username=username, defaults={
            "kind": UserKind.STAFF, "department": "hukou", "region_code": "330100", **roles})
        return user

    services.rules_ensure()
    secadmin = staff("drill-secadmin", role_security_admin=True, department="", region_code="")
    drill = Drill(base_url, secadmin=secadmin, partners=partners)
    peers = [staff(f"drill-officer-{i}", role_officer=True) for i in range(4)]
    for n, peer in enumerate(peers):
        for _ in range(n + 1):
            drill._event(Action.PERSONAL_DATA_READ, actor=Actor.user(peer), subject=Subject("drill.record", 1))
    drill.findings.append(drill.credential_stuffing())
    drill.findings.append(drill.password_spraying(victim, victim_password))
    drill.findings.append(drill.id_many_apps())
    drill.findings.append(drill.inconsistent_ratio())
    drill.findings.append(drill.officer_reads(staff(f"drill-officer-greedy-{drill.tag}", role_officer=True)))
    drill.findings.append(drill.export(peers[0]))
    drill.findings.append(drill.staff_new_network(staff(f"drill-staff-{drill.tag}", role_officer=True,
                                                        department="traffic")))
    drill.findings.append(drill.audit_chain())
    drill.findings.append(drill.login_lockout(staff(f"drill-locked-{drill.tag}", role_officer=True,
                                                    department="traffic")))
    drill.findings.append(drill.login_address_failures())
    return drill.findings
