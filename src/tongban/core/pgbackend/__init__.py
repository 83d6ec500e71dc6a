"""tongban's PostgreSQL backend: Django's, with the budgets of issue 12 (see base.py)."""
