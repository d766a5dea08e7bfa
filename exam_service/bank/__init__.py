"""The question bank: file format, loader and validator, import into the DB, and its API."""
