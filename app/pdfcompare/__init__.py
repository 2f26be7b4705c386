"""PDF Compare: find what changed between two versions of a PDF."""

__version__ = "0.1.0"
