"""Hooks other apps attach to (they import this module, never the engine's internals).

`case_closing_notice`: sent while the notice of a case's end (办结, 不予许可, 不予受理) is composed; a
receiver may answer a short text to append to the SMS — the evaluation app answers its rating link.
"""

from __future__ import annotations

from django.dispatch import Signal

case_closing_notice = Signal()  # kwargs: case (the Case), event (the CaseEvent); a receiver returns str | None

CLOSING_STATES = frozenset({"closed", "denied", "not_accepted"})
