"""PDF Compare engine: a pure library (no UI, no database) that compares two PDFs.

Typical use::

    from pdfcompare.engine import compare, CompareOptions, write_annotated_pdf

    report = compare("rev_a.pdf", "rev_b.pdf", CompareOptions(ocr="auto"))
    print(report.summary)               # {'text': 3, 'geometry': 1, 'raster': 0, 'page': 1}
    json_text = report.to_json()        # schema "pdfcompare.report/1", see docs/report-schema.md
    write_annotated_pdf("rev_a.pdf", "rev_b.pdf", report, "diff.pdf")
"""

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
from .model import (
    SCHEMA_ID,
    Change,
    DocInfo,
    Document,
    PageContent,
    PageMatch,
    Report,
    Shape,
    Word,
)
from .options import CompareOptions, Limits
from .schema import REPORT_JSON_SCHEMA, validate_report

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
