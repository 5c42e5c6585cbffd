"""OpenEarthMap dataset. Owner: issue 5."""
