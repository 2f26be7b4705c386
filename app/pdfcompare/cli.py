"""Command line interface: ``pdfcompare compare OLD NEW``."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

# Only the light modules are imported here; PyMuPDF, NumPy and the engine's compare code are imported
# by the commands that use them (start-up time of every command, see docs/benchmarks.md).
from .engine.errors import PdfCompareError
from .engine.options import CompareOptions, Limits

if TYPE_CHECKING:
    from .engine.model import Report

__all__ = ["main", "build_parser", "read_manifest"]

EXIT_SAME, EXIT_CHANGED, EXIT_ERROR = 0, 1, 2
# The installed command kills a comparison this long after its --timeout (see _isolated_compare).
HARD_TIMEOUT_GRACE_S = 5.0

DESCRIPTION = """\
Compare two PDF files and report what changed: text (word level, including text that moved),
pages (inserted, deleted, reordered), vector drawings (shapes added, removed, moved) and scanned
pages (changed regions of the image, plus OCR text when Tesseract is installed).
"""

EPILOG = """\
examples:
  pdfcompare compare contract_v1.pdf contract_v2.pdf
  pdfcompare compare rev_a.pdf rev_b.pdf --json report.json --overlay diff.pdf
  pdfcompare compare scan_old.pdf scan_new.pdf --ocr on --ocr-lang deu+eng --dpi 200
  pdfcompare compare a.pdf b.pdf --preview 3:page3.png --quiet && echo "no changes"
  pdfcompare compare a.pdf b.pdf --json - | jq .summary
  pdfcompare schema > report.schema.json
  pdfcompare batch revisions.csv --out reports/ --workers 2

exit codes (like diff):
  0  the documents have no differences
  1  differences were found
  2  error (unreadable, encrypted or oversized file, bad option); one line on stderr says why

kinds of change (JSON "kind" / "op"):
  text      words inserted, deleted or replaced; "move" = the same passage left one place and appears
            elsewhere, on the same or another page (not reported as delete + insert); a "replace"
            with the same words and a "style" object = the words changed font, weight (bold), slant,
            size or colour only (reading order alone and shifts under 1.5 pt are never a change)
  page      a whole page was inserted, deleted, or moved to another position
  geometry  vector shapes of a drawing added (insert), removed (delete), reshaped (replace) or moved;
            changed dimension numbers and title-block text are reported as text changes
  raster    changed regions of image-only (scanned) pages, after registering the new scan on the old
            one (rotation up to 3 degrees, shift up to 5 %; specks below --min-region are ignored),
            and pictures added, removed, moved or replaced on pages that have text (compared by
            their pixels: a re-encoded identical picture is no change)

