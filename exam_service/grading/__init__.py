"""Pure grading: item scoring rules, per-objective rollup, the scaled-score map."""
