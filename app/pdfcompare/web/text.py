"""Small formatting helpers of the UI: Markdown escaping, sizes, dates, change descriptions.

Document text goes into Markdown elements, so everything taken from a PDF is escaped first
(:func:`md`): a file name like ``*draft*.pdf`` or a contract clause with ``$`` signs must show as
written, never as formatting or LaTeX.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "md",
    "clip",
    "human_size",
    "when",
    "snippet_md",
    "change_title",
    "change_md",
    "KIND_LABELS",
    "OP_LABELS",
    "summary_line",
]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|~<>$:])")
"""Characters that format text anywhere in a line (emphasis, links, code, HTML, LaTeX, colours)."""
_MD_LINE_START = re.compile(r"^(\s*\d*)([#+\-=.)])")
"""What makes a line a heading or a list item: only escaped at the start."""
KIND_LABELS = {"text": "Text", "page": "Pages", "geometry": "Drawing", "raster": "Image"}
"""Kinds of change as people call them (the engine's ``kind`` → label)."""
OP_LABELS = {"insert": "added", "delete": "removed", "replace": "changed", "move": "moved"}


def md(text: object) -> str:
    """``text`` escaped for Markdown: shows literally, whatever characters it has."""
    escaped = _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    return _MD_LINE_START.sub(r"\1\\\2", escaped, count=1)


def clip(text: str | None, limit: int = 160) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def human_size(size_bytes: int | None) -> str:
    """``1.4 MB``, ``820 kB``, ``512 B``."""
    if size_bytes is None:
        return "?"
    if size_bytes >= 1024 * 1024:
        return f"{size_bytes / 1048576:.1f} MB"
    if size_bytes >= 1024:
        return f"{size_bytes / 1024:.0f} kB"
    return f"{size_bytes} B"


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """A short, readable time: ``just now``, ``5 min ago``, ``today 14:02``, ``2026-11-29 14:02``."""
    if moment is None:
        return "—"
    now = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (now - moment).total_seconds()
    if 0 <= seconds < 60:
        return "just now"
    if 0 <= seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    local = moment.astimezone(UTC)
    if local.date() == now.astimezone(UTC).date():
        return f"today {local:%H:%M} UTC"
    return f"{local:%Y-%m-%d %H:%M} UTC"


def snippet_md(snippet: str) -> str:
    """A search snippet (matches marked ``«…»`` by the storage) as Markdown with the matches bold."""
    parts = re.split(r"«(.*?)»", snippet)
    out = []
    for k, part in enumerate(parts):
        escaped = md(part)
        out.append(f"**{escaped}**" if k % 2 and escaped else escaped)
    return " ".join(p for p in out if p)


def _page_ref(change: Mapping[str, Any]) -> str:
    old_page, new_page = change.get("old_page"), change.get("new_page")
    if old_page and new_page and old_page != new_page:
        return f"old p.{old_page} → new p.{new_page}"
    if new_page:
        return f"p.{new_page}"
    return f"old p.{old_page}"


def change_title(change: Mapping[str, Any]) -> str:
    """One plain line naming a change: ``Text changed · p.3``."""
    kind, op = change.get("kind", ""), change.get("op", "")
    if kind == "page":
        pages = {"insert": "Page inserted", "delete": "Page deleted", "move": "Page moved"}
        what = pages.get(op, "Page changed")
    elif change.get("style"):
        what = "Style changed"
    else:
        what = f"{KIND_LABELS.get(kind, kind.title())} {OP_LABELS.get(op, op)}"
    return f"{what} · {_page_ref(change)}"


def change_md(change: Mapping[str, Any], limit: int = 160) -> str:
    """What a change did, as Markdown: removed text red and struck through, added text green."""
    kind, op = change.get("kind"), change.get("op")
    old_text = md(clip(change.get("old_text"), limit))
    new_text = md(clip(change.get("new_text"), limit))
    if kind == "text":
        if op == "insert":
            return f":green[{new_text}]" if new_text else "_text added_"
        if op == "delete":
            return f":red[~~{old_text}~~]" if old_text else "_text removed_"
        if op == "move":
            return f":blue[{old_text or new_text}]"
        if change.get("style"):
            return f"{new_text or old_text}: {style_md(change['style'])}"
        return f":red[~~{old_text}~~] → :green[{new_text}]"
    if kind == "page":
        return {"insert": "A new page", "delete": "The page is gone in the new version",
                "move": "The page is at another position"}.get(op or "", "")
    if kind == "geometry":
        return {"insert": "Lines or shapes added", "delete": "Lines or shapes removed",
                "move": "Shapes moved", "replace": "Shapes reshaped"}.get(op or "", "Drawing changed")
    detail = old_text or new_text
    base = {"insert": "Picture or scanned area added", "delete": "Picture or scanned area removed",
            "move": "Picture moved", "replace": "Picture or scanned area changed",
            }.get(op or "", "Image changed")
    return f"{base}: {detail}" if detail else base


def style_md(style: Mapping[str, Any]) -> str:
    """What a style-only change did: ``bold: no → yes · size: 10 → 12 pt``."""
    old, new = style.get("old") or {}, style.get("new") or {}

    def show(attribute: str, value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if attribute == "size" and isinstance(value, (int, float)):
            return f"{value:g} pt"
        return md(str(value))

    parts = [f"{attribute}: {show(attribute, old.get(attribute))} → {show(attribute, new.get(attribute))}"
             for attribute in style.get("changed") or ()]
    return " · ".join(parts) or "look changed"


def summary_line(summary: Mapping[str, int] | None) -> str:
    """``3 text · 1 page · 0 drawing · 0 image`` (only the kinds with changes; ``no changes``)."""
    if not summary:
        return "—"
    names = {"text": "text", "page": "page", "geometry": "drawing", "raster": "image"}
    parts = [f"{summary.get(k, 0)} {label}" for k, label in names.items() if summary.get(k)]
    return " · ".join(parts) if parts else "no changes"
