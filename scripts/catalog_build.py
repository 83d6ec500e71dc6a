"""Write the shipped catalog's data files (src/tongban/catalog/data/) from the tables below.

The JSON files are the source that ships and is reviewed in diffs; this script is how they were written
(a province's differences are a few overrides on the national guide). Re-run after changing a table:

    .venv/bin/python scripts/catalog_build.py

Codes: a basic item's code is tongban's (GA + department letters + number), not the national platform's
事项编码; an implementation's code is its region code, a dash and the basic code.
"""

from __future__ import annotations

import json
import sys
from copy import deepcopy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tongban.catalog.chinese import to_traditional  # noqa: E402

DATA = ROOT / "src" / "tongban" / "catalog" / "data"

# Fee documents (收费依据). Amounts are the national standards in force.
FEE_ID_CARD = ("《中华人民共和国居民身份证法》第二十条；《国家发展改革委 财政部关于居民身份证收费标准及有关问题的通知》"
               "（发改价格〔2003〕2322号）：居民身份证工本费每证20元，临时居民身份证工本费每证10元")
FEE_EXIT_ENTRY = ("《国家发展改革委 财政部关于降低部分行政事业性收费标准的通知》（发改价格〔2019〕914号）：普通护照每本120元；"
                  "往来港澳通行证（电子证件）每证60元、往来台湾通行证（电子证件）每证60元；赴港澳、赴台签注每次15元")
FEE_TRAFFIC = ("《国家发展改革委 财政部关于公安交警部门有关收费标准的通知》（发改价格〔2004〕2831号）："
               "机动车驾驶证工本费每证10元，机动车行驶证工本费每证10元，机动车登记证书工本费每证10元，"
               "小型汽车号牌工本费每副100元，临时行驶车号牌工本费每张5元")
NO_CRIME_BASIS = "《公安部关于印发〈关于规范公安机关出具无犯罪记录证明工作的意见〉的通知》（公通字〔2021〕1号）"

ID_PHOTO_FETCH = "居民身份证办理信息（人像）"
POP = "人口信息"


def M(name: str, *, required: bool = True, source: str = "applicant", sample: str = "", fetched: str = "",
      note: str = "") -> dict[str, Any]:
    """A material. `fetched` names the source the platform obtains it from (免提交)."""
    m: dict[str, Any] = {"name": name, "required": required, "source": source, "sample": sample,
                         "platform_fetched": bool(fetched), "fetched_from": fetched}
    if note:
        m["note"] = note
    return m


def S(name: str, description: str) -> dict[str, str]:
    return {"name": name, "description": description}


def FORM(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"fields": list(fields)}


