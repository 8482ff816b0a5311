"""The demo data that `make run` loads: people, parties and governance series."""
