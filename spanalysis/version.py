"""The package version (one place, read by the CLI, the report provenance and the cache)."""
__version__ = "0.1.0"