def F(name: str, type_: str, label: str, *, required: bool = True, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": label, "required": required, **extra}


ID_CARD = M("居民身份证", source="government", fetched=POP, note="网上申请时由平台核验身份，无须上传")
HOUSEHOLD_BOOK = M("居民户口簿", source="government", fetched=POP, note="平台从人口信息中核对户籍，无须上传")
PHOTO = M("本人近期免冠证件照片", required=False, note="在受理窗口现场免费采集人像，也可提交符合标准的数码照片回执")

DEPARTMENT_LETTERS = {"hukou": "HZ", "exit_entry": "CR", "traffic": "JG", "public_order": "ZA",
                      "cyber": "WA", "criminal": "XZ", "supervision": "JS"}

# ---------------------------------------------------------------------------------------------------------
# The national guide of every basic item: `content` is the implementation's content before a province's
# overrides; `basic` holds the basic item's own fields; `provinces` lists where it is implemented and how.
# ---------------------------------------------------------------------------------------------------------

ITEMS: list[dict[str, Any]] = []


def item(dept: str, name: str, item_type: str, *, level: str = "county", basis: str = "",
         provinces: dict[str, dict[str, Any]] | None = None, **content: Any) -> None:
    ITEMS.append({"department": dept, "name": name, "item_type": item_type, "legal_basis": basis,
                  "level": level, "content": content,
                  "provinces": provinces if provinces is not None else {"330000": {}, "440000": {}}})


# ------------------------------------------------------------------ 户政 (hukou)
HUKOU_BASIS = "《中华人民共和国户口登记条例》"
ID_LAW = "《中华人民共和国居民身份证法》"

item("hukou", "出生登记", "confirmation", basis=HUKOU_BASIS + "第七条",
     summary="婴儿出生后一个月以内，由户主、亲属、抚养人或者邻居向婴儿常住地户口登记机关申报出生登记。",
     statutory_limit_days=20, promised_limit_days=1, online_depth=4, visits=0,
     materials=[M("出生医学证明", source="government", fetched="出生医学证明电子证照", sample="出生医学证明（样本）",
                  note="医院已上传电子证照的无须提交"),
                HOUSEHOLD_BOOK, M("父母双方居民身份证", source="government", fetched=POP),
                M("父母结婚证", required=False, source="government", fetched="婚姻登记信息",
                  note="非婚生育的，提交相关说明")],
     conditions=["婴儿出生后，由监护人向婴儿父亲或母亲常住户口所在地申报",
                 "婴儿父母至少一方为本地常住户口",
                 "出生满一个月后申报的，按规定补报，仍可办理"],
     process_steps=[S("网上申请", "监护人在平台“出生一件事”中填写新生儿信息，选定随父或随母落户"),
                    S("审核", "户籍民警核对出生医学证明与父母户籍信息"),
                    S("办结", "审核通过即完成出生登记，可选择邮寄户口簿新生儿页或到派出所领取")],
     result_name="居民户口簿（新生儿户口页）", result_sample="户口簿户口页（样本）",
     life_events=["birth"], high_frequency=True, hooked_national=True,
     keywords=["报户口", "新生儿落户", "上户口", "出生一件事", "新生儿入户"], postal_delivery=True)

item("hukou", "新生儿重名查询", "public_service", basis="公安部人口信息管理相关规定",
     summary="给孩子起名前，查询全国户籍人口中同名同姓的人数。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0,
     online_depth=4, visits=0, materials=[],
     conditions=["任何人均可查询，无须登录"],
     process_steps=[S("输入姓名", "输入拟取的姓名，可选择性别"), S("查看结果", "即时显示全国同名人数")],
     life_events=["birth"], hooked_national=True, keywords=["重名", "起名", "同名同姓", "名字查询"])

item("hukou", "户口迁移（市内迁移）", "confirmation", basis=HUKOU_BASIS + "第十条",
     summary="在本市范围内因购房、投靠亲属、工作等原因变更常住户口登记地址。",
     statutory_limit_days=20, promised_limit_days=5, online_depth=3, visits=1,
     visits_reason="须核验原户口簿并收回迁出页",
     materials=[HOUSEHOLD_BOOK, ID_CARD,
                M("合法稳定住所证明", note="房屋所有权证、不动产权证书或租赁登记备案证明", sample="不动产权证书（样本）"),
                M("迁入地户主同意迁入的书面意见", required=False, note="投靠亲属落户的提交")],
     conditions=["在迁入地有合法稳定住所，或符合投靠亲属等落户政策", "本人户口在本市范围内"],
     process_steps=[S("网上预审", "提交申请和材料照片，民警在线预审"), S("窗口办理", "持原件到迁入地派出所，一次办结迁移"),
                    S("领证", "当场领取新户口簿户口页")],
     result_name="居民户口簿", result_sample="户口簿户口页（样本）",
     keywords=["迁户口", "户口迁入", "买房落户", "投靠落户"],
     provinces={"330000": {"online_depth": 4, "visits": 0, "visits_reason": "", "postal_delivery": True,
                           "promised_limit_days": 3},
                "440000": {}})

item("hukou", "户口迁移（跨省迁移）", "confirmation", basis=HUKOU_BASIS + "第十条；《公安部关于推行户口迁移网上办理的通知》",
     summary="从外省迁入本省，实行“一站式”迁移：在迁入地派出所申请，无须再回迁出地开具迁移证。",
     statutory_limit_days=20, promised_limit_days=10, online_depth=3, visits=1,
     visits_reason="须到迁入地派出所核验原件、领取新户口簿",
     materials=[ID_CARD, M("迁出地居民户口簿", note="由平台核对迁出地户籍，原件到窗口时出示"),
                M("迁入地落户条件证明", note="如劳动合同与社保缴纳证明、房屋产权证明、学历证书等")],
     conditions=["符合迁入地落户政策（人才、投靠、购房、就业等）"],
     process_steps=[S("网上预审", "提交落户材料，迁入地派出所预审"), S("迁入地审批", "迁入地公安机关审批并向迁出地发送迁移信息"),
                    S("迁出地核验", "迁出地公安机关核验后注销原户口"), S("领证", "到迁入地派出所领取户口簿")],
     result_name="居民户口簿", result_sample="户口簿户口页（样本）", hooked_national=True, high_frequency=True,
     life_events=["employment"], keywords=["跨省迁户口", "户口迁移证", "准予迁入证明", "落户", "外省迁入", "跨省通办"])

item("hukou", "大中专院校录取学生户口迁移", "confirmation", basis=HUKOU_BASIS + "第十条",
     summary="被大中专院校录取的新生，可自愿将户口迁入学校所在地集体户。",
     statutory_limit_days=20, promised_limit_days=5, online_depth=4, visits=0,
     materials=[ID_CARD, M("录取通知书", sample="录取通知书（样本）"), HOUSEHOLD_BOOK],
     conditions=["被普通高等院校、中等专业学校录取", "自愿迁移户口"],
     process_steps=[S("网上申请", "在线提交录取通知书"), S("审核", "户籍民警审核"), S("迁移", "户口迁入学校集体户，电子迁移证即时推送")],
     result_name="户口迁移证（电子）", result_sample="户口迁移证（样本）",
     life_events=["school"], keywords=["大学生户口迁移", "学生户口", "录取迁户口", "考上大学迁户口"])

ID_STEPS = [S("预约", "在平台预约受理点和时间（也可直接到窗口）"),
            S("采集", "现场采集人像和指纹，核对户籍信息"),
            S("缴费", "缴纳居民身份证工本费，支持网上支付"),
            S("制证", "公安机关制作居民身份证"),
            S("领证", "到受理点领取，或选择邮政速递送达")]

item("hukou", "居民身份证申领", "confirmation", basis=ID_LAW + "第八条、第十一条",
     summary="年满十六周岁的公民首次申领居民身份证；未满十六周岁的，可由监护人代为申领。",
     statutory_limit_days=60, promised_limit_days=20, online_depth=3, visits=1,
     visits_reason="须现场采集人像和指纹信息",
     charged=True, fee_basis=FEE_ID_CARD, fee_standard_fen=2000, online_payment=True,
     fee_items=[{"name": "居民身份证工本费", "fen": 2000}],
     materials=[HOUSEHOLD_BOOK, PHOTO,
                M("监护人居民身份证", required=False, note="未满十六周岁由监护人代为申领的提交")],
     conditions=["具有本地常住户口的公民", "年满十六周岁应当申领；未满十六周岁的可以申领"],
     process_steps=ID_STEPS, result_name="居民身份证", result_sample="居民身份证（样本）",
     postal_delivery=True, high_frequency=True, life_events=["school", "employment"],
     keywords=["身份证", "办身份证", "第一次办身份证", "首次申领", "sfz"],
     provinces={"330000": {"promised_limit_days": 15}, "440000": {"promised_limit_days": 20}})

item("hukou", "居民身份证换领", "confirmation", basis=ID_LAW + "第十一条",
     summary="居民身份证有效期满、证件损坏难以辨认或登记项目变更的，申请换领新证；可在全国任一受理点异地办理。",
     statutory_limit_days=60, promised_limit_days=20, online_depth=3, visits=1,
     visits_reason="须现场采集人像和指纹信息",
     charged=True, fee_basis=FEE_ID_CARD, fee_standard_fen=2000, online_payment=True,
     fee_items=[{"name": "居民身份证工本费", "fen": 2000}],
     materials=[M("原居民身份证", note="损坏的也须交回"), PHOTO],
     conditions=["居民身份证有效期满（可提前三个月申请）", "或证件严重损坏、登记项目变更"],
     process_steps=ID_STEPS, result_name="居民身份证", result_sample="居民身份证（样本）",
     postal_delivery=True, high_frequency=True, hooked_national=True,
     keywords=["身份证到期", "换身份证", "身份证过期", "异地换领", "sfz"],
     provinces={"330000": {"promised_limit_days": 15}, "440000": {"promised_limit_days": 20}})

item("hukou", "居民身份证补领", "confirmation", basis=ID_LAW + "第十一条",
     summary="居民身份证丢失的，申请补领；原证件在补领时即作废，可在全国任一受理点异地办理。",
     statutory_limit_days=60, promised_limit_days=20, online_depth=3, visits=1,
     visits_reason="须现场采集人像和指纹信息",
     charged=True, fee_basis=FEE_ID_CARD, fee_standard_fen=2000, online_payment=True,
     fee_items=[{"name": "居民身份证工本费", "fen": 2000}],
     materials=[HOUSEHOLD_BOOK, PHOTO],
     conditions=["居民身份证丢失或被盗"],
     process_steps=[S("挂失", "丢失后可先在平台挂失，挂失的证件不能再用于身份核验"), *ID_STEPS],
     result_name="居民身份证", result_sample="居民身份证（样本）",
     postal_delivery=True, high_frequency=True, hooked_national=True,
     keywords=["身份证丢了", "补办身份证", "身份证挂失", "身份证被盗", "sfz"],
     provinces={"330000": {"promised_limit_days": 15}, "440000": {"promised_limit_days": 20}})

item("hukou", "临时居民身份证申领", "confirmation", basis="《中华人民共和国临时居民身份证管理办法》第五条、第七条",
     summary="正在申领、换领、补领居民身份证期间急需使用身份证件的，可申领临时居民身份证，有效期三个月。",
     statutory_limit_days=3, promised_limit_days=1, online_depth=2, visits=1, visits_reason="须到户籍地派出所现场办理",
     charged=True, fee_basis=FEE_ID_CARD, fee_standard_fen=1000, online_payment=False,
     fee_items=[{"name": "临时居民身份证工本费", "fen": 1000}],
     materials=[HOUSEHOLD_BOOK, M("居民身份证受理回执", note="正在办理居民身份证的凭证"),
                M("近期免冠证件照片两张")],
     conditions=["已申请领取、换领或补领居民身份证，在领证前急需使用证件"],
     process_steps=[S("窗口申请", "持受理回执到户籍所在地派出所申请"), S("审核", "民警当场审核"),
                    S("领证", "一般在三日内制发")],
     result_name="临时居民身份证", result_sample="临时居民身份证（样本）",
     keywords=["临时身份证", "急用身份证", "临时证"],
     provinces={"330000": {"immediate": True, "case_type": "immediate", "promised_limit_days": 0},
                "440000": {"promised_limit_days": 1}})

item("hukou", "户籍证明", "public_service", basis="《公安部关于规范户籍证明出具工作的通知》",
     summary="出具亲属关系、户口迁移、注销户口、曾用名、户籍登记项目内容等户籍类证明；能通过数据共享核实的，不再要求开具。",
     statutory_limit_days=5, promised_limit_days=1, online_depth=4, visits=0,
     materials=[ID_CARD, M("相关关系证明材料", required=False, note="开具亲属关系证明而户籍信息不能证明关系的提交")],
     conditions=["本人或其近亲属为本地户籍（含已注销户籍）", "证明内容能在户籍档案中核实"],
     process_steps=[S("网上申请", "选择证明种类，说明用途和使用单位"), S("审核", "户籍民警核对户籍档案"),
                    S("出具", "生成带电子签章的户籍证明，可在线下载或邮寄纸质件")],
     result_name="户籍证明", result_sample="户籍证明（样本）", postal_delivery=True,
     high_frequency=True, hooked_national=True,
     keywords=["开证明", "户口证明", "亲属关系证明", "户籍证明", "曾用名证明", "注销户口证明"],
     assurance_level=2, workflow="one_review",
     application_form=FORM(
         F("proof_type", "choice", "证明种类", choices=[["kinship", "亲属关系证明"], ["migration", "户口迁移证明"],
                                                       ["cancellation", "注销户口证明"], ["former_name", "曾用名证明"],
                                                       ["record", "户籍登记项目内容证明"]]),
         F("relative_name", "text", "亲属姓名", show_if={"field": "proof_type", "equals": "kinship"},
           help="开具亲属关系证明时填写对方姓名"),
         F("purpose", "text", "用途", help="例如：办理继承公证、申请公租房"),
         F("recipient", "text", "证明使用单位"),
         F("delivery", "choice", "领取方式", choices=[["electronic", "电子证明（在线下载）"], ["postal", "邮寄纸质证明"]]),
         F("address", "address", "邮寄地址", prefill="household.address", show_if={"field": "delivery", "equals": "postal"}),
         F("phone", "phone", "联系电话", prefill="account.phone")),
     provinces={"330000": {"immediate": True, "case_type": "immediate", "promised_limit_days": 0,
                           "workflow": "one_review"},
                "440000": {"promised_limit_days": 2}})

item("hukou", "居住登记", "public_service", basis="《居住证暂行条例》第二条",
     summary="离开常住户口所在地，到其他城市居住半年以上的，向居住地派出所申报居住登记，是申领居住证的前提。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[ID_CARD, M("居住地住址证明", note="房屋租赁合同、房屋产权证明或单位、学校住宿证明")],
     conditions=["离开常住户口所在地到本市居住"],
     process_steps=[S("网上申报", "填写居住地址，上传住址证明"), S("登记", "系统核验后即时完成登记")],
     result_name="居住登记凭证（电子）", result_sample="居住登记凭证（样本）",
     life_events=["employment"], keywords=["暂住登记", "流动人口登记", "租房登记", "居住申报"],
     assurance_level=2, workflow="immediate",
     application_form=FORM(
         F("address", "address", "居住地址"),
         F("since", "date", "开始居住日期"),
         F("housing", "choice", "住所类型", choices=[["rent", "租赁房屋"], ["own", "自有房屋"],
                                                     ["employer", "单位或学校宿舍"], ["relative", "借住亲友房屋"]]),
         F("reason", "choice", "居住事由", choices=[["work", "务工、就业"], ["business", "经商"], ["study", "就学"],
                                                   ["family", "投亲靠友"], ["other", "其他"]]),
         F("phone", "phone", "联系电话", prefill="account.phone")))

item("hukou", "居住证申领", "public_service", basis="《居住证暂行条例》第九条、第十条",
     summary="在居住地居住半年以上，有合法稳定就业、住所或连续就读之一的，可申领居住证，享受居住地基本公共服务。",
     statutory_limit_days=15, promised_limit_days=10, online_depth=3, visits=1, visits_reason="首次申领须现场采集人像",
     materials=[ID_CARD, PHOTO, M("居住地住址证明"), M("就业、就读证明", note="劳动合同、营业执照或学校在读证明之一")],
     conditions=["已办理居住登记满半年", "有合法稳定就业、合法稳定住所、连续就读之一"],
     process_steps=[S("网上预审", "提交材料"), S("采集", "到派出所现场采集人像"), S("制证", "制作居住证"),
                    S("领证", "到派出所领取，或邮寄送达")],
     result_name="居住证", result_sample="居住证（样本）", postal_delivery=True,
     life_events=["employment", "school"], keywords=["居住证", "暂住证", "积分入学"],
     provinces={"330000": {"summary": "在浙江省居住半年以上，有合法稳定就业、住所或连续就读之一的，可申领浙江省居住证。",
                           "promised_limit_days": 7},
                "440000": {"summary": "在广东省居住半年以上，有合法稳定就业、住所或连续就读之一的，可申领广东省居住证。"}})

item("hukou", "居民户口簿补领、换领", "confirmation", basis=HUKOU_BASIS,
     summary="户口簿遗失、损坏的，由户主或家庭成员申请补领、换领。",
     statutory_limit_days=5, promised_limit_days=1, online_depth=4, visits=0,
     materials=[ID_CARD, M("损坏的原户口簿", required=False, note="换领的交回")],
     conditions=["户口簿遗失、损毁或户口页已用完"],
     process_steps=[S("网上申请", "户主或成年家庭成员在线申请"), S("审核", "户籍民警核对"), S("送达", "新户口簿邮寄送达或窗口领取")],
     result_name="居民户口簿", result_sample="居民户口簿（样本）", postal_delivery=True,
     keywords=["户口本丢了", "补户口本", "换户口本", "户口簿"])

item("hukou", "户口登记项目变更更正", "confirmation", basis=HUKOU_BASIS + "第十七条、第十八条",
     summary="姓名、出生日期、民族、文化程度、婚姻状况等户口登记项目需要变更或更正的，向户籍地派出所申请。",
     statutory_limit_days=20, promised_limit_days=10, online_depth=3, visits=1, visits_reason="须核验原始证明材料原件",
     materials=[HOUSEHOLD_BOOK, ID_CARD, M("变更更正依据", note="如出生医学证明、学历证书、结婚证、人民法院判决书等")],
     conditions=["登记项目确有错误或依法发生变化"],
     process_steps=[S("网上预审", "提交变更依据"), S("调查核实", "民警调查核实"), S("审批", "按权限审批"), S("变更", "在户口簿上变更")],
     result_name="变更后的居民户口簿", result_sample="户口簿户口页（样本）",
     keywords=["改名", "改名字", "更正出生日期", "改民族", "变更户口信息"])

item("hukou", "死亡注销户口", "confirmation", basis=HUKOU_BASIS + "第八条",
     summary="公民死亡后，由户主、亲属、抚养人或者邻居在规定期限内向户口登记机关申报注销户口。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[M("死亡医学证明或火化证明", source="government", fetched="殡葬服务信息",
                  note="医院、殡仪馆已共享的无须提交"), HOUSEHOLD_BOOK],
     conditions=["公民在本地死亡或户籍在本地"],
     process_steps=[S("网上申报", "亲属在线申报"), S("注销", "核验死亡信息后即时注销，可出具注销户口证明")],
     result_name="注销户口证明", result_sample="注销户口证明（样本）",
     keywords=["销户", "死亡销户", "身后一件事", "注销户口"])

