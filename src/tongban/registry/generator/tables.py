"""Reference tables and distributions behind the synthetic population (census weights, codes, names).

Sources: the 7th national census (2020) for ethnicity, age and province weights; GB/T 3304 for
ethnicity codes; python-stdnum's copy of the GB/T 2260 region table (stdnum/cn/loc.dat); Faker's
zh_CN person and address providers for surnames (with their frequencies), given names and streets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

# GB/T 3304 ethnicity codes with the 2020 census population (persons).
ETHNICITIES: tuple[tuple[str, str, int], ...] = (
    ("01", "汉族", 1_286_311_334),
    ("02", "蒙古族", 6_290_204),
    ("03", "回族", 11_377_914),
    ("04", "藏族", 7_060_731),
    ("05", "维吾尔族", 11_774_538),
    ("06", "苗族", 11_067_929),
    ("07", "彝族", 9_830_327),
    ("08", "壮族", 19_568_546),
    ("09", "布依族", 3_576_752),
    ("10", "朝鲜族", 1_702_479),
    ("11", "满族", 10_423_303),
    ("12", "侗族", 3_495_993),
    ("13", "瑶族", 3_309_341),
    ("14", "白族", 2_091_543),
    ("15", "土家族", 9_587_732),
    ("16", "哈尼族", 1_733_166),
    ("17", "哈萨克族", 1_562_518),
    ("18", "傣族", 1_329_985),
    ("19", "黎族", 1_602_104),
    ("20", "傈僳族", 762_996),
    ("21", "佤族", 430_977),
    ("22", "畲族", 746_385),
    ("23", "高山族", 3_479),
    ("24", "拉祜族", 499_167),
    ("25", "水族", 495_928),
    ("26", "东乡族", 774_947),
    ("27", "纳西族", 323_767),
    ("28", "景颇族", 160_471),
    ("29", "柯尔克孜族", 204_402),
    ("30", "土族", 281_928),
    ("31", "达斡尔族", 132_299),
    ("32", "仫佬族", 277_233),
    ("33", "羌族", 312_981),
    ("34", "布朗族", 127_345),
    ("35", "撒拉族", 165_159),
    ("36", "毛南族", 124_092),
    ("37", "仡佬族", 677_521),
    ("38", "锡伯族", 191_911),
    ("39", "阿昌族", 43_775),
    ("40", "普米族", 45_012),
    ("41", "塔吉克族", 50_896),
    ("42", "怒族", 36_575),
    ("43", "乌孜别克族", 12_742),
    ("44", "俄罗斯族", 16_136),
    ("45", "鄂温克族", 34_617),
    ("46", "德昂族", 22_354),
    ("47", "保安族", 24_434),
    ("48", "裕固族", 14_706),
    ("49", "京族", 33_112),
    ("50", "塔塔尔族", 3_544),
    ("51", "独龙族", 7_310),
    ("52", "鄂伦春族", 9_168),
    ("53", "赫哲族", 5_373),
    ("54", "门巴族", 11_143),
    ("55", "珞巴族", 4_237),
    ("56", "基诺族", 26_025),
)
ETHNICITY_NAMES = {code: name for code, name, _ in ETHNICITIES}

# Age pyramid, 2020 census, share of the population by five-year group (0-4, 5-9, ..., 95-99).
AGE_GROUP_SHARES: tuple[float, ...] = (
    5.7, 6.4, 5.9, 5.3, 5.3, 6.6, 8.7, 6.9, 6.6, 8.2, 8.6, 7.1, 5.2, 5.0, 3.4, 2.2, 1.4, 0.7, 0.25, 0.05,
)
MALE_SHARE = 0.5124  # 2020 census: 105.07 men per 100 women

# Province (GB/T 2260 first two digits): name, plate abbreviation, 2020 census population (10k).
PROVINCES: tuple[tuple[str, str, str, int], ...] = (
    ("11", "北京市", "京", 2189), ("12", "天津市", "津", 1387), ("13", "河北省", "冀", 7461),
    ("14", "山西省", "晋", 3492), ("15", "内蒙古自治区", "蒙", 2405), ("21", "辽宁省", "辽", 4259),
    ("22", "吉林省", "吉", 2407), ("23", "黑龙江省", "黑", 3185), ("31", "上海市", "沪", 2487),
    ("32", "江苏省", "苏", 8475), ("33", "浙江省", "浙", 6457), ("34", "安徽省", "皖", 6103),
    ("35", "福建省", "闽", 4154), ("36", "江西省", "赣", 4519), ("37", "山东省", "鲁", 10153),
    ("41", "河南省", "豫", 9937), ("42", "湖北省", "鄂", 5775), ("43", "湖南省", "湘", 6644),
    ("44", "广东省", "粤", 12601), ("45", "广西壮族自治区", "桂", 5013), ("46", "海南省", "琼", 1008),
    ("50", "重庆市", "渝", 3205), ("51", "四川省", "川", 8367), ("52", "贵州省", "贵", 3856),
    ("53", "云南省", "云", 4721), ("54", "西藏自治区", "藏", 365), ("61", "陕西省", "陕", 3953),
    ("62", "甘肃省", "甘", 2502), ("63", "青海省", "青", 592), ("64", "宁夏回族自治区", "宁", 720),
    ("65", "新疆维吾尔自治区", "新", 2585),
)

# Where the larger minorities mostly live (share of the group registered in that province); the
# rest follow the national province weights. Keeps 维吾尔族 in 新疆 and 壮族 in 广西, roughly.
ETHNICITY_HOME: dict[str, tuple[str, float]] = {
    "02": ("15", 0.7), "03": ("64", 0.25), "04": ("54", 0.45), "05": ("65", 0.98), "06": ("52", 0.45),
    "07": ("53", 0.55), "08": ("45", 0.9), "09": ("52", 0.95), "10": ("22", 0.6), "11": ("21", 0.5),
    "12": ("52", 0.5), "13": ("45", 0.55), "14": ("53", 0.85), "15": ("43", 0.45), "16": ("53", 0.95),
    "17": ("65", 0.95), "18": ("53", 0.98), "19": ("46", 0.98), "22": ("35", 0.5), "26": ("62", 0.9),
    "29": ("65", 0.95), "30": ("63", 0.8), "35": ("63", 0.8), "37": ("52", 0.95),
}

# Mobile number prefixes (three digits) in common use.
PHONE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 "
    "170 171 172 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 193 195 197 198 199"
).split()

# Driving licence classes (准驾车型) with rough shares among holders.
LICENCE_CLASSES: tuple[tuple[str, float], ...] = (
    ("C1", 0.78), ("C2", 0.10), ("B2", 0.04), ("A1", 0.015), ("A2", 0.02), ("B1", 0.01),
    ("A3", 0.003), ("D", 0.02), ("E", 0.012),
)

# Vehicle types (GA 24.4) for private cars with rough shares.
VEHICLE_TYPES: tuple[tuple[str, float], ...] = (("K33", 0.66), ("K31", 0.28), ("H31", 0.04), ("K32", 0.02))

# Letters allowed on plates (no I or O).
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

# Hong Kong and Macao surnames (traditional characters) with romanizations and rough weights.
HK_SURNAMES: tuple[tuple[str, str, str, float], ...] = (
    # character, Hong Kong romanization, Macao romanization, weight
    ("陳", "CHAN", "CHAN", 8.0), ("李", "LEE", "LEI", 5.0), ("張", "CHEUNG", "CHEONG", 4.5),
    ("黃", "WONG", "WONG", 5.5), ("王", "WONG", "WONG", 2.0), ("劉", "LAU", "LAO", 3.0),
    ("林", "LAM", "LAM", 3.0), ("吳", "NG", "NG", 2.5), ("梁", "LEUNG", "LEONG", 3.5),
    ("何", "HO", "HO", 2.5), ("郭", "KWOK", "KUOK", 1.2), ("周", "CHOW", "CHAO", 1.5),
    ("楊", "YEUNG", "IEONG", 1.5), ("鄭", "CHENG", "CHENG", 1.5), ("謝", "TSE", "CHE", 1.2),
    ("羅", "LAW", "LO", 1.2), ("曾", "TSANG", "CHANG", 1.0), ("許", "HUI", "HOI", 1.0),
    ("鄧", "TANG", "TANG", 1.0), ("馮", "FUNG", "FONG", 0.9), ("朱", "CHU", "CHU", 0.8),
    ("蔡", "CHOI", "CHOI", 0.8), ("葉", "YIP", "IP", 0.9), ("胡", "WU", "WU", 0.6),
    ("馬", "MA", "MA", 0.6), ("蘇", "SO", "SOU", 0.6), ("麥", "MAK", "MAK", 0.6),
    ("盧", "LO", "LOU", 0.6), ("鍾", "CHUNG", "CHONG", 0.6), ("袁", "YUEN", "UN", 0.5),
    ("區", "AU", "AO", 0.4), ("潘", "POON", "PUN", 0.5), ("譚", "TAM", "TAM", 0.6),
    ("余", "YU", "U", 0.5), ("莫", "MOK", "MOK", 0.4), ("徐", "TSUI", "CHOI", 0.4),
    ("杜", "TO", "TOU", 0.3), ("彭", "PANG", "PANG", 0.4), ("趙", "CHIU", "CHIO", 0.4),
)
# Given-name characters (traditional) with Cantonese romanization, by sex.
HK_GIVEN_MALE: tuple[tuple[str, str], ...] = (
    ("志", "CHI"), ("偉", "WAI"), ("家", "KA"), ("俊", "CHUN"), ("文", "MAN"), ("國", "KWOK"),
    ("明", "MING"), ("華", "WAH"), ("健", "KIN"), ("浩", "HO"), ("天", "TIN"), ("子", "TSZ"),
    ("宇", "YU"), ("峰", "FUNG"), ("傑", "KIT"), ("永", "WING"), ("德", "TAK"), ("榮", "WING"),
    ("強", "KEUNG"), ("輝", "FAI"), ("豪", "HO"), ("朗", "LONG"), ("軒", "HIN"), ("樂", "LOK"),
    ("安", "ON"), ("嘉", "KA"), ("銘", "MING"), ("達", "TAT"), ("成", "SING"), ("耀", "YIU"),
)
HK_GIVEN_FEMALE: tuple[tuple[str, str], ...] = (
    ("美", "MEI"), ("玲", "LING"), ("麗", "LAI"), ("芳", "FONG"), ("敏", "MAN"), ("婷", "TING"),
    ("欣", "YAN"), ("詩", "SZE"), ("穎", "WING"), ("慧", "WAI"), ("靜", "CHING"), ("雅", "NGA"),
    ("君", "KWAN"), ("恩", "YAN"), ("曉", "HIU"), ("淑", "SHUK"), ("鳳", "FUNG"), ("寶", "PO"),
    ("玉", "YUK"), ("秀", "SAU"), ("佩", "PUI"), ("詠", "WING"), ("思", "SZE"), ("晴", "CHING"),
    ("琳", "LAM"), ("嘉", "KA"), ("家", "KA"), ("月", "YUET"), ("凱", "HOI"), ("茵", "YAN"),
)


@dataclass(frozen=True)
class Region:
    """A county-level GB/T 2260 code with its periods of use and the names an address needs."""

    code: str
    province: str
    city: str  # "" for counties directly under a province-level city or a province
    county: str  # the latest name
    periods: tuple[tuple[int, int], ...]  # (first year, last year) the code was assigned; 0 / 9999 open

    @property
    def current(self) -> bool:
        return self.periods[-1][1] == OPEN_END

    def valid_in(self, year: int) -> bool:
        return any(start <= year <= end for start, end in self.periods)


OPEN_END = 9999
_BRACKET = re.compile(r"^\[(\d*)-(\d*)\](.*)$")
_PLACEHOLDER_NAMES = {"市辖区", "县", "市区", "郊区", "矿区", "省直辖县级行政区划", "自治区直辖县级行政区划"}


def _periods(label: str) -> tuple[list[tuple[int, int]], str]:
    periods: list[tuple[int, int]] = []
    name = ""
    for part in label.split(","):
        match = _BRACKET.match(part)
        if match is None:
            periods.append((0, OPEN_END))
            name = part
            continue
        start, end, name = match.groups()
        periods.append((int(start or 0), int(end or OPEN_END)))
    return periods, name


@cache
def regions() -> tuple[Region, ...]:
    """County-level codes of the 31 mainland provinces, from stdnum's GB/T 2260 table.

    Historic codes are kept with their years (an older person's number carries the code in use
    when it was assigned, and stdnum.cn.ric checks that the code existed in the birth year);
    addresses and issuing authorities use only codes still current. Placeholders such as 市辖区
    are left out.
    """
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    province_names = {code: name for code, name, _, _ in PROVINCES}
    cities: dict[str, str] = {}
    result: list[Region] = []
    province = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        if province not in province_names:
            continue
        suffix, _, label = line.strip().partition(" ")
        periods, name = _periods(label.removeprefix('county="').removesuffix('"'))
        code = province + suffix
        if suffix.endswith("00"):
            cities[code[:4]] = name
            continue
        if name in _PLACEHOLDER_NAMES or name.endswith("办事处"):
            continue
        city = cities.get(code[:4], "")
        if city in _PLACEHOLDER_NAMES or city == province_names[province] or "直辖" in city:
            city = ""
        result.append(Region(code, province_names[province], city, name, tuple(periods)))
    return tuple(result)


def issuing_authority(region: Region) -> str:
    """签发机关 as printed on the card: 北京市公安局东城分局, 灵寿县公安局, 深圳市公安局福田分局 ..."""
    if region.county.endswith("区"):
        city = region.city or region.province
        short = region.county[:-1] if len(region.county) > 2 else region.county
        return f"{city}公安局{short}分局"
    return f"{region.county}公安局"


def name_tables() -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """Surnames with their frequencies, and male / female given-name parts, from Faker's zh_CN data."""
    from faker.providers.person.zh_CN import Provider

    surnames = list(Provider.last_names.keys())  # type: ignore[attr-defined]
    weights = np.array(list(Provider.last_names.values()), dtype=float)  # type: ignore[attr-defined]
    return surnames, weights / weights.sum(), list(Provider.first_names_male), list(Provider.first_names_female)


def street_vocabulary() -> list[str]:
    """Street-name stems: Faker's zh_CN city and district names (as 北京路, 秀英街 are named)."""
    from faker.providers.address.zh_CN import Provider

    return sorted(set(Provider.cities) | set(Provider.districts))
