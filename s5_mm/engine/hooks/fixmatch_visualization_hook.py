"""FixMatch visualization hook. Owner: issue 4."""