item("hukou", "港澳台居民居住证申领", "public_service", basis="《港澳台居民居住证申领发放办法》第二条、第四条",
     summary="港澳台居民前往内地居住半年以上，符合有合法稳定就业、住所或连续就读条件之一的，可申领居住证，号码与公民身份号码规则相同。",
     statutory_limit_days=20, promised_limit_days=15, online_depth=3, visits=1, visits_reason="须现场采集人像和指纹",
     materials=[M("港澳居民来往内地通行证"), PHOTO, M("居住地住址证明"), M("就业、就读证明")],
     conditions=["在内地居住半年以上", "有合法稳定就业、合法稳定住所、连续就读之一"],
     process_steps=[S("申请", "到居住地县级公安机关指定的受理点申请"), S("采集", "采集人像和指纹"), S("制证", "公安机关制作"),
                    S("领证", "到受理点领取")],
     result_name="港澳台居民居住证", result_sample="港澳台居民居住证（样本）",
     audience_mainland=False, audience_hk_macao=True,
     keywords=["港澳居民居住证", "港澳台居住证", "回乡证办居住证", "香港人居住证"])

# ------------------------------------------------------------------ 出入境 (exit_entry)
EXIT_LAW = "《中华人民共和国护照法》"
HKM_RULE = "《中国公民因私事往来香港地区或者澳门地区的暂行管理办法》"
EE_STEPS = [S("预约", "在平台预约受理时间和地点，可在全国任一出入境接待大厅办理"),
            S("受理", "现场采集人像、指纹，签署申请表"),
            S("缴费", "缴纳证件费，支持网上支付"),
            S("审批制证", "出入境管理部门审批、制证"),
            S("领证", "到受理点领取，或选择邮政速递送达")]
EE_LOC_ZJ = [{"name": "杭州市公安局出入境管理局办证大厅及各区、县（市）出入境受理点", "address": "杭州市各出入境受理点（地址见平台“办理地点”地图）",
              "hours": "周一至周五 9:00-17:00；周六上午 9:00-12:00 延时服务"}]
EE_LOC_GD = [{"name": "广州市公安局出入境管理支队办证大厅", "address": "广州市越秀区解放南路155号",
              "hours": "周一至周五 9:00-17:00；周六 9:00-12:00"}]

item("exit_entry", "普通护照签发", "license", level="city", basis=EXIT_LAW + "第五条、第六条",
     summary="内地居民因私出国，首次申请普通护照；全国通办，可在任一出入境受理点申请。",
     statutory_limit_days=15, promised_limit_days=7, online_depth=3, visits=1, visits_reason="须现场采集人像和指纹",
     charged=True, fee_basis=FEE_EXIT_ENTRY, fee_standard_fen=12000, online_payment=True,
     fee_items=[{"name": "普通护照", "fen": 12000}],
     materials=[ID_CARD, M("出入境证件数码照片回执", required=False, note="可在受理点免费现场拍照"),
                M("国家工作人员出具的审批意见", required=False, note="登记备案的国家工作人员提交")],
     conditions=["中国内地居民", "未被限制出境"], process_steps=EE_STEPS,
     result_name="中华人民共和国普通护照", result_sample="普通护照（样本）", postal_delivery=True,
     life_events=["exit"], high_frequency=True, hooked_national=True,
     keywords=["护照", "办护照", "出国", "因私护照", "huzhao"],
     provinces={"330000": {"locations": EE_LOC_ZJ, "promised_limit_days": 7},
                "440000": {"locations": EE_LOC_GD, "promised_limit_days": 7}})

item("exit_entry", "普通护照换发、补发", "license", level="city", basis=EXIT_LAW + "第十一条",
     summary="护照有效期即将届满、签证页即将使用完毕、损毁或遗失被盗的，申请换发或补发。",
     statutory_limit_days=15, promised_limit_days=7, online_depth=3, visits=1, visits_reason="须现场采集人像和指纹",
     charged=True, fee_basis=FEE_EXIT_ENTRY, fee_standard_fen=12000, online_payment=True,
     fee_items=[{"name": "普通护照", "fen": 12000}],
     materials=[ID_CARD, M("原护照", required=False, note="换发时交回；遗失的提交遗失情况说明")],
     conditions=["护照有效期不足六个月、签证页不足或已损毁、遗失"], process_steps=EE_STEPS,
     result_name="中华人民共和国普通护照", result_sample="普通护照（样本）", postal_delivery=True,
     life_events=["exit"], hooked_national=True, keywords=["护照到期", "护照丢了", "补护照", "换护照"],
     provinces={"330000": {"locations": EE_LOC_ZJ}, "440000": {"locations": EE_LOC_GD}})

item("exit_entry", "往来港澳通行证签发", "license", level="city", basis=HKM_RULE,
     summary="内地居民因私前往香港、澳门，申请往来港澳通行证（电子证件），可同时申请签注。",
     statutory_limit_days=15, promised_limit_days=7, online_depth=3, visits=1, visits_reason="须现场采集人像和指纹",
     charged=True, fee_basis=FEE_EXIT_ENTRY, fee_standard_fen=6000, online_payment=True,
     fee_items=[{"name": "往来港澳通行证（电子证件）", "fen": 6000}, {"name": "赴港澳签注（每次）", "fen": 1500}],
     materials=[ID_CARD], conditions=["中国内地居民", "未被限制出境"], process_steps=EE_STEPS,
     result_name="往来港澳通行证", result_sample="往来港澳通行证（样本）", postal_delivery=True,
     life_events=["exit", "travel"], high_frequency=True, hooked_national=True,
     keywords=["港澳通行证", "去香港", "去澳门", "港澳证", "gatxz"],
     provinces={"330000": {"locations": EE_LOC_ZJ, "promised_limit_days": 7},
                "440000": {"locations": EE_LOC_GD, "promised_limit_days": 5}})

item("exit_entry", "往来港澳通行证签注", "license", level="city", basis=HKM_RULE,
     summary="持有效往来港澳通行证的内地居民，在线申请个人旅游、探亲、商务等赴港澳签注，通过审批后即可自助打印或生效。",
     statutory_limit_days=15, promised_limit_days=5, online_depth=4, visits=0,
     charged=True, fee_basis=FEE_EXIT_ENTRY, fee_standard_fen=1500, online_payment=True,
     fee_items=[{"name": "赴港澳签注（每次）", "fen": 1500}],
     materials=[M("有效的往来港澳通行证（电子证件）"), ID_CARD,
                M("探亲、商务等签注的事由证明", required=False, note="申请个人旅游签注的无须提交")],
     conditions=["持有效的电子往来港澳通行证", "再次签注（非首次）可在网上申请"],
     process_steps=[S("网上申请", "选择签注种类和次数，在线缴费"), S("审批", "出入境管理部门审批"),
                    S("生效", "审批通过后在自助签注机打印签注页，或直接电子生效")],
     result_name="赴港澳签注", result_sample="往来港澳通行证签注（样本）",
     life_events=["exit", "travel"], high_frequency=True, hooked_national=True,
     keywords=["港澳签注", "续签", "香港签注", "澳门签注", "自由行", "再次签注"],
     assurance_level=2, workflow="one_review",
     application_form=FORM(
         F("destination", "choice", "前往地", choices=[["hk", "香港"], ["macao", "澳门"]]),
         F("endorsement", "choice", "签注种类", choices=[["g", "个人旅游（G）"], ["l", "团队旅游（L）"],
                                                      ["t", "探亲（T）"], ["s", "商务（S）"]]),
         F("times", "choice", "签注次数", choices=[["once", "一年一次"], ["twice", "一年两次"]]),
         F("permit_number", "text", "往来港澳通行证号码", help="证件背面右上角 C 开头的 9 位号码"),
         F("relative_relation", "text", "与港澳亲属的关系", show_if={"field": "endorsement", "equals": "t"}),
         F("phone", "phone", "联系电话", prefill="account.phone")),
     provinces={"330000": {}, "440000": {"promised_limit_days": 3}})

item("exit_entry", "往来台湾通行证签发", "license", level="city", basis="《中国公民往来台湾地区管理办法》",
     summary="大陆居民前往台湾，申请往来台湾通行证（电子证件），可同时申请赴台签注。",
     statutory_limit_days=15, promised_limit_days=10, online_depth=3, visits=1, visits_reason="须现场采集人像和指纹",
     charged=True, fee_basis=FEE_EXIT_ENTRY, fee_standard_fen=6000, online_payment=True,
     fee_items=[{"name": "往来台湾通行证（电子证件）", "fen": 6000}, {"name": "赴台签注（每次）", "fen": 1500}],
     materials=[ID_CARD, M("赴台事由证明", required=False, note="探亲、商务、学习等事由提交相应证明")],
     conditions=["大陆居民", "未被限制出境"], process_steps=EE_STEPS,
     result_name="往来台湾通行证", result_sample="往来台湾通行证（样本）", postal_delivery=True,
     life_events=["exit"], keywords=["台湾通行证", "去台湾", "大通证", "入台证"],
     provinces={"330000": {"locations": EE_LOC_ZJ}, "440000": {"locations": EE_LOC_GD}})

item("exit_entry", "出入境记录查询", "public_service", level="city", basis="国家移民管理局政务服务事项清单",
     summary="本人查询并下载出入境记录，用于办理签证、留学、落户等。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[ID_CARD], conditions=["查询本人的出入境记录"],
     process_steps=[S("网上申请", "选择查询时段和用途"), S("查询", "系统即时生成带电子签章的出入境记录")],
     result_name="出入境记录（电子）", result_sample="出入境记录查询结果（样本）",
     hooked_national=True, life_events=["exit", "employment"],
     keywords=["出入境记录", "出国记录", "出境记录证明", "留学回国证明"],
     assurance_level=2, workflow="immediate",
     application_form=FORM(
         F("date_from", "date", "查询起始日期"),
         F("date_to", "date", "查询截止日期"),
         F("purpose", "choice", "用途", choices=[["visa", "办理签证"], ["study", "留学、学历认证"],
                                              ["settle", "落户、人才引进"], ["other", "其他"]]),
         F("purpose_other", "text", "其他用途说明", required=False, show_if={"field": "purpose", "equals": "other"})))

item("exit_entry", "出入境证件挂失、报失", "public_service", level="city", basis=EXIT_LAW + "第十一条",
     summary="护照、往来港澳通行证、往来台湾通行证遗失或被盗的，及时在线报失，证件随即作废。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[ID_CARD], conditions=["本人的出入境证件遗失或被盗"],
     process_steps=[S("网上报失", "选择证件并说明遗失情形"), S("作废", "证件即时宣布作废，可再申请补发")],
     result_name="证件报失回执", result_sample="报失回执（样本）",
     keywords=["护照丢了", "港澳通行证丢了", "证件挂失", "报失"])

