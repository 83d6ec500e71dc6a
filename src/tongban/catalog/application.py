"""Hooks other apps register so publishing an item checks what they need (the catalog imports none of them).

The case engine registers a check of an item's application form and workflow:

    from tongban.catalog.application import register_publish_check
    register_publish_check(my_check)   # in its AppConfig.ready()

A check gets the version about to be published and returns a list of problems (Chinese sentences); any
problem stops the publication and is shown to the reviewer under the field "application_form".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tongban.catalog.models import ImplementationVersion

PublishCheck = Callable[["ImplementationVersion"], list[str]]

_CHECKS: list[PublishCheck] = []


def register_publish_check(check: PublishCheck) -> PublishCheck:
    """Add a check run on every publication (registering the same function twice keeps one). Usable as a decorator."""
    if check not in _CHECKS:
        _CHECKS.append(check)
    return check


def unregister_publish_check(check: PublishCheck) -> None:
    if check in _CHECKS:
        _CHECKS.remove(check)


def publish_problems(version: ImplementationVersion) -> list[str]:
    problems: list[str] = []
    for check in list(_CHECKS):
        problems.extend(check(version))
    return problems
