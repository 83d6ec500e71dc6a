"""`tongban demo`: everything a newcomer needs in one command, then the platform on 127.0.0.1."""

from __future__ import annotations

import io
import json
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from tongban.demo.seed import DEMO_ACCOUNTS, NATIONAL_PASSWORD, DemoSso, demo_accounts_ensure, demo_sso_ensure


def _width(text: str) -> int:
    """Columns `text` takes in a terminal: CJK characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def serve_layout() -> dict[str, int]:
    """The demo server's processes. Without Redis the cache is each process's own memory: one worker
    process (its threads share it), so that a partner's nonce cannot be replayed to another process
    (docs/partner-api.md §8); with Redis, `tongban serve`'s defaults."""
    from tongban.core.management.commands.serve import local_cache

    return {"workers": 1, "threads": 4} if local_cache() else {}


class Command(BaseCommand):
    help = "迁移数据库、生成演示数据与演示账号，并启动平台（仅用于演示环境）。"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--people", type=int, default=10000, help="参考数据源生成的人数（至少 10000）")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--sms-port", type=int, default=8025, help="短信网关模拟器端口")
        parser.add_argument("--national-port", type=int, default=8790, help="国家政务服务平台模拟器端口")
        parser.add_argument("--ems-port", type=int, default=8026, help="EMS 寄递模拟器端口")
        parser.add_argument("--pay-port", type=int, default=8027, help="支付平台模拟器端口")
        parser.add_argument("--app-port", type=int, default=8101,
                            help="演示接入应用的端口：省级政务服务平台在此端口，交管业务系统在下一个端口")
        parser.add_argument("--no-serve", action="store_true", help="只准备数据，不启动服务")
        parser.add_argument("--totp", metavar="USERNAME", help="只显示该演示工作人员账号当前的动态口令，然后退出")
        parser.add_argument("--uri", action="store_true", help="与 --totp 同用：同时显示 otpauth:// 地址，可导入身份验证器")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ENV.is_production:
            raise CommandError("tongban demo 不能在生产环境运行")
        if options["totp"]:
            self._totp_code(options["totp"], uri=options["uri"])
            return
        if options["people"] < 1:
            raise CommandError("--people 须为正整数")
        ports = [options["port"], options["sms_port"], options["national_port"], options["app_port"],
                 options["app_port"] + 1, options["ems_port"], options["pay_port"]]
        if any(not 0 < port < 65536 for port in ports) or len(set(ports)) != len(ports):
            raise CommandError("--port、--sms-port、--national-port、--app-port（及其下一个端口）须为互不相同的 1-65535 端口")
        call_command("setup", verbosity=0)
        self.stdout.write("数据库已迁移")
        call_command("registry", "generate", "--people", str(options["people"]), "--seed", str(options["seed"]))
        accounts = demo_accounts_ensure()
        from tongban.exams.demo import OFFICER as EXAM_OFFICER
        from tongban.exams.demo import demo_exams_ensure

        demo_exams_ensure()
        from tongban.demo.seed import demo_violations

        demo_violations()  # 交通违法处理: the demo citizen's cars (docs/violations.md)
        from tongban.face.demo import face_demo_ensure

        face_review = face_demo_ensure()
        from tongban.risk.demo import risk_demo_ensure

        risk_demo_ensure()  # a verification in the citizen's history, an alert on /backoffice/risk/
        base = f"http://{options['host']}:{options['port']}"
        sso = demo_sso_ensure(base_url=base, host=options["host"], national_port=options["national_port"],
                              app_ports=[options["app_port"], options["app_port"] + 1])
        out = self.stdout.write
        out("")
        out("=" * 72)
        out("tongban 演示环境 / demo")
        out(f"  门户首页      {base}/")
        out(f"  民警后台      {base}/backoffice/")
        out(f"  安全风险预警  {base}/backoffice/risk/（secadmin）")
        out(f"  系统配置      {base}/admin/")
        out(f"  接口文档      {base}/api/v1/docs")
        out(f"  就绪检查      {base}/readyz")
        out(f"  合作方接口    {base}/partner/v1/openapi.json （文档：docs/partner-api.md）")
        out(f"  短信模拟器    http://{options['host']}:{options['sms_port']}/ （注册、登录验证码在此查看）")
        out(f"  EMS 模拟器    http://{options['host']}:{options['ems_port']}/ （邮寄的办理结果，每 5 秒推进一步）")
        out(f"  交通违法处理  {base}/violations/ （演示群众名下机动车的违法记录；docs/violations.md）")
        out(f"  非税缴款      {base}/pay/ （支付平台模拟器 http://{options['host']}:{options['pay_port']}/；docs/payments.md）")
        out(f"  考试预约      {base}/exams/ （群众账号；民警后台 {base}/backoffice/exams/，账号 {EXAM_OFFICER[0]} 密码 "
            f"{EXAM_OFFICER[1]}；docs/exams.md）")
        if face_review is not None:
            out(f"  实人复核      {base}/backoffice/face/ （一件待复核：officer 与 officer2 四眼复核；docs/face.md）")
        else:
            out("  实人认证      未安装可选组件 face（pip install -e '.[face]'）：L3 不可用")
        out("")
        out("演示账号 / demo logins:")
        for account in accounts:
            out(f"  {account.role:<12} 用户名 {account.username:<11} 密码 {account.password:<20} 登录 {base}{account.where}")
            if account.second_factor:
                out(f"  {'':<12} {account.second_factor}（演示环境专用；正式环境请用手机验证器扫码绑定）")
        self._print_sso(sso, base)
        out("")
        out("参考数据源中可用于注册的人（tongban registry sample --n 5 --json 可查看更多）:")
        buffer = io.StringIO()
        try:
            call_command("registry", "sample", "--n", "3", "--json", stdout=buffer)
            out(json.dumps(json.loads(buffer.getvalue()), ensure_ascii=False, indent=2))
        except (CommandError, ValueError) as exc:
            out(f"  （无法列出样本：{exc}）")
        out("")
        out(f"一键挪车：{base}/carmove/ （演示群众登录后，用上面样本中的号牌试发；车主短信在短信模拟器中查看，"
            f"点短信里的链接答复；10 分钟后可催单，转交管民警 traffic 的 {base}/backoffice/carmove/）")
        out(f"无犯罪记录证明：{base}/apply/330106-GAZA001/ （治安民警 station 受理、出具；"
            "以下参考人员有犯罪记录，注册认证后申请可见不予出具告知书）")
        try:
            from tongban.registry.samples import with_criminal_record

            for person in with_criminal_record(2):
                out(f"  {person['name']} {person['id_number']}")
        except Exception as exc:  # no generated registry
            out(f"  （无法列出：{exc}）")
        out("=" * 72)
        if options["no_serve"]:
            return
        from sim.demo_sso import start_demo_sso
        from sim.sms_gateway import start_sms_simulator

        sms_db = settings.TONGBAN_VAR_DIR / "sim" / "sms.sqlite3"
        sms_db.parent.mkdir(parents=True, exist_ok=True)
        simulator = start_sms_simulator(options["sms_port"], host=options["host"], db_path=str(sms_db))
        from sim.ems import start_ems_simulator

        courier = start_ems_simulator(options["ems_port"], host=options["host"])
        settings.TONGBAN_EMS["URL"] = f"http://{options['host']}:{options['ems_port']}"
        settings.TONGBAN_EMS["CALLBACK_URL"] = f"{base}/cases/ems/callback/"
        from sim.pay_gateway import start_pay_gateway_simulator

        bank = start_pay_gateway_simulator(options["pay_port"], host=options["host"])
        settings.TONGBAN_PAYMENTS["GATEWAY"]["URL"] = f"http://{options['host']}:{options['pay_port']}"  # type: ignore[index]
        settings.TONGBAN_PAYMENTS["NOTIFY_URL"] = f"{base}/pay/gateway/notify/"
        try:
            try:
                counterparts = start_demo_sso(sso.config)
            except RuntimeError as exc:
                raise CommandError(str(exc)) from exc
            try:
                # The server's workers fork from this process, so they send to the simulators just started.
                settings.TONGBAN_SMS_GATEWAY["URL"] = f"http://{options['host']}:{options['sms_port']}/v1/messages"
                if sso.national_idp is not None:
                    settings.TONGBAN_NATIONAL_IDP = sso.national_idp
                if sso.exchange and not settings.TONGBAN_EXCHANGE.get("URL"):
                    settings.TONGBAN_EXCHANGE = {**settings.TONGBAN_EXCHANGE, **sso.exchange}
                call_command("serve", host=options["host"], port=options["port"], **serve_layout())
            finally:
                counterparts.terminate()
                counterparts.wait(10)
        finally:
            simulator.terminate()
            simulator.wait(10)
            courier.terminate()
            courier.wait(10)
            bank.terminate()
            bank.wait(10)

    def _totp_code(self, username: str, *, uri: bool) -> None:
        """The current TOTP code of a demo staff account (what an authenticator app would show)."""
        from django_otp.oath import TOTP

        from tongban.accounts import services
        from tongban.accounts.models import User

        if username not in {a.username for a in DEMO_ACCOUNTS}:
            raise CommandError("--totp 只用于演示账号")
        user = User.objects.filter(username=username).first()
        device = services.totp_device_confirmed(user) if user is not None else None
        if device is None:
            raise CommandError("该账号尚未绑定动态口令（先运行 tongban demo 生成演示账号）")
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        self.stdout.write(f"{totp.token():0{device.digits}d}")
        if uri:
            self.stdout.write(device.config_url)

    def _print_sso(self, sso: DemoSso, base: str) -> None:
        out = self.stdout.write
        citizen = DEMO_ACCOUNTS[0]
        out("")
        out("单点登录演示 / single sign-on (docs/sso.md):")
        for app, url in sso.apps:
            out(f"  {app.name}{' ' * (18 - _width(app.name))}{url}")
        out(f"  1. 打开其中一个应用，点“使用一网通办账号登录”，以{citizen.role} {citizen.username} / {citizen.password} 登录并同意授权；")
        out("  2. 打开另一个应用，点“使用一网通办账号登录”：不再输入密码（第一次只需同意授权）；")
        out(f"  3. 两个应用都列在“已授权应用”：{base}/me/authorizations/")
        out("  4. 在任一应用点“退出登录”：两个应用都退出（一网通办的后端通道退出通知，约 1 秒）。")
        out(f"国家政务服务平台（模拟） {sso.national_url}/")
        out(f"  以一网通办账号登录国家平台：{sso.national_url}/rp/login")
        if sso.national_idp is None:
            out("  “使用国家政务服务平台账号登录”：已由 TONGBAN_NATIONAL_IDP_* 配置，未使用模拟器")
            return
        out(f"  以国家平台账号登录一网通办：在 {base}/login/ 点“使用国家政务服务平台账号登录”，在模拟器登录页输入")
        for person in sso.national_people:
            who = f"即{citizen.role} {citizen.username} 本人" if person.known_here else "在一网通办尚无账号：首次登录即开户"
            out(f"    身份证号 {person.id_number} 密码 {NATIONAL_PASSWORD}（{person.name}，{who}）")
        if not sso.national_people:
            out("    （参考数据源未生成，模拟器中没有可登录的人）")
