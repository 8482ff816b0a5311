"""People's own calendars (ICS and CalDAV) read into busy intervals; see docs/rules.md, "Busy times"."""
