"""What people and tools read: tables, CSV/JSON/JSONL/SQLite, live lines, redaction,
safe file extraction.  Writes to files and stdout; decodes nothing."""
