"""The hash-chained, append-only audit log (DESIGN.md §3 invariant 3; docs/audit.md).

Record with `tongban.audit.services.audit_record` inside the transaction of the change it describes.
"""
