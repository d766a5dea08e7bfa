"""Blueprints, exam assembly, attempts and their API."""
