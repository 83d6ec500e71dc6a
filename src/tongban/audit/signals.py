"""The one hook other apps may hang on the audit log: `entry_recorded`, sent after each entry is appended.

Sent in the writer's transaction (when there is one) with `entry=` the AuditEntry. A receiver must never
raise (the risk engine, tongban.risk.engine, catches its own errors) and must not rely on the entry being
committed yet. The foundation stays unaware of who listens (DESIGN §2: imports flow one way)."""

from django.dispatch import Signal

entry_recorded = Signal()
