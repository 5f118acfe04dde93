"""The refusals a service can give, by kind, with no HTTP in them: app/errors.py holds the one
table that turns each kind into a response (JSON under /api, a page or an htmx fragment
elsewhere), and the CLI prints any of them as one `error: ...` line.

Each kind also subclasses the built-in exception it refines (LookupError, PermissionError,
ValueError), so callers that caught those before keep working."""

from typing import Any


class DomainError(Exception):
    """A refusal a user can act on; its text says what and what to do."""

    def __init__(self, message: str, **extra: Any):
        super().__init__(message)
        # More fields for the JSON body (e.g. who changed a stale row and when).
        self.extra = extra


class NotFound(DomainError, LookupError):
    """The thing the request names does not exist."""


class Forbidden(DomainError, PermissionError):
    """The user may not do this."""


class Conflict(DomainError):
    """The request clashes with the current state (a stale version, nothing to act on)."""


class Gone(DomainError):
    """The thing existed but has been removed for good."""


class Unprocessable(DomainError):
    """The request is fine, but what it names cannot be used as it stands (a stored frame
    that does not decode, frames whose files could not be read); the text names the file."""


class BadInput(DomainError, ValueError):
    """A value the user sent is not acceptable; `field` names it, `location` says where it
    came from (body, query or path), as in FastAPI's own validation errors."""

    def __init__(self, field: str, message: str, *, location: str = "body", **extra: Any):
        super().__init__(f"{field}: {message}", **extra)
        self.field, self.message, self.location = field, message, location


class TooLarge(BadInput):
    """An upload over the size limit."""
