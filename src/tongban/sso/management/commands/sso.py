"""`tongban sso create-client|sweep`: the single-sign-on provider from the command line — registering a
relying party (as the back office's client registry does) and ending expired sessions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tongban.audit.services import Actor
from tongban.sso import services
from tongban.sso.models import ClientAuthMethod, IdTokenAlg
from tongban.sso.tasks import SWEEP_EVERY_SECONDS


class Command(BaseCommand):
    help = "统一身份认证：清理已过期的登录会话，并通知相关应用（后端通道退出）。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create-client,sweep}")
        create = sub.add_parser(
            "create-client", help="登记接入应用（OIDC 客户端），与后台“接入应用”登记相同的校验与审计；"
                                  "客户端密钥只打印这一次。")
        create.add_argument("--name", required=True, help="应用名称")
        create.add_argument("--organisation", default="", help="所属单位")
        create.add_argument("--redirect-uri", action="append", default=[], metavar="URL", dest="redirect_uris",
                            help="回调地址（可重复给出）；不给则为仅客户端凭证模式的系统间应用")
        create.add_argument("--post-logout-redirect-uri", action="append", default=[], metavar="URL",
                            dest="post_logout_redirect_uris", help="退出后返回地址（可重复给出）")
        create.add_argument("--backchannel-logout-uri", default="", metavar="URL", help="后端通道退出地址")
        create.add_argument("--scopes", default="openid",
                            help="允许的权限范围，空格分隔（默认 openid；可选 realname idcard_masked idcard phone api）")
        create.add_argument("--levels", default="1,2", help="允许请求的认证等级，逗号分隔（默认 1,2）")
        create.add_argument("--alg", default=IdTokenAlg.ES256, choices=IdTokenAlg.values, help="ID Token 签名算法")
        create.add_argument("--client-credentials", action="store_true",
                            help="允许客户端凭证模式（系统间调用）；没有回调地址时总是如此")
        create.add_argument("--public", action="store_true", help="公共客户端（不持有密钥，认证方式 none，须 PKCE）")
        create.add_argument("--auth-method", default=None, choices=ClientAuthMethod.values,
                            help="令牌端点的客户端认证方式（默认：机密客户端 client_secret_basic，公共客户端 none）")
        create.add_argument("--jwks", default=None, metavar="FILE",
                            help="private_key_jwt 的客户端公钥：JWKS 文件（{\"keys\": [...]}，只含公钥）")
        create.add_argument("--sector-identifier", default="", help="扇区标识（留空则取第一个回调地址的主机名）")
        create.add_argument("--contacts", default="", help="联系人：姓名（职务）与联系电话或邮箱")
        create.add_argument("--client-id", default="", help="客户端标识（默认随机生成）")
        create.add_argument("--skip-authorization", action="store_true",
                            help="不向用户展示授权确认页（仅限本机关自有应用）")
        sweep = sub.add_parser("sweep", help=f"立即运行一次会话清理（后台任务每 {SWEEP_EVERY_SECONDS} 秒自动运行一次）：已空闲超时、"
                                             "已过期或已删除的会话结束其单点登录，令牌吊销，退出通知经发件箱送达各应用。")
        sweep.add_argument("--limit", type=int, default=None, metavar="N",
                           help="本次最多结束的会话数（默认为设置 TONGBAN_SSO_SWEEP_LIMIT，当前为 "
                                f"{services.sweep_limit()}）。")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "create-client":
            self._create_client(options)
        elif options["action"] == "sweep":
            limit = options.get("limit")
            if limit is not None and limit < 1:
                raise CommandError("--limit 须为不小于 1 的整数。")
            limit = services.sweep_limit() if limit is None else limit
            result = services.sessions_sweep(limit=limit)
            self.stdout.write(f"结束了 {result.sessions} 个已过期的会话，排队 {result.notified} 条退出通知。")
            if result.more:
                self.stdout.write(f"已达本次上限（{limit} 个），仍有已过期的会话待清理：请再次运行，或由后台任务继续。")
            else:
                self.stdout.write("没有其他待清理的会话。")

    def _create_client(self, options: dict[str, Any]) -> None:
        jwks = None
        if options["jwks"]:
            try:
                jwks = json.loads(Path(options["jwks"]).read_text(encoding="utf-8"))
            except (OSError, ValueError, RecursionError) as exc:
                raise CommandError(f"无法读取 JWKS 文件 {options['jwks']}：{exc}") from exc
            if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
                raise CommandError("JWKS 文件须为 {\"keys\": [...]}。")
        redirect_uris = options["redirect_uris"]
        try:
            new = services.client_create(
                name=options["name"], organisation=options["organisation"], redirect_uris=redirect_uris,
                post_logout_redirect_uris=options["post_logout_redirect_uris"],
                backchannel_logout_uri=options["backchannel_logout_uri"], scopes=options["scopes"],
                levels=options["levels"], alg=options["alg"], public=options["public"],
                client_credentials=options["client_credentials"] or not redirect_uris,
                auth_method=options["auth_method"], jwks=jwks, sector_identifier=options["sector_identifier"],
                contacts=options["contacts"], client_id=options["client_id"],
                skip_authorization=options["skip_authorization"], actor=Actor.cli())
        except ValidationError as exc:
            problems = "；".join(f"{field}：{'，'.join(messages)}" if field != "__all__" else "，".join(messages)
                               for field, messages in exc.message_dict.items())
            raise CommandError(f"接入应用未登记：{problems}") from exc
        client = new.client
        self.stdout.write(f"已登记接入应用“{client.name}”。")
        self.stdout.write(f"client_id: {client.client_id}")
        if new.secret and client.token_endpoint_auth_method == ClientAuthMethod.SECRET_BASIC:
            self.stdout.write(f"client_secret: {new.secret}")
            self.stdout.write("客户端密钥只显示这一次（平台只保存其 HMAC-SM3 摘要）：请交给应用方妥善保管。")
        self.stdout.write(f"token_endpoint_auth_method: {client.token_endpoint_auth_method}")
        self.stdout.write(f"grant: {client.authorization_grant_type}"
                          + (" + client-credentials" if client.allow_client_credentials
                             and client.authorization_grant_type != client.GRANT_CLIENT_CREDENTIALS else ""))
