"""A test-only app whose models hold encrypted personal data (installed by config.settings.test only)."""
