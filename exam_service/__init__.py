"""exam_service: a practice-exam generator and grader."""

__version__ = "0.1.0"
