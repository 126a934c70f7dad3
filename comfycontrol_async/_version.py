"""The package version, read by the build; a plain string, as reading metadata costs 30-60 ms."""

__version__ = "0.2.0"
