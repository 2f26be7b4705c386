"""Greedy one-to-one matching, shared by page alignment, text moves and shape moves."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from typing import TypeVar

A = TypeVar("A", bound=Hashable)
B = TypeVar("B", bound=Hashable)
P = TypeVar("P")


def greedy_pairs(candidates: Iterable[tuple[A, B, P]]) -> Iterator[tuple[A, B, P]]:
    """Yield the candidates ``(a, b, payload)``, best first as given, whose ``a`` and ``b`` are both
    still unused: each left and each right item ends up in at most one pair."""
    used_a: set[A] = set()
    used_b: set[B] = set()
    for a, b, payload in candidates:
        if a in used_a or b in used_b:
            continue
        used_a.add(a)
        used_b.add(b)
        yield a, b, payload
