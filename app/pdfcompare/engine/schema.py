"""JSON Schema of the report (``pdfcompare.report/1``) and a dependency-free validator for it."""

from __future__ import annotations

import re
from typing import Any

from .model import KINDS, OPS, SCHEMA_ID

__all__ = ["REPORT_JSON_SCHEMA", "validate_report"]

_PAGE = {"type": ["integer", "null"], "minimum": 1}
_BOX = {
    "type": ["array", "null"],
    "items": {"type": "number"},
    "minItems": 4,
    "maxItems": 4,
}
_DOC = {
    "type": "object",
    "required": ["sha256", "pages"],
    "additionalProperties": False,
    "properties": {
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "pages": {"type": "integer", "minimum": 0},
    },
}

_STYLE = {
    "type": "object",
    "required": ["font", "size", "bold", "italic", "color"],
    "additionalProperties": False,
    "properties": {
        "font": {"type": "string"},
        "size": {"type": "number", "minimum": 0},
        "bold": {"type": "boolean"},
        "italic": {"type": "boolean"},
        "color": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
    },
}
# Optional key of text changes (added in 0.2, meaning of every other key unchanged): present only on
# style-only changes, i.e. kind "text", op "replace" with old_text == new_text.
_STYLE_CHANGE = {
    "type": "object",
    "required": ["changed", "old", "new"],
    "additionalProperties": False,
    "properties": {
        "changed": {"type": "array", "minItems": 1,
                    "items": {"enum": ["font", "size", "bold", "italic", "color"]}},
        "old": _STYLE,
        "new": _STYLE,
    },
}

REPORT_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:pdfcompare:report:1",
    "title": "PDF Compare report, version 1",
    "type": "object",
    "required": ["schema", "old", "new", "page_map", "changes", "summary"],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "old": _DOC,
        "new": _DOC,
        "page_map": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["old", "new", "status"],
                "additionalProperties": False,
                "properties": {
                    "old": _PAGE,
                    "new": _PAGE,
                    "status": {"enum": ["matched", "inserted", "deleted", "moved"]},
                },
            },
        },
        "changes": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kind", "op", "old_page", "new_page", "old_bbox", "new_bbox", "old_text",
                             "new_text"],
                "additionalProperties": False,
                "properties": {
                    "kind": {"enum": list(KINDS)},
                    "op": {"enum": list(OPS)},
                    "old_page": _PAGE,
                    "new_page": _PAGE,
                    "old_bbox": _BOX,
                    "new_bbox": _BOX,
                    "old_text": {"type": ["string", "null"]},
                    "new_text": {"type": ["string", "null"]},
                    "style": _STYLE_CHANGE,
                },
            },
        },
        "summary": {
            "type": "object",
            "required": list(KINDS),
            "additionalProperties": False,
            "properties": {k: {"type": "integer", "minimum": 0} for k in KINDS},
        },
    },
}

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "null": type(None),
    "boolean": bool,
}


def _is(value: Any, t: str) -> bool:
    if t == "boolean":
        return isinstance(value, bool)
    if t in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[t])


def _check(value: Any, schema: dict[str, Any], path: str, errors: list[str]) -> None:
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}, got {value!r}")
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
        return
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is(value, t) for t in types):
            errors.append(f"{path}: expected {' or '.join(types)}, got {type(value).__name__}")
            return
    if value is None:
        return
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing key {key!r}")
        props = schema.get("properties", {})
        for key, sub in value.items():
            if key in props:
                _check(sub, props[key], f"{path}.{key}", errors)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected key {key!r}")
    elif isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: needs at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: allows at most {schema['maxItems']} items")
        if "items" in schema:
            for k, item in enumerate(value):
                _check(item, schema["items"], f"{path}[{k}]", errors)
    elif isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    elif isinstance(value, int | float) and "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{path}: {value} is below {schema['minimum']}")


def validate_report(data: dict[str, Any]) -> list[str]:
    """Check report data (``Report.to_dict()`` or parsed JSON) against the schema; returns the problems.

    An empty list means the report is valid.  Beyond the JSON Schema it checks that ``summary`` counts the
    changes per kind.
    """
    errors: list[str] = []
    _check(data, REPORT_JSON_SCHEMA, "$", errors)
    if not errors:
        counts = dict.fromkeys(KINDS, 0)
        for c in data["changes"]:
            counts[c["kind"]] += 1
        if counts != data["summary"]:
            errors.append(f"$.summary: {data['summary']} does not count the changes {counts}")
    return errors
