"""PDF Compare engine: a pure library (no UI, no database) that compares two PDFs.

Typical use::

    from pdfcompare.engine import compare, CompareOptions, write_annotated_pdf

    report = compare("rev_a.pdf", "rev_b.pdf", CompareOptions(ocr="auto"))
    print(report.summary)               # {'text': 3, 'geometry': 1, 'raster': 0, 'page': 1}
    json_text = report.to_json()        # schema "pdfcompare.report/1", see docs/report-schema.md
    write_annotated_pdf("rev_a.pdf", "rev_b.pdf", report, "diff.pdf")
"""

from typing import TYPE_CHECKING

# Names are imported on first use (PEP 562): `import pdfcompare.engine` stays cheap, and a command that
# needs only the schema or the options does not load PyMuPDF, NumPy or rapidfuzz.
_WHERE = {
    "render_preview": "annotate", "write_annotated_pdf": "annotate",
    "ProgressCallback": "compare", "compare": "compare", "load": "compare",
    "DamagedPdfError": "errors", "EmptyFileError": "errors", "EncryptedPdfError": "errors",
    "InvalidPdfError": "errors", "LimitExceededError": "errors", "NotAPdfError": "errors",
    "OcrUnavailableError": "errors", "PdfCompareError": "errors", "TimeLimitExceededError": "errors",
    "WrongPasswordError": "errors",
    "find_tessdata": "extract",
    "SCHEMA_ID": "model", "Change": "model", "DocInfo": "model", "Document": "model",
    "PageContent": "model", "PageMatch": "model", "Report": "model", "Shape": "model", "Word": "model",
    "CompareOptions": "options", "Limits": "options",
    "REPORT_JSON_SCHEMA": "schema", "validate_report": "schema",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .annotate import render_preview, write_annotated_pdf
    from .compare import ProgressCallback, compare, load
    from .errors import (
        DamagedPdfError,
        EmptyFileError,
        EncryptedPdfError,
        InvalidPdfError,
        LimitExceededError,
        NotAPdfError,
        OcrUnavailableError,
        PdfCompareError,
        TimeLimitExceededError,
        WrongPasswordError,
    )
    from .extract import find_tessdata
    from .model import SCHEMA_ID, Change, DocInfo, Document, PageContent, PageMatch, Report, Shape, Word
    from .options import CompareOptions, Limits
    from .schema import REPORT_JSON_SCHEMA, validate_report


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


__all__ = [
    "compare",
    "load",
    "write_annotated_pdf",
    "render_preview",
    "find_tessdata",
    "validate_report",
    "REPORT_JSON_SCHEMA",
    "ProgressCallback",
    "CompareOptions",
    "Limits",
    "SCHEMA_ID",
    "Change",
    "DocInfo",
    "Document",
    "PageContent",
    "PageMatch",
    "Report",
    "Shape",
    "Word",
    "PdfCompareError",
    "InvalidPdfError",
    "EmptyFileError",
    "NotAPdfError",
    "DamagedPdfError",
    "EncryptedPdfError",
    "WrongPasswordError",
    "LimitExceededError",
    "TimeLimitExceededError",
    "OcrUnavailableError",
]