item("exit_entry", "外国人签证延期", "license", level="city", basis="《中华人民共和国外国人入境出境管理条例》第十五条",
     summary="在中国境内的外国人所持签证注明的停留期限需要延长的，在期满七日前申请延期。",
     statutory_limit_days=7, promised_limit_days=5, online_depth=2, visits=1, visits_reason="须本人到场并留存指纹",
     charged=True, fee_basis="《国家发展改革委 财政部关于外国人签证和居留许可收费标准的通知》（发改价格〔2013〕1494号）",
     fee_standard_fen=16000, online_payment=False, fee_items=[{"name": "签证延期（一次有效）", "fen": 16000}],
     materials=[M("护照及有效签证"), M("延期事由证明"), M("住宿登记证明", source="government", fetched="境外人员住宿登记信息")],
     conditions=["所持签证停留期即将届满", "有正当延期理由"],
     process_steps=[S("预约", "在线预约"), S("受理", "本人到出入境接待大厅申请"), S("审批", "审批"), S("领证", "领取签证")],
     result_name="签证延期", result_sample="签证（样本）", keywords=["外国人签证", "visa extension", "签证延期"])

# ------------------------------------------------------------------ 交管 (traffic)
TRAFFIC_LAW = "《中华人民共和国道路交通安全法》"
DL_RULE = "《机动车驾驶证申领和使用规定》（公安部令第162号）"
REG_RULE = "《机动车登记规定》（公安部令第164号）"
TR_LOC_ZJ = [{"name": "杭州市公安局交通警察支队车辆管理所及各车管分所", "address": "杭州市各车管所、交警中队服务窗口",
              "hours": "周一至周六 8:30-17:00（法定节假日除外）"}]
TR_LOC_GD = [{"name": "广州市公安局交通警察支队车辆管理所及各车管分所", "address": "广州市各车管所、交警服务站",
              "hours": "周一至周五 9:00-17:00；周六 9:00-12:00"}]
DRIVER_LICENCE_FETCH = "机动车驾驶人信息"

item("traffic", "驾驶人考试预约", "public_service", level="city", basis=DL_RULE + "第二十八条",
     summary="驾驶证申请人在网上预约科目一、科目二、科目三考试的时间和考场。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[ID_CARD], conditions=["已受理驾驶证申请，且按规定完成相应科目的学习"],
     process_steps=[S("选择科目", "选择考试科目和考场"), S("选择时间", "选择考试日期场次"), S("确认", "预约结果以短信告知")],
     result_name="考试预约结果", result_sample="考试预约成功通知（样本）",
     life_events=["driving"], high_frequency=True, hooked_national=True,
     keywords=["约考", "考驾照", "科目一", "科目二", "科目三", "驾考预约", "学车"],
     provinces={"330000": {"locations": TR_LOC_ZJ}, "440000": {"locations": TR_LOC_GD}})

item("traffic", "交通违法处理", "penalty", level="city", basis=TRAFFIC_LAW + "第一百零七条、第一百一十四条",
     summary="对交通技术监控设备记录的违法行为（非现场违法），在网上确认并接受处理，处以罚款的可在线缴纳。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[M("机动车驾驶证", source="government", fetched=DRIVER_LICENCE_FETCH, note="平台核验驾驶证状态，无须上传")],
     conditions=["违法行为由交通技术监控设备记录，事实清楚", "仅处以警告或罚款（不含暂扣、吊销驾驶证的）"],
     process_steps=[S("查询", "查询本人名下机动车和驾驶证的违法记录"), S("确认", "确认违法事实，接受处理"),
                    S("决定", "生成电子处罚决定书"), S("缴款", "按决定书缴纳罚款")],
     result_name="公安交通管理简易程序处罚决定书", result_sample="处罚决定书（样本）",
     life_events=["driving"], high_frequency=True, hooked_national=True,
     keywords=["违章", "违章处理", "处理违章", "罚单", "扣分", "电子眼", "交通违法"])

item("traffic", "交通违法罚款缴纳", "collection", level="city", basis=TRAFFIC_LAW + "第一百零八条；警务非税收入缴款",
     summary="凭处罚决定书编号缴纳交通违法罚款，可扫码缴纳；逾期每日按罚款数额的百分之三加处罚款。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     charged=True, fee_basis=TRAFFIC_LAW + "第一百零八条、第一百零九条：罚款金额按处罚决定书", online_payment=True,
     fee_items=[{"name": "交通违法罚款", "fen": None, "by_notice": True, "note": "按处罚决定书所载金额"}],
     materials=[M("公安交通管理处罚决定书编号")], conditions=["已作出处罚决定"],
     process_steps=[S("输入编号", "输入决定书编号或扫描决定书上的二维码"), S("支付", "选择支付方式付款"), S("电子票据", "取得电子缴款票据")],
     result_name="电子缴款票据", result_sample="非税收入电子票据（样本）",
     life_events=["driving"], high_frequency=True, hooked_national=True,
     keywords=["交罚款", "违章缴费", "罚款缴纳", "非税缴款", "缴罚款"])

item("traffic", "机动车驾驶证补领", "license", level="city", basis=DL_RULE + "第五十九条",
     summary="机动车驾驶证遗失的，向驾驶证核发地或居住地车辆管理所申请补领，可在网上申请并邮寄。",
     statutory_limit_days=1, promised_limit_days=1, online_depth=4, visits=0,
     charged=True, fee_basis=FEE_TRAFFIC, fee_standard_fen=1000, online_payment=True,
     fee_items=[{"name": "机动车驾驶证工本费", "fen": 1000}],
     materials=[ID_CARD, M("驾驶证照片", source="government", fetched=DRIVER_LICENCE_FETCH, note="可使用档案照片")],
     conditions=["驾驶证遗失，且驾驶证未被扣押、扣留、暂扣、吊销"],
     process_steps=[S("网上申请", "选择补领原因和寄递地址"), S("缴费", "缴纳工本费"), S("审核制证", "车管所审核制证"),
                    S("寄递", "新驾驶证邮寄送达，原证同时作废")],
     result_name="机动车驾驶证", result_sample="机动车驾驶证（样本）", postal_delivery=True,
     life_events=["driving"], high_frequency=True, hooked_national=True,
     keywords=["驾照丢了", "补驾照", "驾驶证补办", "驾照补领"],
     assurance_level=2, workflow="one_review",
     application_form=FORM(
         F("reason", "choice", "补领原因", choices=[["lost", "遗失"], ["stolen", "被盗"], ["damaged", "损毁无法辨认"]]),
         F("photo_choice", "choice", "证件照片", choices=[["archive", "使用档案照片"], ["new", "现场拍摄新照片"]]),
         F("address", "address", "邮寄地址", prefill="household.address"),
         F("phone", "phone", "联系电话", prefill="account.phone")))

item("traffic", "机动车驾驶证换领", "license", level="city", basis=DL_RULE + "第五十五条、第五十七条",
     summary="驾驶证有效期满、信息变化或损毁的，申请换领；有效期满换证可提前九十日申请，全国通办。",
     statutory_limit_days=1, promised_limit_days=1, online_depth=4, visits=0,
     charged=True, fee_basis=FEE_TRAFFIC, fee_standard_fen=1000, online_payment=True,
     fee_items=[{"name": "机动车驾驶证工本费", "fen": 1000}],
     materials=[ID_CARD, M("身体条件证明", source="government", fetched="驾驶人电子体检信息",
                           note="医疗机构已上传电子体检信息的无须提交")],
     conditions=["驾驶证有效期满前九十日内", "或驾驶证记载信息变化、损毁"],
     process_steps=[S("网上申请", "选择换领原因，确认体检信息"), S("缴费", "缴纳工本费"), S("制证寄递", "新驾驶证邮寄送达")],
     result_name="机动车驾驶证", result_sample="机动车驾驶证（样本）", postal_delivery=True,
     life_events=["driving"], high_frequency=True, hooked_national=True,
     keywords=["驾照到期", "换驾照", "驾驶证到期换证", "驾照换证"])

item("traffic", "机动车检验标志核发", "confirmation", level="city", basis=TRAFFIC_LAW + "第十三条",
     summary="六年以内的非营运小微型客车等免检车辆，在网上申领检验标志（电子凭证）；其他车辆检验合格后核发。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[M("机动车行驶证", source="government", fetched="机动车登记信息"),
                M("交强险凭证", source="government", fetched="保险信息共享"),
                M("车船税纳税或免税证明", source="government", fetched="税务信息共享")],
     conditions=["车辆无未处理的交通违法和事故", "在检验有效期满前三个月内申请"],
     process_steps=[S("网上申请", "选择车辆"), S("核验", "系统核验保险、税务和违法信息"), S("核发", "即时核发电子检验标志")],
     result_name="机动车检验标志电子凭证", result_sample="检验标志电子凭证（样本）",
     life_events=["driving"], high_frequency=True, hooked_national=True,
     keywords=["年检", "年审", "免检", "检验标志", "六年免检", "车检"],
     assurance_level=2, workflow="immediate",
     application_form=FORM(
         F("plate_number", "text", "号牌号码", help="如 浙A12345"),
         F("vehicle_type", "choice", "号牌种类", choices=[["small", "小型汽车"], ["new_energy", "小型新能源汽车"],
                                                       ["motorcycle", "普通摩托车"]]),
         F("owner_confirm", "checkbox", "本人确认车辆无未处理的违法和事故")))

item("traffic", "机动车注册登记", "license", level="city", basis=REG_RULE + "第七条",
     summary="初次申领机动车号牌、行驶证的，向车辆管理所申请注册登记；新车可在销售点“一站式”办理。",
     statutory_limit_days=2, promised_limit_days=1, online_depth=3, visits=1, visits_reason="须交验机动车",
     charged=True, fee_basis=FEE_TRAFFIC, fee_standard_fen=12000, online_payment=True,
     fee_items=[{"name": "小型汽车号牌工本费", "fen": 10000}, {"name": "机动车行驶证工本费", "fen": 1000},
                {"name": "机动车登记证书工本费", "fen": 1000}],
     materials=[ID_CARD, M("机动车来历证明", note="购车发票"), M("整车出厂合格证明", source="government", fetched="合格证信息共享"),
                M("车辆购置税完税证明", source="government", fetched="税务信息共享"),
                M("交强险凭证", source="government", fetched="保险信息共享")],
     conditions=["机动车所有人住所在本市", "机动车经国家机动车产品主管部门许可生产"],
     process_steps=[S("选号", "在网上选取号牌号码"), S("交验", "到车管所或销售点交验车辆"), S("缴费", "缴纳工本费"),
                    S("领牌", "领取号牌、行驶证和登记证书")],
     result_name="机动车号牌、行驶证、登记证书", result_sample="机动车行驶证（样本）",
     life_events=["driving"], high_frequency=True,
     keywords=["上牌", "新车上牌", "车辆登记", "挂牌", "机动车登记"],
     provinces={"330000": {"locations": TR_LOC_ZJ}, "440000": {"locations": TR_LOC_GD}})

