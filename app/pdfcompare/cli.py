"""Command line interface: ``pdfcompare compare OLD NEW``."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import replace

import pymupdf

from .engine import (
    REPORT_JSON_SCHEMA,
    CompareOptions,
    Limits,
    PdfCompareError,
    Report,
    compare,
    render_preview,
    write_annotated_pdf,
)
from .engine.extract import quiet_mupdf

__all__ = ["main", "build_parser"]

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

exit codes (like diff):
  0  the documents have no differences
  1  differences were found
  2  error (unreadable, encrypted or oversized file, bad option); one line on stderr says why

kinds of change (JSON "kind" / "op"):
  text      words inserted, deleted or replaced; "move" = the same passage left one place and appears
            elsewhere, on the same or another page (not reported as delete + insert)
  page      a whole page was inserted, deleted, or moved to another position
  geometry  vector shapes of a drawing added (insert), removed (delete), reshaped (replace) or moved;
            changed dimension numbers and title-block text are reported as text changes
  raster    changed regions of image-only (scanned) pages (specks below --min-region are ignored), and
            pictures added, removed, moved or replaced on pages that have text

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
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
    ana = c.add_argument_group("analysis")
    ana.add_argument("--dpi", type=_positive_int, default=150, help="resolution for scanned pages (150)")
    ana.add_argument("--ocr", choices=("auto", "on", "off"), default="auto",
                     help="auto: OCR scanned pages (no text layer); on: OCR text pages too; off: never; "
                     "only pages that differ are OCR'd (auto)")
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
    sec = c.add_argument_group("passwords and limits")
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
    sub.add_parser("schema", help="print the JSON Schema of the report")
    _add_service_commands(sub)
    return parser


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
            else:
                text = f"{c.old_text!r} -> {c.new_text!r}"
            if len(text) > 100:
                text = text[:97] + "..."
        lines.append(f"  {c.kind:<8} {c.op:<7} {where:<22} {text}".rstrip())
    if len(report.changes) > 200:
        lines.append(f"  ... and {len(report.changes) - 200} more (use --json for all)")
    return "\n".join(lines)


def _run_compare(args: argparse.Namespace) -> int:
    limits = replace(Limits(), max_pages=args.max_pages, max_file_bytes=int(args.max_file_mb * 1e6),
                     timeout_s=args.timeout)
    options = CompareOptions(
        limits=limits, password=args.password, old_password=args.old_password,
        new_password=args.new_password, ocr=args.ocr, ocr_lang=args.ocr_lang, ocr_dpi=args.ocr_dpi,
        dpi=args.dpi,
        min_region_px=args.min_region, geometry_tolerance=args.tolerance, ignore_case=args.ignore_case,
        geometry=not args.no_geometry, raster=not args.no_raster, workers=_workers(args),
    )
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
        write_annotated_pdf(args.old, args.new, report, args.overlay, options)
    for side, page, path in args.preview:
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
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                print(f"pdfcompare: error: the comparison did not finish within {args.timeout:g} s and "
                      "was stopped; raise --timeout for very large documents", file=sys.stderr)
                return EXIT_ERROR
            time.sleep(0.02)
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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command == "schema":
        print(json.dumps(REPORT_JSON_SCHEMA, indent=2))
        return EXIT_SAME
    if args.command in ("serve", "migrate", "healthcheck", "check-config"):
        return _service_command(args)
    if args.command != "compare":
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    return _isolated_compare(args) if isolate else _guarded_compare(args)


def run() -> None:
    """The installed ``pdfcompare`` command (and ``python -m pdfcompare``)."""
    sys.exit(main(isolate=True))


if __name__ == "__main__":  # pragma: no cover
    run()
