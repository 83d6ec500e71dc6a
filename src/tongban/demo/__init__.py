"""The demo: `tongban demo` and the data it seeds. The composition root of the embedded demo — it may import
every app; no app imports it (tests/core/test_layering.py)."""
