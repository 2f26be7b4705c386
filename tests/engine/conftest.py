"""Fixtures for the engine tests: small generated PDFs with known, planted changes.

The PDF builders live in ``pdfgen.py`` next to this file (imported by the tests as ``pdfgen``).
"""

from __future__ import annotations

import pytest
from pdfgen import paragraph


@pytest.fixture(scope="session")
def base_pages() -> list[list[str]]:
    """Four pages of four unique paragraphs each."""
    return [[paragraph(p * 10 + k) for k in range(4)] for p in range(4)]


@pytest.fixture(autouse=True)
def _every_report_matches_the_schema(monkeypatch):
    """Every report produced by any engine test is validated against the JSON schema."""
    import importlib

    from pdfcompare.engine import validate_report
    from pdfcompare.engine.model import Report

    def checked_report(*args, **kwargs):
        report = Report(*args, **kwargs)
        problems = validate_report(report.to_dict())
        assert problems == [], problems
        return report

    # the package re-exports the function compare(), so fetch the module itself
    monkeypatch.setattr(importlib.import_module("pdfcompare.engine.compare"), "Report", checked_report)
