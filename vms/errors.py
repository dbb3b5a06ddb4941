"""One root error with a kind; adapters translate library errors into it once.

User-facing text is French (see ``vms.messages``); the kind decides the HTTP status
in the web layer. Errors are picklable so they can cross worker processes.
"""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    NOT_FOUND = "not_found"
    INVALID_ARGUMENT = "invalid_argument"
    FAILED_PRECONDITION = "failed_precondition"
    UNAVAILABLE = "unavailable"
    PERMISSION_DENIED = "permission_denied"
    UNAUTHENTICATED = "unauthenticated"
    TOO_MANY_REQUESTS = "too_many_requests"
    INTERNAL = "internal"


class VmsError(Exception):
    """Root error. ``message`` is French text fit for a user; ``detail`` is for logs."""

    def __init__(self, kind: ErrorKind, message: str, detail: str = "") -> None:
        super().__init__(kind, message, detail)
        self.kind = kind
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


def invalid(message: str, detail: str = "") -> VmsError:
    return VmsError(ErrorKind.INVALID_ARGUMENT, message, detail)


def unavailable(message: str, detail: str = "") -> VmsError:
    return VmsError(ErrorKind.UNAVAILABLE, message, detail)


def not_found(message: str, detail: str = "") -> VmsError:
    return VmsError(ErrorKind.NOT_FOUND, message, detail)


def precondition(message: str, detail: str = "") -> VmsError:
    return VmsError(ErrorKind.FAILED_PRECONDITION, message, detail)


def denied(message: str, detail: str = "") -> VmsError:
    return VmsError(ErrorKind.PERMISSION_DENIED, message, detail)


def unauthenticated(message: str, detail: str = "") -> VmsError:
    return VmsError(ErrorKind.UNAUTHENTICATED, message, detail)


def throttled(message: str, detail: str = "") -> VmsError:
    return VmsError(ErrorKind.TOO_MANY_REQUESTS, message, detail)
