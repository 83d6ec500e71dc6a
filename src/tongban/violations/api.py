"""Public endpoint of 交通违法处理: a violation code's fine and points by a province's standard (what a local
platform or a partner shows before handling; 异地处理 uses the standard of where it happened)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Path, Router, Schema
from pydantic import Field

from tongban.core.errors import TongbanError
from tongban.violations import rules

router = Router(tags=["violations"])


class StandardPath(Schema):
    province: str = Field(pattern=r"^[0-9]{2}$", description="违法行为发生地省级行政区划代码前两位，如 44")
    code: str = Field(pattern=r"^[0-9]{4,5}$", description="违法代码，如 1625")


class ViolationsErrorDetail(Schema):
    code: str
    message: str
    request_id: str | None = None


class ViolationsErrorOut(Schema):
    error: ViolationsErrorDetail


class StandardOut(Schema):
    code: str
    description: str
    points: int = Field(description="记分")
    fine_fen: int = Field(description="罚款（分）")
    province: str = Field(description="所用标准的省份；无本省标准时为 default（全国参考标准）")
    online: bool = Field(description="罚款在 200 元以下，记分未满 12 分的驾驶人可网上处理")


@router.get("/standards/{province}/{code}", response={200: StandardOut, 404: ViolationsErrorOut},
            operation_id="violations_get_standard", summary="违法代码的罚款和记分（按发生地标准）")
def standard(request: HttpRequest, path: Path[StandardPath]) -> StandardOut:
    found = rules.standard(path.code, path.province)
    if found is None:
        raise TongbanError("not_found")
    return StandardOut(code=found.code, description=found.description, points=found.points, fine_fen=found.fine_fen,
                       province=found.province,
                       online=found.fine_fen <= rules.ONLINE_FINE_LIMIT_FEN and found.points < rules.FULL_SCORE)