item("traffic", "机动车转移登记", "license", level="city", basis=REG_RULE + "第二十五条",
     summary="二手车过户：机动车所有权转让的，现机动车所有人自交付之日起三十日内申请转移登记。",
     statutory_limit_days=2, promised_limit_days=1, online_depth=3, visits=1, visits_reason="须交验机动车",
     charged=True, fee_basis=FEE_TRAFFIC, fee_standard_fen=1000, online_payment=True,
     fee_items=[{"name": "机动车行驶证工本费", "fen": 1000}],
     materials=[ID_CARD, M("机动车登记证书"), M("机动车行驶证"), M("二手车销售统一发票")],
     conditions=["机动车已办理注册登记，无未处理的违法和事故", "未被查封、扣押"],
     process_steps=[S("网上预约", "预约查验时间"), S("查验", "交验车辆"), S("登记", "办理转移登记"), S("领证", "领取新行驶证")],
     result_name="机动车行驶证", result_sample="机动车行驶证（样本）",
     life_events=["driving"], keywords=["过户", "二手车过户", "车辆过户", "转籍"],
     provinces={"330000": {"locations": TR_LOC_ZJ}, "440000": {"locations": TR_LOC_GD}})

item("traffic", "机动车抵押登记", "registration", level="city", basis=REG_RULE + "第三十三条",
     summary="机动车作为抵押物抵押的，机动车所有人和抵押权人共同申请抵押登记；银行可在网上代为申请。",
     statutory_limit_days=1, promised_limit_days=1, online_depth=4, visits=0,
     materials=[ID_CARD, M("机动车登记证书"), M("抵押合同")],
     conditions=["机动车已注册登记，未被查封"],
     process_steps=[S("网上申请", "抵押权人（银行）在线提交"), S("审核", "车管所审核"), S("办结", "在登记证书上签注抵押信息")],
     result_name="机动车登记证书（签注抵押登记）", result_sample="机动车登记证书（样本）", audience_enterprise=True,
     keywords=["车辆抵押", "汽车贷款抵押", "解除抵押", "车贷"])

item("traffic", "机动车注销登记", "registration", level="city", basis=REG_RULE + "第三十八条",
     summary="机动车报废、灭失或因质量问题退车的，申请注销登记；报废车由回收企业代为申请。",
     statutory_limit_days=1, promised_limit_days=1, online_depth=4, visits=0,
     materials=[ID_CARD, M("报废机动车回收证明", source="government", fetched="报废机动车回收信息")],
     conditions=["机动车已报废、灭失或退车"],
     process_steps=[S("网上申请", "提交申请"), S("核验", "核验回收信息"), S("注销", "注销登记，出具注销证明")],
     result_name="机动车注销证明书", result_sample="注销证明书（样本）",
     keywords=["车辆报废", "注销车辆", "报废车注销"])

item("traffic", "补领、换领机动车号牌和行驶证", "license", level="city", basis=REG_RULE + "第五十一条",
     summary="机动车号牌、行驶证灭失、丢失或损毁的，申请补领、换领；号牌补领期间可申领临时号牌。",
     statutory_limit_days=15, promised_limit_days=5, online_depth=4, visits=0,
     charged=True, fee_basis=FEE_TRAFFIC, fee_standard_fen=1000, online_payment=True,
     fee_items=[{"name": "机动车行驶证工本费", "fen": 1000}, {"name": "小型汽车号牌工本费（每副）", "fen": 10000}],
     materials=[ID_CARD], conditions=["号牌或行驶证灭失、丢失、损毁"],
     process_steps=[S("网上申请", "选择补换项目"), S("缴费", "缴纳工本费"), S("寄递", "号牌、行驶证邮寄送达")],
     result_name="机动车号牌、行驶证", result_sample="机动车行驶证（样本）", postal_delivery=True,
     life_events=["driving"], keywords=["车牌丢了", "补车牌", "行驶证丢了", "补行驶证"])

item("traffic", "核发临时行驶车号牌", "license", level="city", basis=REG_RULE + "第五十二条",
     summary="未销售的、购买后尚未注册登记的机动车需临时上道路行驶的，申领临时号牌，可在网上申领电子临牌。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     charged=True, fee_basis=FEE_TRAFFIC, fee_standard_fen=500, online_payment=True,
     fee_items=[{"name": "临时行驶车号牌工本费", "fen": 500}],
     materials=[ID_CARD, M("机动车来历证明"), M("交强险凭证", source="government", fetched="保险信息共享")],
     conditions=["新购机动车尚未注册登记", "或需转出、检验等临时行驶"],
     process_steps=[S("网上申请", "填写车辆信息"), S("核发", "即时核发临时号牌（可自行打印）")],
     result_name="临时行驶车号牌", result_sample="临时号牌（样本）", life_events=["driving"],
     keywords=["临牌", "临时车牌", "电子临牌", "新车临牌"])

item("traffic", "机动车号牌号码网上选号", "public_service", level="city", basis=REG_RULE + "第九条",
     summary="办理注册登记前，在互联网上从随机号码池中选取号牌号码，也可按规则自编自选。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[ID_CARD], conditions=["已购买新车，准备办理注册登记"],
     process_steps=[S("选号", "在随机号段中选取或自编号码"), S("确认", "确认后号码保留，凭号码办理注册登记")],
     result_name="选号结果", result_sample="选号确认单（样本）", life_events=["driving"], hooked_national=True,
     keywords=["选号", "选车牌", "网上选号", "自编号码", "车牌号"])

item("traffic", "道路交通事故快处快赔", "public_service", level="city", basis="《道路交通事故处理程序规定》第十九条",
     summary="仅造成财产损失、事实清楚的轻微交通事故，当事人在线上传现场照片、确定责任，由保险公司快速理赔。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[M("事故现场照片"), M("机动车驾驶证", source="government", fetched=DRIVER_LICENCE_FETCH)],
     conditions=["无人员伤亡，车辆可以移动", "当事人对事实和成因无争议"],
     process_steps=[S("拍照", "拍摄现场照片后撤离现场"), S("定责", "在线协商或由交警远程定责"), S("理赔", "保险公司在线理赔")],
     result_name="道路交通事故认定书（简易程序）", result_sample="事故认定书（样本）", life_events=["driving"],
     keywords=["撞车", "剐蹭", "交通事故", "快处快赔", "追尾"])

item("traffic", "机动车驾驶证申领（初次申领）", "license", level="city", basis=DL_RULE + "第十二条",
     summary="初次申请机动车驾驶证，通过科目一至科目三考试后核发驾驶证。",
     statutory_limit_days=1, promised_limit_days=1, online_depth=3, visits=1, visits_reason="须现场参加考试",
     charged=True, fee_basis=FEE_TRAFFIC, fee_standard_fen=1000, online_payment=True,
     fee_items=[{"name": "机动车驾驶证工本费", "fen": 1000}],
     materials=[ID_CARD, M("身体条件证明", source="government", fetched="驾驶人电子体检信息")],
     conditions=["年满十八周岁（小型汽车）", "身体条件符合规定"],
     process_steps=[S("申请", "在驾校或车管所申请"), S("学习考试", "完成学习并通过科目一至科目三考试"),
                    S("领证", "考试合格后当日核发驾驶证")],
     result_name="机动车驾驶证", result_sample="机动车驾驶证（样本）", life_events=["driving"],
     keywords=["考驾照", "学车", "驾照申领", "初次领证"])

item("traffic", "境外机动车驾驶证换领", "license", level="city", basis=DL_RULE + "第二十条",
     summary="持境外机动车驾驶证（含港澳驾驶执照）的人员，经科目一考试合格后换领内地机动车驾驶证。",
     statutory_limit_days=1, promised_limit_days=1, online_depth=3, visits=1, visits_reason="须现场参加科目一考试",
     charged=True, fee_basis=FEE_TRAFFIC, fee_standard_fen=1000, online_payment=True,
     fee_items=[{"name": "机动车驾驶证工本费", "fen": 1000}],
     materials=[M("港澳居民来往内地通行证或护照"), M("境外机动车驾驶证及中文翻译文本"), M("身体条件证明")],
     conditions=["持有有效的境外驾驶证", "在内地有居留或居住证件"],
     process_steps=[S("申请", "到车管所申请"), S("考试", "参加科目一考试"), S("领证", "考试合格当日领证")],
     result_name="机动车驾驶证", result_sample="机动车驾驶证（样本）",
     audience_hk_macao=True, life_events=["driving"],
     keywords=["香港驾照换内地驾照", "境外驾照", "港澳驾照", "国外驾照换证"])

# ------------------------------------------------------------------ 粤港澳直通车 (Guangdong only)
GD_ONLY: dict[str, dict[str, Any]] = {"440000": {}}
HKM_VEHICLE_RULE = "《广东省公安厅粤港、粤澳两地机动车及驾驶人管理办法》"
item("traffic", "粤港澳直通车批文延期", "license", level="province", basis=HKM_VEHICLE_RULE,
     summary="粤港、粤澳两地牌机动车的内地行驶批文即将届满的，由车辆所属企业或车主在线申请批文延期。",
     statutory_limit_days=20, promised_limit_days=10, online_depth=4, visits=0,
     materials=[M("港澳居民来往内地通行证或企业登记证明"), M("原批文"), M("车辆保险凭证")],
     conditions=["持有有效的粤港或粤澳两地机动车批文", "车辆无未处理的交通违法"],
     process_steps=[S("网上申请", "提交延期申请"), S("审核", "广东省公安厅交通管理部门审核"), S("延期", "批文有效期延长并电子通知")],
     result_name="粤港澳机动车批文（延期）", result_sample="批文（样本）",
     audience_mainland=False, audience_hk_macao=True, audience_enterprise=True, hooked_national=True,
     keywords=["直通车", "两地牌", "粤港车牌", "批文延期", "粤澳车牌", "中港车"],
     provinces=GD_ONLY)

