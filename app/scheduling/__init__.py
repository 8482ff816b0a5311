"""The scheduling core: pure Python on datetimes and dataclasses (no web, no database)."""
