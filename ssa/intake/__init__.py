"""Files into Bronze: the CSV contract, source mappings, validation, the
ingest and its log, reported labels, conflicts, and the watcher."""
