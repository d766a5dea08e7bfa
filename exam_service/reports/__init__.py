"""Reports: cohort and item analytics in SQL, the candidate score report, PDF and CSV."""