item("traffic", "粤港澳直通车驾驶人变更登记", "license", level="province", basis=HKM_VEHICLE_RULE,
     summary="粤港、粤澳两地牌机动车需要增加、更换指定驾驶人的，在线申请驾驶人变更登记。",
     statutory_limit_days=20, promised_limit_days=10, online_depth=4, visits=0,
     materials=[M("港澳居民来往内地通行证"), M("新驾驶人的内地机动车驾驶证"), M("车辆批文")],
     conditions=["持有有效的两地牌机动车批文", "新驾驶人持有效的内地机动车驾驶证"],
     process_steps=[S("网上申请", "提交变更申请"), S("审核", "审核驾驶人资格"), S("登记", "变更指定驾驶人")],
     result_name="驾驶人变更登记结果", result_sample="变更通知书（样本）",
     audience_mainland=False, audience_hk_macao=True, audience_enterprise=True, hooked_national=True,
     keywords=["直通车换司机", "两地牌司机", "驾驶人变更", "中港车司机"],
     assurance_level=2, workflow="two_review", enterprise_applicable=True,
     application_form=FORM(
         F("approval_number", "text", "批文号码"),
         F("plate_number", "text", "两地号牌号码", help="如 粤Z·A123港"),
         F("change", "choice", "变更方式", choices=[["add", "增加驾驶人"], ["replace", "更换驾驶人"], ["remove", "减少驾驶人"]]),
         F("driver_name", "text", "新驾驶人姓名", show_if={"field": "change", "equals": "add"}),
         F("driver_licence", "text", "新驾驶人驾驶证号码", show_if={"field": "change", "equals": "add"}),
         F("phone", "phone", "联系电话", prefill="account.phone")),
     provinces=GD_ONLY)

# ------------------------------------------------------------------ 治安 (public_order)
SECURITY_REG = "《保安服务管理条例》"
HOTEL_RULE = "《旅馆业治安管理办法》第四条"
item("public_order", "无犯罪记录证明", "public_service", level="county", basis=NO_CRIME_BASIS,
     summary="个人因就业、出国（境）、入学等需要，申请开具本人在中国大陆有无犯罪记录的证明；能在线核实的即时出具电子证明。",
     statutory_limit_days=3, promised_limit_days=1, online_depth=4, visits=0,
     materials=[ID_CARD, M("用途说明", required=False, note="在申请表中选择，无须另附")],
     conditions=["为本人申请（委托他人代办的须提交委托书）", "用于就业、出国（境）、入学、资格审查等合法用途"],
     process_steps=[S("网上申请", "选择用途和使用单位"), S("核查", "公安机关查询违法犯罪记录信息"),
                    S("出具", "生成带电子签章和核验码的证明，使用单位可扫码核验")],
     result_name="无犯罪记录证明", result_sample="无犯罪记录证明（样本）", postal_delivery=True,
     life_events=["employment", "exit", "school"], high_frequency=True, hooked_national=True,
     keywords=["开证明", "无犯罪证明", "良民证", "犯罪记录证明", "政审证明"],
     assurance_level=2, workflow="one_review",
     application_form=FORM(
         F("purpose", "choice", "用途", choices=[["employment", "就业"], ["exit", "出国（境）"], ["study", "入学、参军"],
                                              ["license", "办理资格证、执业证"], ["other", "其他"]]),
         F("purpose_detail", "textarea", "用途说明", show_if={"field": "purpose", "equals": "other"}),
         F("recipient", "text", "使用单位", help="接收证明的单位名称"),
         F("period_years", "number", "查询年限（年）", required=False, help="不填写则为全部记录"),
         F("phone", "phone", "联系电话", prefill="account.phone")),
     provinces={"330000": {"immediate": True, "case_type": "immediate", "promised_limit_days": 0},
                "440000": {"promised_limit_days": 1}})

item("public_order", "保安员证核发", "license", level="city", basis=SECURITY_REG + "第十六条",
     summary="年满十八周岁、身体健康、品行良好的中国公民，通过保安员资格考试后申领保安员证。",
     statutory_limit_days=15, promised_limit_days=10, online_depth=3, visits=1, visits_reason="须参加现场考试",
     materials=[ID_CARD, M("初中以上学历证明", source="government", fetched="学历信息共享"),
                M("近期免冠证件照片")],
     conditions=["年满十八周岁，身体健康，品行良好", "具有初中以上学历", "无不得担任保安员的情形"],
     process_steps=[S("报名", "网上报名参加考试"), S("考试", "参加保安员资格考试"), S("审查", "公安机关审查"), S("发证", "核发保安员证")],
     result_name="保安员证", result_sample="保安员证（样本）", life_events=["employment"],
     keywords=["保安证", "保安上岗证", "保安员考试"])

item("public_order", "保安服务公司设立许可", "license", level="province", basis=SECURITY_REG + "第八条、第九条",
     summary="设立保安服务公司，向所在地设区的市级公安机关提出申请，由省级公安机关作出许可决定。",
     statutory_limit_days=20, promised_limit_days=15, online_depth=3, visits=1, visits_reason="须实地核查办公场所",
     materials=[M("设立申请书"), M("法定代表人、主要管理人员的身份证明和履历"), M("注册资本证明"), M("保安服务管理制度")],
     conditions=["注册资本不少于人民币100万元", "有符合规定的管理人员和管理制度"],
     process_steps=[S("申请", "向设区的市级公安机关申请"), S("审核", "市级公安机关审核"), S("决定", "省公安厅作出许可决定")],
     result_name="保安服务许可证", result_sample="保安服务许可证（样本）",
     audience_mainland=False, audience_enterprise=True, keywords=["保安公司", "保安服务许可"])

item("public_order", "旅馆业特种行业许可证核发", "license", level="county", basis=HOTEL_RULE,
     summary="开办旅馆（含宾馆、酒店、民宿等），在取得营业执照后向所在地县级公安机关申请特种行业许可证。",
     statutory_limit_days=20, promised_limit_days=10, online_depth=3, visits=1, visits_reason="须现场核查治安、消防安全条件",
     materials=[M("营业执照", source="government", fetched="市场主体登记信息"),
                M("法定代表人居民身份证", source="government", fetched=POP),
                M("经营场所产权或租赁证明"), M("消防安全检查合格证明或承诺书"), M("旅馆平面图和治安保卫制度")],
     conditions=["已取得营业执照", "房屋建筑、消防设备、出入口和通道符合治安和消防要求", "配备旅客住宿登记系统"],
     process_steps=[S("网上申请", "企业经办人在线提交"), S("受理", "审查材料"), S("实地核查", "民警现场核查"),
                    S("审批", "两级审批"), S("发证", "核发特种行业许可证，可邮寄")],
     result_name="特种行业许可证（旅馆业）", result_sample="特种行业许可证（样本）", postal_delivery=True,
     audience_mainland=False, audience_enterprise=True, life_events=["employment"],
     keywords=["开旅馆", "开宾馆", "开民宿", "特种行业许可", "特行证", "酒店许可"],
     assurance_level=2, workflow="two_review", enterprise_applicable=True,
     application_form=FORM(
         F("hotel_name", "text", "旅馆名称（与营业执照一致）"),
         F("address", "address", "经营地址"),
         F("rooms", "number", "客房数（间）"),
         F("beds", "number", "床位数（张）"),
         F("kind", "choice", "经营类型", choices=[["hotel", "宾馆、酒店"], ["guesthouse", "民宿"], ["hostel", "青年旅舍"]]),
         F("fire_safety", "text", "消防安全检查合格证或承诺书编号"),
         F("manager_phone", "phone", "治安保卫负责人电话")),
     provinces={"330000": {"promised_limit_days": 5}, "440000": {"promised_limit_days": 10}})

item("public_order", "公章刻制业特种行业许可证核发", "license", level="county", basis="《国务院对确需保留的行政审批项目设定行政许可的决定》第37项",
     summary="开办公章刻制企业，向所在地县级公安机关申请特种行业许可。",
     statutory_limit_days=20, promised_limit_days=10, online_depth=3, visits=1, visits_reason="须现场核查经营场所和设备",
     materials=[M("营业执照", source="government", fetched="市场主体登记信息"), M("经营场所证明"), M("刻制设备和安全管理制度")],
     conditions=["已取得营业执照", "有固定经营场所和必要的安全防范设施"],
     process_steps=[S("申请", "在线提交"), S("核查", "现场核查"), S("发证", "核发许可证")],
     result_name="特种行业许可证（公章刻制业）", result_sample="特种行业许可证（样本）",
     audience_mainland=False, audience_enterprise=True, keywords=["刻章店", "公章刻制许可", "开刻章店"])

item("public_order", "印章刻制备案", "other", level="county", basis="《国务院关于第三批取消中央指定地方实施行政许可事项的决定》（国发〔2017〕7号）",
     summary="企业、单位刻制公章后，由刻章企业或单位在网上向公安机关备案；新设立企业刻章免费。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[M("营业执照", source="government", fetched="市场主体登记信息"), M("印模")],
     conditions=["企业已取得营业执照"],
     process_steps=[S("选择刻章企业", "在线选择刻章企业并下单"), S("备案", "刻章企业上传印模，即时备案")],
     result_name="印章备案信息", result_sample="印章备案回执（样本）",
     audience_mainland=False, audience_enterprise=True, life_events=["employment"],
     keywords=["刻章", "公章备案", "刻公章", "新开公司刻章"],
     assurance_level=2, workflow="immediate", enterprise_applicable=True,
     application_form=FORM(
         F("seal_kind", "choice", "印章种类", choices=[["official", "单位公章"], ["finance", "财务专用章"],
                                                     ["invoice", "发票专用章"], ["contract", "合同专用章"]]),
         F("maker", "text", "刻章企业名称"),
         F("quantity", "number", "刻制数量（枚）")),
     provinces={"330000": {}, "440000": {}})

item("public_order", "典当业特种行业许可证核发", "license", level="city", basis="《典当管理办法》第二十四条",
     summary="设立典当行，取得商务主管部门典当经营许可证后，向所在地设区的市级公安机关申请特种行业许可证。",
     statutory_limit_days=20, promised_limit_days=10, online_depth=3, visits=1, visits_reason="须现场核查安全防范设施",
     materials=[M("典当经营许可证"), M("营业执照", source="government", fetched="市场主体登记信息"), M("安全防范设施证明")],
     conditions=["已取得典当经营许可证", "具备安全防范设施"],
     process_steps=[S("申请", "在线提交"), S("核查", "现场核查"), S("发证", "核发许可证")],
     result_name="特种行业许可证（典当业）", result_sample="特种行业许可证（样本）",
     audience_mainland=False, audience_enterprise=True, keywords=["典当行", "典当许可"])

item("public_order", "大型群众性活动安全许可", "license", level="city", basis="《大型群众性活动安全管理条例》第十一条、第十三条",
     summary="举办预计参加人数在1000人以上的演唱会、展览、体育比赛等活动，承办者在举办日二十日前申请安全许可。",
     statutory_limit_days=7, promised_limit_days=5, online_depth=3, visits=1, visits_reason="须现场核查活动场所",
     materials=[M("承办者合法成立的证明"), M("大型群众性活动安全工作方案"), M("场所管理者同意提供场所的证明"),
                M("票证样本", required=False)],
     conditions=["活动预计参加人数1000人以上", "承办者依法成立，场所符合安全要求"],
     process_steps=[S("申请", "举办日二十日前提交"), S("核查", "现场核查场所和安保"), S("决定", "七日内作出决定")],
     result_name="大型群众性活动安全许可决定书", result_sample="许可决定书（样本）",
     audience_mainland=False, audience_enterprise=True, keywords=["演唱会报批", "大型活动审批", "活动安全许可"])

