"""A finished comparison's report as the viewer needs it (parsed once per process, kept in a small
LRU cache keyed by comparison id: callers check access with ``Storage.get_comparison`` first).

The report is read as plain JSON (``pdfcompare.report/1``); the engine is not imported here.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ReportView", "PageEntry", "load_report", "entry_label"]

_LRU_SIZE = 24
_cache: OrderedDict[int, ReportView] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class PageEntry:
    """One row of the page map: old page ``old`` shown next to new page ``new``."""

    old: int | None
    new: int | None
    status: str
    """``matched``, ``inserted``, ``deleted`` or ``moved``."""


@dataclass
class ReportView:
    """The parts of a report the page uses."""

    comparison_id: int
    old_pages: int
    new_pages: int
    entries: list[PageEntry]
    changes: list[dict[str, Any]]
    """The report's changes, each with its index ``idx`` (its position in the report)."""
    summary: dict[str, int]
    json_text: str
    _entry_of_change: list[int] = field(default_factory=list)
    _changes_of_entry: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, comparison_id: int, text: str) -> ReportView:
        data = json.loads(text)
        entries = [PageEntry(m.get("old"), m.get("new"), m.get("status", "matched"))
                   for m in data.get("page_map") or []]
        changes = []
        for idx, change in enumerate(data.get("changes") or []):
            changes.append({**change, "idx": idx})
        view = cls(comparison_id, int((data.get("old") or {}).get("pages") or 0),
                   int((data.get("new") or {}).get("pages") or 0), entries, changes,
                   dict(data.get("summary") or {}), text)
        view._index()
        return view

    def _index(self) -> None:
        by_new = {e.new: k for k, e in enumerate(self.entries) if e.new is not None}
        by_old = {e.old: k for k, e in enumerate(self.entries) if e.old is not None}
        for change in self.changes:
            entry = by_new.get(change.get("new_page")) if change.get("new_page") else None
            if entry is None and change.get("old_page"):
                entry = by_old.get(change.get("old_page"))
            entry = 0 if entry is None else entry
            self._entry_of_change.append(entry)
            self._changes_of_entry.setdefault(entry, []).append(change["idx"])

    def entry_of(self, change_idx: int) -> int:
        """The page-map row that shows change ``change_idx``."""
        if 0 <= change_idx < len(self._entry_of_change):
            return self._entry_of_change[change_idx]
        return 0

    def changes_on(self, entry: int) -> list[int]:
        """Indexes of the changes shown on page-map row ``entry``."""
        return self._changes_of_entry.get(entry, [])

    @property
    def entries_with_changes(self) -> list[int]:
        return sorted(self._changes_of_entry)

    @property
    def kinds(self) -> list[str]:
        """Kinds present, in the engine's order."""
        present = {c.get("kind") for c in self.changes}
        return [k for k in ("text", "page", "geometry", "raster") if k in present]


def entry_label(view: ReportView, entry: int) -> str:
    """How the page navigator names a page-map row: ``Page 3 · 2 changes``, ``New page 5 (inserted)``."""
    e = view.entries[entry]
    if e.status == "inserted":
        label = f"New page {e.new} (inserted)"
    elif e.status == "deleted":
        label = f"Old page {e.old} (deleted)"
    elif e.status == "moved" or e.old != e.new:
        label = f"Old page {e.old} → new page {e.new}" + (" (moved)" if e.status == "moved" else "")
    else:
        label = f"Page {e.new}"
    count = len(view.changes_on(entry))
    if count:
        label += f" · {count} change" + ("s" if count != 1 else "")
    return label


def load_report(storage: Any, user: Any, comparison_id: int) -> ReportView:
    """The report of a finished comparison the caller has checked ``user`` may see."""
    with _lock:
        view = _cache.get(comparison_id)
        if view is not None:
            _cache.move_to_end(comparison_id)
            return view
    view = ReportView.from_json(comparison_id, storage.get_report_json(user, comparison_id))
    with _lock:
        _cache[comparison_id] = view
        while len(_cache) > _LRU_SIZE:
            _cache.popitem(last=False)
    return view
