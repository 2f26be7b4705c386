"""Typed exceptions raised by the compare engine.

Every error the engine raises on bad input derives from :class:`PdfCompareError`.  Messages are written
for the person who uploaded the file, not for a developer: they say which file is affected and what to do.
"""

from __future__ import annotations

__all__ = [
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


class PdfCompareError(Exception):
    """Base class of every error raised by :mod:`pdfcompare.engine`.

    ``which`` names the input ("old" or "new") when the error concerns one file, else ``None``.
    """

    def __init__(self, message: str, *, which: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.which = which

    def __str__(self) -> str:
        return self.message


class InvalidPdfError(PdfCompareError):
    """The input is not a PDF that can be read."""


class EmptyFileError(InvalidPdfError):
    """The input is zero bytes long."""


class NotAPdfError(InvalidPdfError):
    """The input does not look like a PDF at all (no ``%PDF-`` header)."""


class DamagedPdfError(InvalidPdfError):
    """The input is a PDF but so damaged (truncated, broken structure) that it cannot be read."""


class EncryptedPdfError(PdfCompareError):
    """The PDF is password protected and no password was given."""


class WrongPasswordError(EncryptedPdfError):
    """The PDF is password protected and the given password does not open it."""


class LimitExceededError(PdfCompareError):
    """The input is larger than a configured safety limit (pages, size, page area, objects, ...)."""


class TimeLimitExceededError(LimitExceededError):
    """The comparison took longer than the configured time limit."""


class OcrUnavailableError(PdfCompareError):
    """OCR was requested (``ocr="on"``) but Tesseract or its language data is not installed."""