item("public_order", "民用爆炸物品购买许可证核发", "license", level="county", basis="《民用爆炸物品安全管理条例》第二十一条",
     summary="民用爆炸物品使用单位购买民用爆炸物品，向所在地县级公安机关申请购买许可证。",
     statutory_limit_days=5, promised_limit_days=3, online_depth=3, visits=1, visits_reason="须核验原件",
     materials=[M("工商营业执照或事业单位法人证书"), M("爆破作业单位许可证或其他合法使用证明"), M("购买单位名称、数量、用途说明")],
     conditions=["持有爆破作业单位许可证或合法使用证明"],
     process_steps=[S("申请", "提交申请"), S("审查", "审查"), S("发证", "核发购买许可证")],
     result_name="民用爆炸物品购买许可证", result_sample="购买许可证（样本）",
     audience_mainland=False, audience_enterprise=True, keywords=["炸药购买", "民爆购买许可"])

item("public_order", "烟花爆竹道路运输许可证核发", "license", level="county", basis="《烟花爆竹安全管理条例》第二十二条、第二十三条",
     summary="经道路运输烟花爆竹的，托运人向运达地县级公安机关申请道路运输许可证。",
     statutory_limit_days=3, promised_limit_days=2, online_depth=4, visits=0,
     materials=[M("承运人从事危险货物运输的资质证明"), M("驾驶员、押运员资格证明"), M("烟花爆竹购销合同")],
     conditions=["承运人具有危险货物道路运输资质", "烟花爆竹来源合法"],
     process_steps=[S("网上申请", "提交申请"), S("审查", "审查"), S("发证", "核发电子运输许可证")],
     result_name="烟花爆竹道路运输许可证", result_sample="运输许可证（样本）",
     audience_mainland=False, audience_enterprise=True, keywords=["烟花运输", "鞭炮运输许可"])

item("public_order", "剧毒化学品购买许可证核发", "license", level="county", basis="《危险化学品安全管理条例》第三十九条",
     summary="申请购买剧毒化学品的单位，向所在地县级公安机关申请剧毒化学品购买许可证。",
     statutory_limit_days=3, promised_limit_days=2, online_depth=3, visits=1, visits_reason="须核验经办人身份和原件",
     materials=[M("营业执照或法人证书"), M("拟购买剧毒化学品的品种、数量说明"), M("购买用途说明"), M("经办人身份证明")],
     conditions=["购买用途合法", "单位依法设立"],
     process_steps=[S("申请", "提交申请"), S("审查", "审查"), S("发证", "核发购买许可证")],
     result_name="剧毒化学品购买许可证", result_sample="购买许可证（样本）",
     audience_mainland=False, audience_enterprise=True, keywords=["剧毒化学品", "危化品购买"])

item("public_order", "治安罚款缴纳", "collection", level="county", basis="《中华人民共和国治安管理处罚法》第一百零四条；警务非税收入缴款",
     summary="凭公安行政处罚决定书缴纳治安罚款，可扫描决定书上的二维码缴纳。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     charged=True, fee_basis="《中华人民共和国治安管理处罚法》第一百零四条：罚款金额按处罚决定书", online_payment=True,
     fee_items=[{"name": "治安罚款", "fen": None, "by_notice": True, "note": "按处罚决定书所载金额"}],
     materials=[M("公安行政处罚决定书编号")], conditions=["已作出罚款处罚决定"],
     process_steps=[S("输入编号", "输入决定书编号或扫码"), S("支付", "付款"), S("票据", "取得电子缴款票据")],
     result_name="电子缴款票据", result_sample="非税收入电子票据（样本）",
     keywords=["治安罚款", "交罚款", "非税缴款", "罚款缴纳"])

item("public_order", "养犬登记", "registration", level="county", basis="地方养犬管理条例",
     summary="在城市重点管理区域内饲养犬只的，办理养犬登记，领取犬牌；犬只须免疫。",
     statutory_limit_days=5, promised_limit_days=1, online_depth=4, visits=0,
     materials=[ID_CARD, M("犬只免疫证明", source="government", fetched="动物防疫信息"), M("犬只正面照片")],
     conditions=["饲养的犬只不属于禁养犬", "犬只已接种狂犬病疫苗"],
     process_steps=[S("网上申请", "上传犬只照片"), S("审核", "审核"), S("发牌", "邮寄犬牌")],
     result_name="养犬登记证、犬牌", result_sample="养犬登记证（样本）", postal_delivery=True,
     keywords=["狗证", "养狗登记", "犬证", "办狗证"],
     provinces={"330000": {"basis_note": "《杭州市限制养犬规定》"}})

# ------------------------------------------------------------------ 网安 (cyber)
MLPS_RULE = "《信息安全等级保护管理办法》（公通字〔2007〕43号）第十五条"
item("cyber", "网络安全等级保护备案", "other", level="city", basis=MLPS_RULE,
     summary="第二级以上网络运营者在安全保护等级确定后十日内，向所在地设区的市级以上公安机关备案。",
     statutory_limit_days=10, promised_limit_days=5, online_depth=4, visits=0,
     materials=[M("网络安全等级保护备案表"), M("定级报告"), M("专家评审意见"), M("主管部门审核意见", required=False)],
     conditions=["网络（信息系统）已完成定级", "安全保护等级为第二级以上"],
     process_steps=[S("网上提交", "上传备案表和定级材料"), S("审核", "网安部门审核"), S("发证", "出具备案证明")],
     result_name="网络安全等级保护备案证明", result_sample="备案证明（样本）",
     audience_mainland=False, audience_enterprise=True, keywords=["等保备案", "等级保护", "等保", "定级备案"])

item("cyber", "互联网网站公安联网备案", "other", level="city", basis="《计算机信息网络国际联网安全保护管理办法》第十二条",
     summary="网站开通之日起三十日内，网站开办者在全国互联网安全管理服务平台办理公安联网备案。",
     statutory_limit_days=20, promised_limit_days=10, online_depth=4, visits=0,
     materials=[M("主体证件"), M("网站负责人身份证明"), M("ICP备案号")],
     conditions=["网站已取得ICP备案", "网站已开通"],
     process_steps=[S("网上提交", "填写网站和主体信息"), S("审核", "网安部门审核"), S("备案", "发放公安备案号")],
     result_name="公安联网备案号", result_sample="备案号（样本）",
     audience_enterprise=True, keywords=["网站备案", "公安备案", "网安备案", "联网备案"])

item("cyber", "互联网上网服务营业场所信息网络安全审核", "license", level="county", basis="《互联网上网服务营业场所管理条例》第十一条",
     summary="设立网吧等互联网上网服务营业场所，向所在地县级公安机关申请信息网络安全和消防安全审核。",
     statutory_limit_days=20, promised_limit_days=10, online_depth=3, visits=1, visits_reason="须现场核查安全技术措施",
     materials=[M("文化和旅游部门的设立批准文件"), M("营业场所产权或租赁证明"), M("信息网络安全管理制度")],
     conditions=["已取得文化和旅游部门的批准文件", "安装了信息网络安全管理系统"],
     process_steps=[S("申请", "在线申请"), S("现场核查", "核查安全技术措施"), S("审核", "作出审核意见")],
     result_name="信息网络安全审核意见书", result_sample="审核意见书（样本）",
     audience_mainland=False, audience_enterprise=True, keywords=["网吧", "开网吧", "上网服务场所"])

item("cyber", "网络违法犯罪举报", "public_service", level="city", basis="《中华人民共和国网络安全法》第十四条",
     summary="发现网络诈骗、网络色情、网络赌博、侵犯公民个人信息等违法犯罪线索的，在线举报。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[M("违法线索截图或链接", required=False)], conditions=["任何人均可举报"],
     process_steps=[S("网上举报", "填写线索"), S("核查", "网安部门核查"), S("反馈", "按规定反馈处理情况")],
     keywords=["网络举报", "举报网站", "网络诈骗举报", "举报"])

# ------------------------------------------------------------------ 刑侦 (criminal)
item("criminal", "电信网络诈骗报案与紧急止付", "public_service", level="city", basis="《中华人民共和国反电信网络诈骗法》第三十三条",
     summary="遭遇电信网络诈骗的，立即在线报案，公安机关对涉案账户开展紧急止付、冻结。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[M("转账记录截图"), M("聊天记录等证据", required=False)], conditions=["本人遭受电信网络诈骗"],
     process_steps=[S("网上报案", "填写被骗经过和转账信息"), S("止付", "公安机关紧急止付"), S("受案", "按规定受案侦查")],
     result_name="报案回执", result_sample="报案回执（样本）",
     keywords=["被骗了", "诈骗报警", "网络诈骗", "止付", "电信诈骗", "报案"])

item("criminal", "失散亲人DNA比对采血", "public_service", level="city", basis="公安部“团圆”行动工作要求",
     summary="寻找被拐、失散亲人的家庭，到公安机关免费采集血样录入DNA数据库比对。",
     statutory_limit_days=30, promised_limit_days=20, online_depth=2, visits=1, visits_reason="须现场采集血样",
     materials=[ID_CARD, M("失散亲人情况说明")], conditions=["寻找失散、被拐亲人的家庭成员"],
     process_steps=[S("预约", "在线预约采血"), S("采血", "到公安机关免费采血"), S("比对", "录入全国DNA数据库比对")],
     result_name="比对结果告知", result_sample="告知书（样本）", keywords=["寻亲", "打拐", "DNA比对", "团圆行动"])

# ------------------------------------------------------------------ 监管 (supervision)
DETENTION_RULE = "《中华人民共和国看守所条例》"
item("supervision", "律师会见在押人员预约", "public_service", level="city", basis="《中华人民共和国刑事诉讼法》第三十九条；" + DETENTION_RULE,
     summary="辩护律师持律师执业证书、律师事务所证明和委托书，在网上预约会见看守所在押的犯罪嫌疑人、被告人。",
     statutory_limit_days=2, promised_limit_days=1, online_depth=3, visits=1, visits_reason="会见须到看守所现场进行",
     materials=[M("律师执业证书"), M("律师事务所证明"), M("委托书或法律援助公函")],
     conditions=["申请人为受委托的辩护律师"],
     process_steps=[S("网上预约", "选择看守所和会见时间"), S("确认", "看守所确认安排"), S("会见", "持证件到看守所会见")],
     result_name="会见预约确认", result_sample="预约确认单（样本）",
     keywords=["律师会见", "看守所会见", "会见预约"],
     assurance_level=2, workflow="one_review",
     application_form=FORM(
         F("facility", "text", "看守所名称"),
         F("detainee_name", "text", "在押人员姓名"),
         F("licence_number", "text", "律师执业证号"),
         F("law_firm", "text", "律师事务所"),
         F("date", "date", "希望会见日期"),
         F("slot", "choice", "时段", choices=[["am", "上午"], ["pm", "下午"]])))

