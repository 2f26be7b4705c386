"""Opening PDFs safely and extracting words, vector shapes, images and page geometry with PyMuPDF."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import time
from array import array
from collections.abc import Callable
from itertools import chain
from pathlib import Path

import numpy as np
import pymupdf

from .errors import (
    DamagedPdfError,
    EmptyFileError,
    EncryptedPdfError,
    LimitExceededError,
    NotAPdfError,
    OcrUnavailableError,
    TimeLimitExceededError,
    WrongPasswordError,
)
from .model import Document, PageContent, Shape
from .options import CompareOptions, Limits

__all__ = [
    "apply_ocr",
    "needs_ocr",
    "ocr_setup",
    "Source",
    "read_source",
    "open_pdf",
    "extract_document",
    "find_tessdata",
    "quiet_mupdf",
    "Deadline",
]

Source = bytes | bytearray | memoryview | str | os.PathLike
Progress = Callable[[str, int, int], None]

_THUMB = 32
_BROKEN_CONTENT = "cannot load content stream"
_MAX_COORD = 1e7  # points; far outside any page the limits accept


def quiet_mupdf() -> None:
    """Stop MuPDF from printing warnings and errors about broken files on stderr.

    The engine reports problems through typed exceptions instead.  This changes a process-wide MuPDF
    setting; it is applied whenever the engine opens a document.
    """
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    pymupdf.TOOLS.reset_mupdf_warnings()


class Deadline:
    """Wall-clock budget of a comparison."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left of the budget (negative when spent)."""
        return self.end - time.monotonic()

    def check(self) -> None:
        """Raise :class:`TimeLimitExceededError` when the budget is spent."""
        if time.monotonic() > self.end:
            raise TimeLimitExceededError(
                f"The comparison took longer than the time limit of {self.seconds:g} seconds. "
                "Try smaller documents or raise the time limit."
            )


def _label(which: str) -> str:
    return f"The {which} file" if which in ("old", "new") else "The file"