In the annotated PDF (--overlay) each old page is followed by its new counterpart: deleted text is red
on old pages, inserted text green and moved text blue on new pages, changed geometry orange.
The JSON report follows the schema "pdfcompare.report/1" (see `pdfcompare schema`); boxes are
[x0, y0, x1, y1] in PDF points, origin top-left of the unrotated page; pages are numbered from 1.
"""


# Documents at least this long are read in two processes by `--jobs auto` (measured on 2 idle
# cores: 481 instead of 350 page pairs/s on 300 pages; below ~50 pages the fork costs more).
AUTO_JOBS_PAGES = 100


def _jobs(text: str) -> str | int:
    if text == "auto":
        return text
    return _positive_int(text)


def _page_count(path: str, max_bytes: int) -> int:
    """Page count for choosing --jobs; 0 when the file is not a readable PDF within the size limit
    (compare() then reports why, in its own words)."""
    try:
        if os.path.getsize(path) > max_bytes:
            return 0
        import pymupdf

        from .engine.extract import quiet_mupdf

        quiet_mupdf()
        with pymupdf.open(path, filetype="pdf") as doc:
            return doc.page_count
    except Exception:  # noqa: BLE001 - any failure here is reported properly by compare()
        return 0


def _workers(args: argparse.Namespace) -> int:
    if args.jobs != "auto":
        return min(args.jobs, 2)
    if (os.cpu_count() or 1) < 2:
        return 1
    max_bytes = int(args.max_file_mb * 1e6)
    longest = max(_page_count(args.old, max_bytes), _page_count(args.new, max_bytes))
    return 2 if longest >= AUTO_JOBS_PAGES else 1


def _positive(text: str, kind: type, what: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _positive(text, int, "a whole number")


def _positive_float(text: str) -> float:
    return _positive(text, float, "a number")


def _preview(text: str) -> tuple[str, int, str]:
    side = "new"
    spec = text
    if spec.startswith(("old:", "new:")):
        side, spec = spec[:3], spec[4:]
    page, sep, path = spec.partition(":")
    if not sep or not path or not page.isdigit() or int(page) < 1:
        raise argparse.ArgumentTypeError(f"expected [old:|new:]PAGE:FILE.png, got {text!r}")
    return side, int(page), path


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like every other error
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(only_compare: bool = False) -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests).

    ``only_compare=True`` builds the ``compare`` command alone: what ``main`` uses when that is the
    command, so the most frequent run does not build the other commands' options (start-up time)."""
    parser = _Parser(prog="pdfcompare", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    c = sub.add_parser("compare", help="compare two PDF files", description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("old", metavar="OLD", help="the earlier version (PDF)")
    c.add_argument("new", metavar="NEW", help="the later version (PDF)")
    out = c.add_argument_group("outputs")
    out.add_argument("--json", metavar="FILE", help="write the JSON report to FILE ('-' for stdout)")
    out.add_argument("--overlay", metavar="FILE", help="write an annotated PDF (legend + old/new pages)")
    out.add_argument("--preview", metavar="[old:|new:]PAGE:FILE.png", type=_preview, action="append",
                     default=[], help="write a PNG of a page with its changes highlighted (default side: new)"
                     "; repeatable")
    out.add_argument("-q", "--quiet", action="store_true", help="print nothing; use the exit code")
    _add_analysis_arguments(c)
    if only_compare:
        return parser
    _add_batch_command(sub)
    sub.add_parser("schema", help="print the JSON Schema of the report")
    _add_service_commands(sub)
    return parser


def _add_analysis_arguments(p: argparse.ArgumentParser) -> None:
    """The analysis, password and limit options shared by ``compare`` and ``batch``."""
    ana = p.add_argument_group("analysis")
    ana.add_argument("--dpi", type=_positive_int, default=150, help="resolution for scanned pages (150)")
    ana.add_argument("--ocr", choices=("auto", "on", "off"), default="auto",
                     help="auto: read the changed regions of scans that look like text (never line work); "
                     "on: OCR whole pages, text pages too; off: never; only pages that differ are OCR'd "
                     "(auto)")
    ana.add_argument("--ocr-lang", default="eng", metavar="LANG",
                     help="Tesseract language(s), e.g. eng or deu+eng (eng)")
    ana.add_argument("--ocr-dpi", type=_positive_int, default=300, metavar="N",
                     help="resolution for OCR; lower is faster, 200 suits 10 pt text (300)")
    ana.add_argument("--min-region", type=_positive_int, default=40, metavar="PX",
                     help="ignore changed scan regions smaller than PX pixels at 150 dpi (40)")
    ana.add_argument("--tolerance", type=_positive_float, default=0.5, metavar="PT",
                     help="geometry tolerance in points (0.5)")
    ana.add_argument("--jobs", type=_jobs, default="auto", metavar="N",
                     help="processes for reading the two files: 2 reads them in parallel; auto (the "
                     f"default) uses 2 on a multi-core machine for documents of {AUTO_JOBS_PAGES} pages "
                     "or more, where it pays for the extra process (auto)")
    ana.add_argument("--ignore-case", action="store_true", help="compare words case-insensitively")
    ana.add_argument("--no-geometry", action="store_true", help="skip the vector drawing comparison")
    ana.add_argument("--no-raster", action="store_true", help="skip the image comparison of scans")
    ana.add_argument("--no-styles", action="store_true",
                     help="do not report words that changed only font, weight, slant, size or colour")
    sec = p.add_argument_group("passwords and limits")
    sec.add_argument("--password", help="password for both files (or use --old-password/--new-password)")
    sec.add_argument("--old-password", help="password of OLD")
    sec.add_argument("--new-password", help="password of NEW")
    d = Limits()
    sec.add_argument("--max-pages", type=_positive_int, default=d.max_pages, metavar="N",
                     help=f"refuse documents with more pages ({d.max_pages})")
    sec.add_argument("--max-file-mb", type=_positive_float, default=d.max_file_bytes / 1e6, metavar="MB",
                     help=f"refuse larger files ({d.max_file_bytes / 1e6:.0f})")
    sec.add_argument("--timeout", type=_positive_float, default=d.timeout_s, metavar="SECONDS",
                     help=f"give up after this long ({d.timeout_s:.0f})")


SERVICE_EPILOG = """\
settings come from PDFCOMPARE_* environment variables and the optional KEY=VALUE file named by
--config or PDFCOMPARE_CONFIG_FILE (the environment wins); see docs/app-service.md.
"""


def _add_service_commands(sub: argparse._SubParsersAction) -> None:
    def service_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
                           epilog=SERVICE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--config", metavar="FILE", help="KEY=VALUE settings file (default: "
                       "$PDFCOMPARE_CONFIG_FILE)")
        return p

    s = service_parser("serve", "run one instance of the web app (Streamlit)")
    s.add_argument("--address", help="listen on this address (default: PDFCOMPARE_ADDRESS)")
    s.add_argument("--port", type=_positive_int, help="listen on this port (default: PDFCOMPARE_PORT)")
    service_parser("migrate", "apply the database migrations this version needs")
    h = service_parser("healthcheck", "check that an instance can serve (exit 0 yes, 1 no)")
    h.add_argument("--port", type=_positive_int, help="the instance's port (default: PDFCOMPARE_PORT)")
    h.add_argument("--no-http", action="store_true", help="skip the instance's own health endpoint")
    h.add_argument("--json", action="store_true", help="print one JSON document")
    h.add_argument("--timeout", type=_positive_float, default=5.0, metavar="SECONDS",
                   help="time limit of each check (5)")
    service_parser("check-config", "validate the settings and print them without secrets")


class _Progress:
    """Progress on stderr: shown only once a comparison has run for a second (long documents)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.start = time.monotonic()
        self.last = 0.0
        self.tty = sys.stderr.isatty()
        self.shown = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        final = stage == "done"
        if final:
            if self.shown and self.tty:
                sys.stderr.write("\n")
            return
        if now - self.start < 1.0 or (now - self.last < 0.5 and done != total):
            return
        self.last = now
        self.shown = True
        msg = f"pdfcompare: {stage} {done}/{total}"
        if self.tty:
            sys.stderr.write("\r" + msg.ljust(40))
        else:
            sys.stderr.write(msg + "\n")
        sys.stderr.flush()


def _style_text(style: dict) -> str:
    """``bold off -> on, size 10 -> 12`` for a style change."""
    parts = []
    for key in style["changed"]:
        a, b = style["old"][key], style["new"][key]
        if isinstance(a, bool):
            a, b = ("on" if a else "off"), ("on" if b else "off")
        parts.append(f"{key} {a} -> {b}")
    return ", ".join(parts)


def _summary_text(report: Report) -> str:
    s = report.summary
    if not report.changes:
        return "No differences."
    lines = [f"{len(report.changes)} change(s): text {s['text']}, page {s['page']}, "
             f"geometry {s['geometry']}, raster {s['raster']}"]
    for c in report.changes[:200]:
        where = f"old p.{c.old_page or '-'} -> new p.{c.new_page or '-'}"
        text = ""
        if c.kind == "text":
            if c.op in ("delete", "move"):
                text = repr(c.old_text)
            elif c.op == "insert":
                text = repr(c.new_text)
            elif c.style:
                text = f"{c.old_text!r} style: {_style_text(c.style)}"
            else:
                text = f"{c.old_text!r} -> {c.new_text!r}"
            if len(text) > 100:
                text = text[:97] + "..."
        lines.append(f"  {c.kind:<8} {c.op:<7} {where:<22} {text}".rstrip())
    if len(report.changes) > 200:
        lines.append(f"  ... and {len(report.changes) - 200} more (use --json for all)")
    return "\n".join(lines)


def _options(args: argparse.Namespace, workers: int) -> CompareOptions:
    limits = replace(Limits(), max_pages=args.max_pages, max_file_bytes=int(args.max_file_mb * 1e6),
                     timeout_s=args.timeout)
    return CompareOptions(
        limits=limits, password=args.password, old_password=args.old_password,
        new_password=args.new_password, ocr=args.ocr, ocr_lang=args.ocr_lang, ocr_dpi=args.ocr_dpi,
        dpi=args.dpi,
        min_region_px=args.min_region, geometry_tolerance=args.tolerance, ignore_case=args.ignore_case,
        geometry=not args.no_geometry, raster=not args.no_raster, styles=not args.no_styles,
        workers=workers,
    )


def _run_compare(args: argparse.Namespace) -> int:
    options = _options(args, _workers(args))
    from .engine.compare import compare

    report = compare(args.old, args.new, options, progress=_Progress(not args.quiet))
    if not args.quiet:
        for w in report.warnings:
            print(f"pdfcompare: warning: {w}", file=sys.stderr)
    if args.json == "-":
        _stdout(report.to_json() + "\n")
    elif args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(report.to_json() + "\n")
    if args.overlay:
        from .engine.annotate import write_annotated_pdf

        write_annotated_pdf(args.old, args.new, report, args.overlay, options)
    for side, page, path in args.preview:
        from .engine.annotate import render_preview

        png = render_preview(args.old if side == "old" else args.new, report, page, side, options=options)
        with open(path, "wb") as fh:
            fh.write(png)
    if not args.quiet and args.json != "-":
        _stdout(_summary_text(report) + "\n")
    return EXIT_CHANGED if report.has_changes else EXIT_SAME


def _stdout(text: str) -> None:
    """Write to stdout; a reader that went away (``| head``) is not an error, as with diff."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush does not fail again


def _guarded_compare(args: argparse.Namespace) -> int:
    """Run the comparison; every failure becomes one line on stderr and exit code 2."""
    try:
        return _run_compare(args)
    except PdfCompareError as exc:
        print(f"pdfcompare: error: {exc}", file=sys.stderr)
    except ValueError as exc:  # e.g. a preview page that does not exist
        print(f"pdfcompare: error: {exc}", file=sys.stderr)
    except OSError as exc:
        name = exc.filename if isinstance(exc.filename, str) else ""
        print(f"pdfcompare: error: cannot write {os.path.basename(name) or 'output'}: {exc.strerror}",
              file=sys.stderr)
    except MemoryError:
        print("pdfcompare: error: out of memory; the documents are too large for this machine",
              file=sys.stderr)
    except KeyboardInterrupt:
        print("pdfcompare: interrupted", file=sys.stderr)
    except Exception as exc:  # a bug in the engine: still one line, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        print(f"pdfcompare: error: internal error ({type(exc).__name__}: {first}); please report this",
              file=sys.stderr)
    return EXIT_ERROR


def _wait_child(pid: int, deadline: float) -> int | None:
    """Wait for child ``pid`` until ``deadline`` (monotonic); its wait status, or None on time-out.

    On Linux a pidfd wakes the parent the moment the child ends; elsewhere the child is polled."""
    import select

    pidfd = None
    if hasattr(os, "pidfd_open"):
        with contextlib.suppress(OSError):
            pidfd = os.pidfd_open(pid)
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if pidfd is not None:
                select.select([pidfd], [], [], min(left, 1.0))
            else:
                time.sleep(min(left, 0.01))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _isolated_compare(args: argparse.Namespace) -> int:
    """Run the comparison in a child process that is killed if it outlives the time limit.

    The engine checks its time limit between pages and stages, but one MuPDF call cannot be
    interrupted from Python (PyMuPDF holds the interpreter lock while it renders or parses), so
    a pathological page could overrun --timeout. The parent process enforces the limit from
    outside: at --timeout plus HARD_TIMEOUT_GRACE_S it kills the child and says so in one line.
    """
    if not hasattr(os, "fork"):
        return _guarded_compare(args)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: Ctrl-C is the parent's to handle
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        code = EXIT_ERROR
        try:
            code = _guarded_compare(args)
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os._exit(code)
    limit = args.timeout + HARD_TIMEOUT_GRACE_S
    deadline = time.monotonic() + limit
    try:
        status = _wait_child(pid, deadline)
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            print(f"pdfcompare: error: the comparison did not finish within {args.timeout:g} s and "
                  "was stopped; raise --timeout for very large documents", file=sys.stderr)
            return EXIT_ERROR
    except KeyboardInterrupt:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        print("pdfcompare: interrupted", file=sys.stderr)
        return EXIT_ERROR
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    sig = signal.Signals(os.WTERMSIG(status)).name
    reason = "it was killed, probably for lack of memory" if sig == "SIGKILL" else f"it crashed ({sig})"
    print(f"pdfcompare: error: the comparison stopped: {reason}; please report this with the files",
          file=sys.stderr)
    return EXIT_ERROR


def _service_command(args: argparse.Namespace) -> int:
    """serve, migrate, healthcheck, check-config: settings errors are one line and exit code 2."""
    from .settings import SettingsError, load_settings

    try:
        settings = load_settings(config_file=args.config)
        overrides = {k: v for k, v in (("address", getattr(args, "address", None)),
                                       ("port", getattr(args, "port", None))) if v is not None}
        if overrides:
            settings = replace(settings, **overrides)
    except SettingsError as exc:
        print(f"pdfcompare: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.command == "check-config":
        print(json.dumps(settings.public_dict(), indent=2, default=list))
        return EXIT_SAME
    if args.command == "serve":
        from .serve import serve

        serve(settings)
        return EXIT_SAME
    if args.command == "migrate":
        from .logs import configure_logging
        from .storage import MigrationError, migrate

        configure_logging(settings.log_level)
        try:
            applied = migrate(settings)
        except MigrationError as exc:
            print(f"pdfcompare: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else
                                                          "; the schema is current"))
        return EXIT_SAME
    from .health import format_checks, healthy, run_checks

    checks = run_checks(settings, http=not args.no_http, timeout=args.timeout)
    print(format_checks(checks, as_json=args.json))
    return EXIT_SAME if healthy(checks) else EXIT_CHANGED


def main(argv: list[str] | None = None, *, isolate: bool = False) -> int:
    """Entry point of the ``pdfcompare`` command; returns the exit code (0 same, 1 changed, 2 error).

    ``isolate=True`` (the installed command) runs the comparison in a child process with a hard
    time limit; library callers and tests get an in-process run.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only_compare=bool(argv) and argv[0] == "compare")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command == "schema":
        from .engine.schema import REPORT_JSON_SCHEMA

        print(json.dumps(REPORT_JSON_SCHEMA, indent=2))
        return EXIT_SAME
    if args.command in ("serve", "migrate", "healthcheck", "check-config"):
        return _service_command(args)
    if args.command == "batch":
        return _run_batch(args)
    if args.command != "compare":
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    return _isolated_compare(args) if isolate else _guarded_compare(args)


BATCH_EPILOG = """\
manifest: a CSV file with a header row naming the columns old and new (optional: name), or a JSON
list of {"old": ..., "new": ..., "name": ...} objects (also accepted: {"pairs": [...]}). Relative
paths are read from the manifest's folder. Every pair gets its report DIR/NAME.json (schema
"pdfcompare.report/1"); DIR/summary.csv and DIR/summary.json list every pair's result, and the same
table is printed. Each pair runs in its own process (started from one loaded program, so there is
no start-up per pair) with the hard time limit of `compare`; a failing pair does not stop the others.

