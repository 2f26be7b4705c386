"""Errors of the storage layer. Messages are written for the person using the app."""

from __future__ import annotations

__all__ = [
    "StorageError",
    "StorageUnavailableError",
    "NotFoundError",
    "UploadTooLargeError",
    "MigrationError",
]


class StorageError(Exception):
    """Base class: something about stored data went wrong; ``str(error)`` can be shown to the user."""


class StorageUnavailableError(StorageError):
    """The database cannot be reached (or has no free connection) right now."""

    def __init__(self, message: str = "The database is not reachable right now. Please try again in a "
                 "moment.") -> None:
        super().__init__(message)


class NotFoundError(StorageError):
    """The object does not exist, or belongs to another user (never revealed)."""

    def __init__(self, what: str = "item", ident: object = None) -> None:
        suffix = f" {ident}" if ident is not None else ""
        super().__init__(f"There is no {what}{suffix} in your workspace.")
        self.what = what
        self.ident = ident


class UploadTooLargeError(StorageError):
    """The uploaded file is larger than ``settings.max_upload_mb``."""

    def __init__(self, size_bytes: int, limit_bytes: int) -> None:
        super().__init__(f"The file is {size_bytes / 1048576:.1f} MB; the limit is "
                         f"{limit_bytes / 1048576:.0f} MB.")
        self.size_bytes = size_bytes
        self.limit_bytes = limit_bytes


class MigrationError(StorageError):
    """The schema cannot be brought up to date; the message says why and what to do."""
