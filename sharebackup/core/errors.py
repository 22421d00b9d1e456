"""Named domain errors: what services and workflows raise when a request cannot be done.

They say what went wrong, never an HTTP status: the API maps each class to Manila's fault
(code, body, headers) in one place (api/errors.py), and a worker that meets one logs or
records it without knowing HTTP exists. ``message`` is the text a caller sees.
"""
from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    default = "There is a problem with the request."

    def __init__(self, message: str | None = None):
        self.message = message or self.default
        super().__init__(self.message)


class NotFound(DomainError):
    """The resource does not exist, or the caller may not know that it does."""
    default = "The resource could not be found."


class Invalid(DomainError):
    """The request is malformed or not valid for the resource as it is."""
    default = "The server could not comply with the request since it is either malformed or otherwise incorrect."


class Conflict(DomainError):
    """The resource is in a state that forbids the request (a name taken, a newer snapshot)."""
    default = "There is a conflict with the current state of the resource."


class Forbidden(DomainError):
    """The caller may not do this to this resource."""
    default = "Access was denied to this resource."


class Unsupported(DomainError):
    """Well-formed, but the resource cannot do it (Manila's 422: no snapshot support)."""
    default = "Unable to process the contained instructions"


class OverQuota(DomainError):
    """A quota would be exceeded: ``resource`` (shares, gigabytes, ...) has ``limit``, ``used``
    is counted already and ``requested`` more was asked for. ``message`` is Manila's text with
    its exception name ("ShareSizeExceedsAvailableQuota: ..."); ``reason`` the text alone
    (what Manila's extend and revert show, as a 403)."""

    def __init__(self, message: str, resource: str, limit: int, used: int, requested: int, reason: str = ""):
        super().__init__(message)
        self.resource, self.limit, self.used, self.requested = resource, limit, used, requested
        self.reason = reason or message


class SizeLimitExceeded(DomainError):
    """One share would be larger than per_share_gigabytes allows."""