exit codes: 0 no pair has differences, 1 some pair has differences, 2 some pair failed (its error is
in the summary) or the manifest cannot be read.
"""


@dataclass(frozen=True, slots=True)
class BatchPair:
    """One line of a batch manifest."""

    name: str
    old: str
    new: str


class ManifestError(ValueError):
    """The batch manifest cannot be used (message for the person who wrote it)."""


def _safe_name(text: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text.strip())
    return keep.strip("-.")[:120] or "pair"


def read_manifest(path: str) -> list[BatchPair]:
    """The pairs of a batch manifest (CSV with a header row, or JSON); raises :class:`ManifestError`."""
    import csv
    from pathlib import Path

    src = Path(path)
    try:
        text = src.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ManifestError(f"the manifest {src.name} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ManifestError(f"the manifest {src.name} is not a UTF-8 text file") from None
    rows: list[dict] = []
    if text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"the manifest {src.name} is not valid JSON (line {exc.lineno})") from None
        if isinstance(data, dict):
            data = data.get("pairs")
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ManifestError(f"the JSON manifest {src.name} must be a list of objects with old and new")
        rows = data
    else:
        reader = csv.DictReader(line for line in text.splitlines() if line.strip())
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        if "old" not in fields or "new" not in fields:
            raise ManifestError(f"the CSV manifest {src.name} needs a header row naming the columns old "
                                "and new")
        rows = [{(k or "").strip().lower(): (v or "").strip() for k, v in r.items()} for r in reader]
    pairs: list[BatchPair] = []
    used: set[str] = set()
    for k, row in enumerate(rows, start=1):
        old, new = row.get("old"), row.get("new")
        if not old or not new or not isinstance(old, str) or not isinstance(new, str):
            raise ManifestError(f"pair {k} of the manifest {src.name} needs both old and new")
        name = _safe_name(str(row.get("name") or f"{k:03d}-{Path(old).stem}-vs-{Path(new).stem}"))
        base, n = name, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        pairs.append(BatchPair(name, str(src.parent / old), str(src.parent / new)))
    if not pairs:
        raise ManifestError(f"the manifest {src.name} lists no pairs")
    return pairs


def _add_batch_command(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("batch", help="compare many pairs listed in a manifest (CSV or JSON)",
                       description="Compare every old/new pair listed in MANIFEST: one JSON report per pair "
                       "and a summary table.", epilog=BATCH_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("manifest", metavar="MANIFEST", help="CSV or JSON list of old/new pairs")
    b.add_argument("--out", metavar="DIR", help="folder for the reports and the summary (default: "
                   "MANIFEST's name + '-reports' next to it)")
    b.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                   help="pairs compared at the same time (default: the number of cores)")
    b.add_argument("-q", "--quiet", action="store_true", help="print nothing; use the exit code")
    _add_analysis_arguments(b)


def _batch_child(pair: BatchPair, options: CompareOptions, out_dir: str, fd: int) -> None:
    """In a forked child: compare one pair, write its report, send a one-line result, exit."""
    from .engine.compare import compare

    t0 = time.perf_counter()
    result: dict = {"name": pair.name}
    try:
        report = compare(pair.old, pair.new, options)
        path = os.path.join(out_dir, f"{pair.name}.json")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(report.to_json() + "\n")
        result.update(result="changed" if report.has_changes else "same", summary=report.summary,
                      old_pages=report.old.pages, new_pages=report.new.pages, report=path,
                      warnings=report.warnings)
    except PdfCompareError as exc:
        result.update(result="error", error=str(exc))
    except MemoryError:
        result.update(result="error", error="out of memory; the documents are too large for this machine")
    except OSError as exc:
        result.update(result="error", error=f"cannot write the report: {exc.strerror}")
    except Exception as exc:  # noqa: BLE001 - a bug: still a line in the summary, never a traceback
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        result.update(result="error", error=f"internal error ({type(exc).__name__}: {first})")
    result["seconds"] = round(time.perf_counter() - t0, 3)
    os.write(fd, json.dumps(result).encode())


def _run_pairs(pairs: list[BatchPair], options: CompareOptions, out_dir: str, workers: int,
               limit: float, progress: _Progress) -> list[dict]:
    """Compare the pairs in up to ``workers`` forked children at a time; results in manifest order."""
    import select

    results: list[dict | None] = [None] * len(pairs)
    running: dict[int, tuple[int, int, float, bytearray]] = {}  # read fd -> (index, pid, deadline, data)
    queue = list(range(len(pairs)))
    while queue or running:
        while queue and len(running) < workers:
            k = queue.pop(0)
            rfd, wfd = os.pipe()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # child
                os.close(rfd)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                try:
                    _batch_child(pairs[k], options, out_dir, wfd)
                finally:
                    os._exit(0)
            os.close(wfd)
            running[rfd] = (k, pid, time.monotonic() + limit, bytearray())
        timeout = max(0.0, min(d for _, _, d, _ in running.values()) - time.monotonic())
        ready, _, _ = select.select(list(running), [], [], timeout)
        now = time.monotonic()
        for rfd in list(running):
            k, pid, deadline, data = running[rfd]
            if rfd in ready:
                chunk = os.read(rfd, 65536)
                if chunk:
                    data.extend(chunk)
                    continue
            elif now <= deadline:
                continue
            # the child closed its end (it is done) or ran out of time
            if rfd not in ready:
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            os.close(rfd)
            del running[rfd]
            try:
                results[k] = json.loads(bytes(data)) if data else None
            except json.JSONDecodeError:
                results[k] = None
            if results[k] is None:
                if rfd not in ready:
                    why = f"did not finish within {options.limits.timeout_s:g} s and was stopped"
                elif os.WIFSIGNALED(status):
                    why = f"stopped by {signal.Signals(os.WTERMSIG(status)).name} (probably lack of memory)"
                else:
                    why = "stopped without a result"
                results[k] = {"name": pairs[k].name, "result": "error", "error": f"the comparison {why}",
                              "seconds": round(limit - max(deadline - now, 0.0), 3)}
            progress("pairs", len(pairs) - len(queue) - len(running), len(pairs))
    return [r for r in results if r is not None]


def _run_batch(args: argparse.Namespace) -> int:
    """``pdfcompare batch``: every pair of the manifest, in parallel worker processes."""
    from pathlib import Path

    try:
        pairs = read_manifest(args.manifest)
    except ManifestError as exc:
        print(f"pdfcompare: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    out_dir = args.out or str(Path(args.manifest).with_name(Path(args.manifest).stem + "-reports"))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        print(f"pdfcompare: error: cannot create {out_dir}: {exc.strerror}", file=sys.stderr)
        return EXIT_ERROR
    options = _options(args, 1)
    import pdfcompare.engine.compare  # noqa: F401 - loaded once here, shared by every forked worker

    workers = min(args.workers or os.cpu_count() or 1, len(pairs))
    t0 = time.perf_counter()
    if hasattr(os, "fork"):
        results = _run_pairs(pairs, options, out_dir, workers, args.timeout + HARD_TIMEOUT_GRACE_S,
                             _Progress(not args.quiet))
    else:  # pragma: no cover - no fork (Windows): one after the other, in this process
        results = []
        for pair in pairs:
            rfd, wfd = os.pipe()
            _batch_child(pair, options, out_dir, wfd)
            os.close(wfd)
            results.append(json.loads(os.read(rfd, 1 << 20)))
            os.close(rfd)
    elapsed = time.perf_counter() - t0
    rows = []
    for pair, r in zip(pairs, results, strict=True):
        sm = r.get("summary") or {}
        rows.append({"name": pair.name, "old": pair.old, "new": pair.new, "result": r["result"],
                     **{k: sm.get(k, "") for k in ("text", "page", "geometry", "raster")},
                     "old_pages": r.get("old_pages", ""), "new_pages": r.get("new_pages", ""),
                     "seconds": r.get("seconds", ""), "report": r.get("report", ""),
                     "error": r.get("error", "")})
    _write_summary(out_dir, rows)
    if not args.quiet:
        _stdout(_batch_table(rows, elapsed, out_dir) + "\n")
    if any(r["result"] == "error" for r in rows):
        return EXIT_ERROR
    return EXIT_CHANGED if any(r["result"] == "changed" for r in rows) else EXIT_SAME


def _write_summary(out_dir: str, rows: list[dict]) -> None:
    import csv

    with open(os.path.join(out_dir, "summary.csv"), "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as fh:
        json.dump(rows, fh, indent=2)
        fh.write("\n")


def _batch_table(rows: list[dict], elapsed: float, out_dir: str) -> str:
    width = min(40, max(len(r["name"]) for r in rows))
    head = f"{'pair':<{width}}  {'result':<8} {'text':>5} {'page':>5} {'geom':>5} {'raster':>6} {'time':>8}"
    lines = [head]
    for r in rows:
        lines.append(f"{r['name'][:width]:<{width}}  {r['result']:<8} {r['text']!s:>5} {r['page']!s:>5} "
                     f"{r['geometry']!s:>5} {r['raster']!s:>6} {r['seconds']!s:>7}s")
        if r["error"]:
            lines.append(f"{'':<{width}}  error: {r['error']}")
    counts = {k: sum(r["result"] == k for r in rows) for k in ("same", "changed", "error")}
    lines.append(f"{len(rows)} pair(s): {counts['same']} same, {counts['changed']} changed, "
                 f"{counts['error']} failed in {elapsed:.1f} s; reports and summary.csv in {out_dir}")
    return "\n".join(lines)


def run() -> None:
    """The installed ``pdfcompare`` command (and ``python -m pdfcompare``)."""
    # OpenBLAS (loaded by NumPy) starts a thread per core that spins for a while after start-up: ~0.07 s
    # of CPU per run for nothing, as the engine's only matrix products are tiny (page thumbnails).
    # Only for the comparison commands (the service commands start long-lived processes); a value
    # the user set wins.
    if sys.argv[1:2] in (["compare"], ["batch"]):
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main(isolate=True))


if __name__ == "__main__":  # pragma: no cover
    run()
