"""Administrative regions as a tree of GB/T 2260 codes (province → city → county), for officer scopes.

The codes come from python-stdnum's copy of the table (stdnum/cn/loc.dat). A scope is a code prefix:
province 330000 covers 33xxxx, city 330100 covers 3301xx, county 330106 only itself.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from importlib import resources

_CODE_RE = re.compile(r"^\d{6}$")
_BRACKET = re.compile(r"^\[(\d*)-(\d*)\](.*)$")


class RegionLevel(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"


def region_level(code: str) -> RegionLevel:
    if code.endswith("0000"):
        return RegionLevel.PROVINCE
    if code.endswith("00"):
        return RegionLevel.CITY
    return RegionLevel.COUNTY


def region_prefix(code: str) -> str:
    """The prefix every code inside this region starts with."""
    level = region_level(code)
    return code[:2] if level is RegionLevel.PROVINCE else code[:4] if level is RegionLevel.CITY else code


def region_covers(scope_code: str, code: str) -> bool:
    """True when `code` lies inside the region `scope_code` (a region covers itself)."""
    return bool(scope_code) and bool(code) and code.startswith(region_prefix(scope_code))


def region_parent(code: str) -> str | None:
    level = region_level(code)
    if level is RegionLevel.PROVINCE:
        return None
    if level is RegionLevel.CITY:
        return code[:2] + "0000"
    return code[:4] + "00"


@cache
def current_regions() -> dict[str, str]:
    """Code -> name of every code still in use (historic ones, marked [-year], are left out)."""
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    names: dict[str, str] = {}
    province = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            label = line.partition(" ")[2]
            names[province + "0000"] = label.removeprefix('province="').removesuffix('"')
            continue
        suffix, _, label = line.strip().partition(" ")
        raw = label.removeprefix('county="').removesuffix('"')
        last = raw.split(",")[-1]
        match = _BRACKET.match(last)
        if match is not None and match.group(2):
            continue  # the code's last period has ended
        names[province + suffix] = match.group(3) if match else last
    return names


def region_exists(code: str) -> bool:
    return bool(_CODE_RE.match(code or "")) and code in current_regions()


def region_name(code: str) -> str:
    """`330106` -> `浙江省杭州市西湖区` (placeholders such as 市辖区 left out)."""
    names = current_regions()
    parts: list[str] = []
    node: str | None = code
    while node is not None:
        name = names.get(node, "")
        if name and name not in {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"} and name not in parts:
            parts.append(name)
        node = region_parent(node)
    return "".join(reversed(parts)) or code
