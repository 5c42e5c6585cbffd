"""Data-selection hook. Owner: issue 7."""