def read_source(source: Source, which: str, limits: Limits) -> bytes:
    """Return the bytes of ``source`` (bytes or a path), enforcing the file size limit."""
    label = _label(which)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise NotAPdfError(f"{label} ({path.name}) does not exist.", which=which) from None
        except OSError as exc:
            msg = f"{label} ({path.name}) cannot be read: {exc.strerror}."
            raise NotAPdfError(msg, which=which) from None
        if path.is_dir():
            raise NotAPdfError(f"{label} ({path.name}) is a folder, not a PDF file.", which=which)
        if size > limits.max_file_bytes:
            raise LimitExceededError(
                f"{label} is {size / 1e6:.1f} MB; the limit is {limits.max_file_bytes / 1e6:.1f} MB.",
                which=which,
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            msg = f"{label} ({path.name}) cannot be read: {exc.strerror}."
            raise NotAPdfError(msg, which=which) from None
    if len(data) > limits.max_file_bytes:
        raise LimitExceededError(
            f"{label} is {len(data) / 1e6:.1f} MB; the limit is {limits.max_file_bytes / 1e6:.1f} MB.",
            which=which,
        )
    if not data:
        raise EmptyFileError(f"{label} is empty (0 bytes). Please upload the PDF again.", which=which)
    if b"%PDF-" not in data[:1024]:
        raise NotAPdfError(f"{label} is not a PDF (it does not start with a PDF header).", which=which)
    return data


def open_pdf(data: bytes, which: str, password: str | None, limits: Limits) -> pymupdf.Document:
    """Open PDF bytes with MuPDF, handling passwords and structural limits.

    Raises typed :mod:`~pdfcompare.engine.errors` for damaged, encrypted and oversized documents.
    """
    quiet_mupdf()
    label = _label(which)
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception:  # MuPDF raises several types for unreadable files
        raise DamagedPdfError(f"{label} is damaged and cannot be opened as a PDF.", which=which) from None
    try:
        if doc.needs_pass:
            if not password:
                raise EncryptedPdfError(
                    f"{label} is password protected. Provide its password to compare it.", which=which
                )
            if not doc.authenticate(password):
                raise WrongPasswordError(f"The password given for the {which} file is not correct.",
                                         which=which)
        try:
            count = doc.page_count
            xrefs = doc.xref_length()
        except Exception:
            raise DamagedPdfError(f"{label} is damaged and its pages cannot be read.", which=which) from None
        if count == 0:
            raise DamagedPdfError(f"{label} contains no readable pages (it may be truncated).", which=which)
        if doc.is_repaired and b"%%EOF" not in data[-4096:]:
            raise DamagedPdfError(
                f"{label} is incomplete (it ends too early, probably a cut-off upload or download). "
                "Please upload the complete file.",
                which=which,
            )
        if count > limits.max_pages:
            raise LimitExceededError(
                f"{label} has {count:,} pages; the limit is {limits.max_pages:,} pages.", which=which
            )
        if xrefs > limits.max_objects:
            raise LimitExceededError(
                f"{label} contains {xrefs:,} PDF objects; the limit is {limits.max_objects:,}.", which=which
            )
    except BaseException:
        doc.close()
        raise
    return doc


_tessdata_cache: dict[str, str | None] = {}


def find_tessdata(lang: str = "eng") -> str | None:
    """Locate a Tesseract ``tessdata`` folder that holds every language in ``lang`` (e.g. ``"deu+eng"``).

    Looks at ``$TESSDATA_PREFIX``, the usual Debian/Ubuntu/Homebrew paths, then PyMuPDF's own detection
    (which runs a program, so it comes last).  Returns ``None`` when no such folder exists.
    """
    if lang in _tessdata_cache:
        return _tessdata_cache[lang]
    langs = [x for x in lang.split("+") if x]
    candidates: list[str] = []
    if os.environ.get("TESSDATA_PREFIX"):  # the folder itself, or (older convention) its parent
        candidates.append(os.environ["TESSDATA_PREFIX"])
        candidates.append(os.path.join(os.environ["TESSDATA_PREFIX"], "tessdata"))
    for pattern in (
        "/usr/share/tesseract-ocr/*/tessdata",
        "/usr/share/tesseract-ocr/tessdata",
        "/usr/share/tessdata",
        "/usr/local/share/tessdata",
        "/usr/local/share/tesseract-ocr/*/tessdata",
        "/opt/homebrew/share/tessdata",
    ):
        candidates.extend(sorted(glob.glob(pattern), reverse=True))
    def holds_all(folder: str | None) -> bool:
        return bool(folder) and all(os.path.isfile(os.path.join(folder, f"{x}.traineddata")) for x in langs)

    found = next((c for c in candidates if holds_all(c)), None)
    if found is None:  # PyMuPDF's own detection runs a program: only when the usual places fail
        with contextlib.suppress(Exception):
            cand = pymupdf.get_tessdata()
            found = cand if holds_all(cand) else None
    _tessdata_cache[lang] = found
    return found


def _shapes_of(page: pymupdf.Page, limits: Limits, which: str) -> list[Shape]:
    shapes: list[Shape] = []
    drawings = page.get_cdrawings()
    n = 0
    for d in drawings:
        n += len(d["items"])
        if n > limits.max_drawings_per_page:
            raise LimitExceededError(
                f"Page {page.number + 1} of the {which} file has more than {limits.max_drawings_per_page:,} "
                "vector drawing items, which is over the limit.",
                which=which,
            )
        for item in d["items"]:
            op = item[0]
            if op == "l":
                (ax, ay), (bx, by) = item[1], item[2]
                if (bx, by) < (ax, ay):
                    ax, ay, bx, by = bx, by, ax, ay
                coords = (ax, ay, bx, by)
                bbox = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
            elif op == "re":
                x0, y0, x1, y1 = item[1]
                x0, x1 = min(x0, x1), max(x0, x1)
                y0, y1 = min(y0, y1), max(y0, y1)
                coords = (x0, y0, x1, y1)
                bbox = coords
            elif op in ("c", "qu"):
                pts = item[1:] if op == "c" else item[1]
                flat = tuple(v for p in pts for v in p)
                if op == "c":
                    rev = tuple(v for p in reversed(pts) for v in p)
                    flat = min(flat, rev)
                coords = flat
                xs, ys = flat[0::2], flat[1::2]
                bbox = (min(xs), min(ys), max(xs), max(ys))
            else:  # pragma: no cover - unknown path operator
                continue
            if not max(map(abs, coords)) < _MAX_COORD:  # also false for NaN: broken path data
                continue
            shapes.append(Shape(op, coords, bbox))
    return shapes


def thumbnail(page: pymupdf.Page) -> np.ndarray:
    """Small grey thumbnail of a page (32 x 32), used to align scanned pages."""
    return _thumbnail(page)


def _thumbnail(page: pymupdf.Page) -> np.ndarray:
    w, h = page.rect.width, page.rect.height
    zoom = 64.0 / max(w, h, 1.0)
    pix = page.get_pixmap(matrix=page.derotation_matrix * pymupdf.Matrix(zoom, zoom),
                          colorspace=pymupdf.csGRAY, alpha=False)
    img = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.stride)[:, : pix.width]
    ys = np.linspace(0, img.shape[0] - 1, _THUMB).astype(int)
    xs = np.linspace(0, img.shape[1] - 1, _THUMB).astype(int)
    return img[np.ix_(ys, xs)].astype(np.float32)


