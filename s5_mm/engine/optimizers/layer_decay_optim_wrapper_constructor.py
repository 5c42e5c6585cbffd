"""Layer-wise lr decay constructor. Owner: issue 3."""
