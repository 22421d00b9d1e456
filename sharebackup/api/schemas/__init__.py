"""Request validation per resource (Manila messages and codes)."""
