"""System check: every shipped workflow loads and passes validation (a broken file stops the start)."""

from __future__ import annotations

from typing import Any

from django.core import checks


@checks.register()
def check_workflows(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from tongban.cases.workflow import WorkflowConfigError, workflows

    try:
        workflows()
    except WorkflowConfigError as exc:
        return [checks.Error(f"办理流程配置有误：{exc}", id="tongban.cases.E001")]
    return []