item("supervision", "在押人员家属会见预约", "public_service", level="city", basis=DETENTION_RULE + "第二十八条",
     summary="经办案机关同意，在押人员的近亲属可预约会见（含视频会见）。",
     statutory_limit_days=5, promised_limit_days=3, online_depth=3, visits=1, visits_reason="现场会见须到看守所",
     materials=[ID_CARD, M("亲属关系证明", source="government", fetched=POP), M("办案机关同意会见的证明")],
     conditions=["申请人为在押人员的近亲属", "经办案机关同意"],
     process_steps=[S("网上预约", "提交申请"), S("审核", "看守所审核"), S("会见", "按约定时间会见")],
     result_name="会见预约确认", result_sample="预约确认单（样本）", keywords=["家属会见", "探视", "看守所探视"])

item("supervision", "为在押人员存款", "public_service", level="city", basis=DETENTION_RULE + "第三十二条",
     summary="在押人员的家属可以在网上为其存入生活费用，存款记入在押人员个人账户。",
     immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0, online_depth=4, visits=0,
     materials=[ID_CARD], conditions=["存款人为在押人员的亲属"],
     process_steps=[S("选择", "选择看守所和在押人员"), S("存款", "在线支付"), S("回执", "取得电子回执")],
     result_name="存款回执", result_sample="存款回执（样本）", keywords=["看守所存钱", "在押人员存款", "送钱"])

# ------------------------------------------------------------------ police non-tax payments (警务非税收入缴款)
def payment_item(dept: str, name: str, basis: str, summary: str, keywords: list[str], notice: str) -> None:
    item(dept, name, "collection", level="city", basis=basis + "；警务非税收入缴款",
         summary=summary, immediate=True, case_type="immediate", statutory_limit_days=0, promised_limit_days=0,
         online_depth=4, visits=0, charged=True, fee_basis=basis, online_payment=True,
         fee_items=[{"name": name.removesuffix("缴纳"), "fen": None, "by_notice": True, "note": f"按{notice}所载金额"}],
         materials=[M(f"{notice}编号")], conditions=[f"已取得{notice}"],
         process_steps=[S("输入编号", f"输入{notice}编号或扫描二维码"), S("支付", "付款"), S("票据", "取得电子缴款票据")],
         result_name="电子缴款票据", result_sample="非税收入电子票据（样本）", keywords=[*keywords, "非税缴款", "缴款通知书"])


payment_item("hukou", "居民身份证工本费缴纳", FEE_ID_CARD,
             "办理居民身份证后凭缴款通知书缴纳工本费（申领、换领、补领每证20元，临时居民身份证每证10元）。",
             ["身份证工本费", "身份证缴费"], "缴款通知书")
payment_item("exit_entry", "出入境证件费缴纳", FEE_EXIT_ENTRY,
             "申请护照、往来港澳通行证、往来台湾通行证及签注后，凭缴款通知书缴纳证件费。",
             ["护照费", "通行证缴费", "签注费"], "缴款通知书")
payment_item("traffic", "机动车号牌和证照工本费缴纳", FEE_TRAFFIC,
             "办理机动车登记、驾驶证业务后，凭缴款通知书缴纳号牌、行驶证、登记证书、驾驶证工本费。",
             ["车牌费", "驾驶证工本费", "行驶证工本费"], "缴款通知书")
payment_item("exit_entry", "外国人证件费缴纳",
             "《国家发展改革委 财政部关于外国人签证和居留许可收费标准的通知》（发改价格〔2013〕1494号）",
             "外国人办理签证、居留许可等证件后，凭缴款通知书缴纳证件费。", ["外国人签证费", "居留许可费"], "缴款通知书")
payment_item("traffic", "机动车驾驶人考试费缴纳", "各省（区、市）价格主管部门核定的机动车驾驶人考试收费标准",
             "预约驾驶人考试后，按省级价格主管部门核定的标准缴纳考试费。", ["考试费", "驾考费", "补考费"], "缴款通知书")

# ---------------------------------------------------------------------------------------------------------
# Provinces, their bodies and their differences
# ---------------------------------------------------------------------------------------------------------

PROVINCES: dict[str, dict[str, Any]] = {
    "330000": {"name": "浙江省", "bureau": "浙江省公安厅", "city": "330100", "city_name": "杭州市",
               "county": "330106", "county_name": "西湖区", "app": "浙里办", "hotline": "12345",
               "hours": "周一至周五 9:00-12:00、13:30-17:00；周六上午 9:00-12:00 延时服务"},
    "440000": {"name": "广东省", "bureau": "广东省公安厅", "city": "440100", "city_name": "广州市",
               "county": "440106", "county_name": "天河区", "app": "粤省事", "hotline": "12345",
               "hours": "周一至周五 9:00-12:00、14:00-17:30（法定节假日除外）"},
}

DEPT_NAMES = {
    "province": {"hukou": "人口管理总队", "exit_entry": "出入境管理局", "traffic": "交通管理局",
                 "public_order": "治安管理局", "cyber": "网络安全保卫总队", "criminal": "刑事侦查局",
                 "supervision": "监所管理总队"},
    "city": {"hukou": "人口管理支队", "exit_entry": "出入境管理支队", "traffic": "交通警察支队",
             "public_order": "治安管理支队", "cyber": "网络安全保卫支队", "criminal": "刑事侦查支队",
             "supervision": "监所管理支队"},
    "county": {"hukou": "户政管理大队", "public_order": "治安管理大队", "cyber": "网络安全保卫大队"},
}

SPECIAL_PHONES = {"exit_entry": "12367", "traffic": "12122"}


def organisations() -> list[dict[str, Any]]:
    orgs: list[dict[str, Any]] = [{"code": "MPS", "name": "公安部", "level": "ministry", "region_code": "",
                                   "department": "", "parent": None, "phone": "12389"}]
    for pcode, p in PROVINCES.items():
        orgs.append({"code": pcode, "name": p["bureau"], "level": "province", "region_code": pcode,
                     "department": "", "parent": "MPS", "phone": "12389"})
        for dept, label in DEPT_NAMES["province"].items():
            orgs.append({"code": f"{pcode}-{dept}", "name": f"{p['bureau']}{label}", "level": "province",
                         "region_code": pcode, "department": dept, "parent": pcode, "phone": ""})
        city, cname = p["city"], f"{p['city_name']}公安局"
        orgs.append({"code": city, "name": cname, "level": "city", "region_code": city, "department": "",
                     "parent": pcode, "phone": ""})
        for dept, label in DEPT_NAMES["city"].items():
            orgs.append({"code": f"{city}-{dept}", "name": f"{cname}{label}", "level": "city", "region_code": city,
                         "department": dept, "parent": city, "phone": ""})
        county, kname = p["county"], f"{cname}{p['county_name']}分局"
        orgs.append({"code": county, "name": kname, "level": "county", "region_code": county, "department": "",
                     "parent": city, "phone": ""})
        for dept, label in DEPT_NAMES["county"].items():
            orgs.append({"code": f"{county}-{dept}", "name": f"{kname}{label}", "level": "county",
                         "region_code": county, "department": dept, "parent": county, "phone": ""})
    return orgs


def body_for(pcode: str, dept: str, level: str) -> tuple[str, str]:
    """(organisation code, region code) of the body implementing an item of this department and level."""
    p = PROVINCES[pcode]
    if level == "province":
        return f"{pcode}-{dept}", pcode
    if level == "county" and dept in DEPT_NAMES["county"]:
        return f"{p['county']}-{dept}", p["county"]
    return f"{p['city']}-{dept}", p["city"]


def default_locations(pcode: str, dept: str, region: str) -> list[dict[str, str]]:
    p = PROVINCES[pcode]
    if region == p["county"]:
        name = f"{p['city_name']}{p['county_name']}各派出所户籍（治安）窗口及区行政服务中心公安窗口"
    elif region == pcode:
        name = f"{p['bureau']}政务服务窗口（网上申请为主）"
    else:
        name = f"{p['city_name']}公安局{DEPT_NAMES['city'][dept]}服务窗口及市民中心公安窗口"
    return [{"name": name, "address": f"{p['name']}{p['city_name']}（具体地址见平台“办理地点”地图）", "hours": p["hours"]}]


def build() -> dict[str, Any]:
    basics: dict[str, list[dict[str, Any]]] = {}
    implementations: dict[tuple[str, str], list[dict[str, Any]]] = {}
    counters: dict[str, int] = {}
    for it in ITEMS:
        dept = it["department"]
        counters[dept] = counters.get(dept, 0) + 1
        code = f"GA{DEPARTMENT_LETTERS[dept]}{counters[dept]:03d}"
        level = it["level"]
        basics.setdefault(dept, []).append({"code": code, "name": it["name"], "item_type": it["item_type"],
                                            "department": dept, "legal_basis": it["legal_basis"]})
        for pcode, overrides in it["provinces"].items():
            p = PROVINCES[pcode]
            org, region = body_for(pcode, dept, level)
            c: dict[str, Any] = {"name": it["name"], "item_type": it["item_type"],
                                 "exercise_level": {"province": "province", "city": "city", "county": "county"}[level],
                                 "legal_basis": it["legal_basis"], "case_type": "promised",
                                 "enquiry_phone": SPECIAL_PHONES.get(dept, p["hotline"]),
                                 "supervision_phone": "12389", "locations": default_locations(pcode, dept, region)}
            c.update(deepcopy(it["content"]))
            extra = dict(overrides)
            note = extra.pop("basis_note", "")
            c.update(deepcopy(extra))
            if note:
                c["legal_basis"] = note
            if c.get("online_depth") == 4 and "summary" in c and dept != "supervision":
                c["summary"] += f"可在本平台或“{p['app']}”全程网办。"
            if c.get("audience_hk_macao"):
                c["name_tc"] = to_traditional(c["name"])
                c["summary_tc"] = to_traditional(c.get("summary", ""))
            if c.get("workflow") and c.get("online_depth", 0) < 3:
                raise SystemExit(f"{it['name']}: a workflow needs online depth 3 or 4")
            implementations.setdefault((pcode, dept), []).append(
                {"code": f"{region}-{code}", "basic_code": code, "organisation": org, "region_code": region,
                 "content": c})
    return {"basics": basics, "implementations": implementations}


def write() -> None:
    built = build()
    for path in DATA.rglob("*.json"):
        path.unlink()
    DATA.mkdir(parents=True, exist_ok=True)

    def dump(path: Path, obj: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    dump(DATA / "organisations.json", {"organisations": organisations()})
    for dept, rows in sorted(built["basics"].items()):
        dump(DATA / "basic" / f"{dept}.json", {"department": dept, "basic_items": rows})
    total = 0
    for (pcode, dept), rows in sorted(built["implementations"].items()):
        dump(DATA / pcode / f"{dept}.json", {"province": pcode, "department": dept, "implementations": rows})
        total += len(rows)
    print(f"{sum(len(r) for r in built['basics'].values())} basic items, {total} implementations written to {DATA}")


if __name__ == "__main__":
    write()