def _page_hash(words: list[str], shapes: list[Shape], images: list, digests: list[bytes]) -> int:
    h = hashlib.blake2b(digest_size=8)
    h.update("\x1f".join(words).encode("utf-8", "surrogatepass"))
    h.update(b"\x1e")
    if shapes:  # drawing order counts here; equal hashes only let identical pages skip the diff
        h.update("".join(s.kind for s in shapes).encode())
        h.update(array("d", chain.from_iterable(s.coords for s in shapes)).tobytes())
    h.update(b"\x1e%d" % len(images))
    for box, digest in zip(images, digests, strict=True):
        h.update(digest)
        h.update(repr([round(v) for v in box]).encode())
    return int.from_bytes(h.digest(), "little")


def _style_key(page: pymupdf.Page) -> int:
    """Digest of the page's stored (compressed) content streams and form XObjects: cheap (~0.1 ms), no
    decoding.  Equal keys mean equal drawing instructions, hence no style change (a writer that kept
    every stream and swapped the font behind a resource name would go unnoticed)."""
    doc = page.parent
    h = hashlib.blake2b(digest_size=8)
    for xref in page.get_contents():
        h.update(doc.xref_stream_raw(xref) or b"")
    for item in page.get_xobjects():
        h.update(doc.xref_stream_raw(item[0]) or b"")
    return int.from_bytes(h.digest(), "little")


def _content_length(page: pymupdf.Page) -> int:
    """Stored (compressed) size of the page's content streams, read from the stream dictionaries."""
    doc = page.parent
    total = 0
    for xref in page.get_contents():
        kind, value = doc.xref_get_key(xref, "Length")
        if kind == "xref":
            kind, value = doc.xref_get_key(int(value.split()[0]), "")  # indirect /Length
        try:
            total += int(float(value))
        except ValueError:
            continue
    return total


def extract_page(
    page: pymupdf.Page, which: str, options: CompareOptions, tessdata: str | None, ocr: bool = True,
    thumbnails: bool = True,
) -> PageContent:
    """Extract one page (words, shapes, images); OCR it now when ``ocr`` and the options ask for it."""
    limits = options.limits
    number = page.number + 1
    width, height = float(page.cropbox.width), float(page.cropbox.height)  # unrotated size
    if width * height > limits.max_page_area:
        raise LimitExceededError(
            f"Page {number} of the {which} file measures {width:,.0f} x {height:,.0f} points, larger than "
            f"the page area limit ({limits.max_page_area:,.0f} square points).",
            which=which,
        )
    content_bytes = _content_length(page)
    if content_bytes > limits.max_content_bytes_per_page:
        raise LimitExceededError(
            f"Page {number} of the {which} file has {content_bytes / 1e6:.1f} MB of drawing instructions; "
            f"the limit is {limits.max_content_bytes_per_page / 1e6:.0f} MB.",
            which=which,
        )
    raw = page.get_text("words")  # always: it also tells scans (no text layer) from text pages
    # image boxes and content digests, only when the page uses images at all (cheap check first)
    listed = page.get_images(full=True)
    infos = page.get_image_info() if listed else []  # boxes only: no image is decoded here
    image_only = not raw and bool(infos)
    if image_only and len(listed) == len(infos):
        # scans: the digest of the stored image streams is enough to spot identical pages (the raster
        # diff judges the rest) and avoids decoding every scan
        doc = page.parent
        digests = [hashlib.md5(doc.xref_stream_raw(item[0])).digest() for item in listed]
    else:
        # pictures on text pages are matched by the digest of their decoded pixels
        infos = page.get_image_info(hashes=True) if infos else []
        digests = [bytes(info.get("digest", b"")) for info in infos]
    images = [tuple(info["bbox"]) for info in infos]
    words, boxes, lines = _word_arrays(raw, number, which, limits)
    shapes = _shapes_of(page, limits, which) if options.geometry else []
    thumb = _thumbnail(page) if image_only and thumbnails else None
    content = PageContent(
        number=number,
        width=width,
        height=height,
        rotation=page.rotation,
        words=words,
        word_boxes=boxes,
        word_lines=lines,
        shapes=shapes,
        images=images,
        image_digests=digests,
        image_only=image_only,
        content_hash=_page_hash(words, shapes, images, digests),
        style_key=_style_key(page) if words else 0,
        thumbnail=thumb,
    )
    if ocr and tessdata and needs_ocr(content, options):
        apply_ocr(page, content, options, tessdata, which)
    return content


def _word_arrays(
    raw: list, number: int, which: str, limits: Limits
) -> tuple[list[str], np.ndarray, np.ndarray]:
    if len(raw) > limits.max_words_per_page:
        raise LimitExceededError(
            f"Page {number} of the {which} file has {len(raw):,} words; the limit is "
            f"{limits.max_words_per_page:,}.",
            which=which,
        )
    if not raw:
        return [], np.zeros((0, 4), dtype=np.float64), np.zeros((0,), dtype=np.int64)
    words = [w[4] for w in raw]
    boxes = np.array([w[:4] for w in raw], dtype=np.float64)
    lines = np.array([w[5] * 10000 + w[6] for w in raw], dtype=np.int64)
    return words, boxes, lines


