"""The embedded store (SQLite): sessions, their outputs and the pain log."""
