"""Per-dataset metrics. Owner: issues 5 and 6."""