def needs_ocr(content: PageContent, options: CompareOptions) -> bool:
    """Whether ``options`` ask for OCR of this page (``on``: every page; ``auto``: scans only)."""
    if not options.text or content.ocr:
        return False
    return options.ocr == "on" or (options.ocr == "auto" and content.image_only)


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (MuPDF's built-in Tesseract prints there) for the duration."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def apply_ocr(page: pymupdf.Page, content: PageContent, options: CompareOptions, tessdata: str,
              which: str = "") -> None:
    """OCR the whole ``page`` and replace the words of ``content`` with the recognised ones.

    With the ``tesseract`` program installed only words of at least ``ocr_min_confidence`` are kept;
    otherwise PyMuPDF's built-in OCR is used (its messages silenced) and words without a letter or digit
    are dropped.  The page's ``content_hash`` is left as extracted, so identical scans still compare as
    identical.
    """
    from . import ocr

    if ocr.tesseract_command():
        zoom = options.ocr_dpi / 72.0
        area = page.rect.width * page.rect.height * zoom * zoom
        if area > options.limits.max_render_pixels:
            zoom *= (options.limits.max_render_pixels / area) ** 0.5
        box = (0.0, 0.0, float(page.cropbox.width), float(page.cropbox.height))
        words = ocr.read_boxes(page, [box], options, tessdata, zoom)[0]
        raw = [(*w[2], w[0], 0, 0, 0) for w in words]
        content.words, content.word_boxes, content.word_lines = _word_arrays(
            raw, content.number, which, options.limits)
        ocr.order_words(content)
        content.ocr = True
        return
    with _quiet_stderr():
        tp = page.get_textpage_ocr(language=options.ocr_lang, dpi=options.ocr_dpi, full=True,
                                   tessdata=tessdata)
    # OCR turns specks into stray punctuation: keep only words with a letter or digit
    raw = [w for w in page.get_text("words", textpage=tp) if any(ch.isalnum() for ch in w[4])]
    content.words, content.word_boxes, content.word_lines = _word_arrays(
        raw, content.number, which, options.limits)
    content.ocr = True


def ocr_setup(options: CompareOptions) -> str | None:
    """The tessdata folder to use for OCR, or None; raises :class:`OcrUnavailableError` for ``ocr="on"``
    without the language data."""
    if not options.text or options.ocr == "off":
        return None
    tessdata = find_tessdata(options.ocr_lang)
    if tessdata is None and options.ocr == "on":
        raise OcrUnavailableError(
            f"OCR was requested but Tesseract language data for '{options.ocr_lang}' is not installed."
        )
    return tessdata


def extract_document(
    doc: pymupdf.Document,
    data: bytes,
    which: str,
    options: CompareOptions,
    deadline: Deadline,
    progress: Progress | None = None,
    warnings: list[str] | None = None,
    ocr: bool = True,
    thumbnails: bool = True,
) -> Document:
    """Extract every page of an opened document.

    With ``ocr=False`` pages are not OCR'd here; :func:`compare` then OCRs only the pages that differ.
    With ``thumbnails=False`` scans get no thumbnail; :func:`compare` renders those alignment needs.
    """
    tessdata = ocr_setup(options)
    pages: list[PageContent] = []
    total = doc.page_count
    stage = f"extract-{which}"
    step = max(1, total // 100)
    pymupdf.TOOLS.reset_mupdf_warnings()
    for i in range(total):
        deadline.check()
        try:
            page = doc.load_page(i)
            content = extract_page(page, which, options, tessdata, ocr, thumbnails)
        except (LimitExceededError, OcrUnavailableError):
            raise
        except Exception:
            raise DamagedPdfError(
                f"Page {i + 1} of the {which} file is damaged and cannot be read.", which=which
            ) from None
        if content.image_only and tessdata is None and options.ocr == "auto" and warnings is not None:
            msg = (f"OCR skipped: Tesseract language data for '{options.ocr_lang}' not found; "
                   "scanned pages are compared as images only.")
            if msg not in warnings:
                warnings.append(msg)
        if doc.is_repaired and _BROKEN_CONTENT in pymupdf.TOOLS.mupdf_warnings():
            raise DamagedPdfError(
                f"Page {i + 1} of the {which} file is damaged: its content cannot be read completely.",
                which=which,
            )
        pages.append(content)
        if progress is not None and ((i + 1) % step == 0 or i + 1 == total):
            progress(stage, i + 1, total)
    return Document(sha256=hashlib.sha256(data).hexdigest(), pages=pages)
