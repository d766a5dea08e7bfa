"""The quiz formats the bank reads and writes; shared types and helpers in `common.py`."""
