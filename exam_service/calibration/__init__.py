"""Item calibration (issue 17): item response theory parameters per question revision,
fitted from every graded attempt, stored, and read by grading, reports, readiness and
adaptive practice. `service.py` reads and stores; `fit.py` is the pure job the heavy-work
pool runs."""
