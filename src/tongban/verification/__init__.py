"""Dual-source identity verification (身份双源认证): verdicts and assurance levels, never data."""
