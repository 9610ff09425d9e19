"""The plain ML side: no Django anywhere, and no torch in config, text, dataset, format, filters
and overfit (import-linter enforces both; see pyproject.toml)."""
