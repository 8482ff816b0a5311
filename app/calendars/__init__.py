"""People's own calendars (ICS and CalDAV) read into busy intervals.

The rules: docs/rules.md, "Busy times".
"""
