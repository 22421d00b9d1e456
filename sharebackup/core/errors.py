"""Named domain errors: what services and workflows raise when a request cannot be done.

They carry what went wrong, never an HTTP status: the API maps each class to Manila's fault
(code, body, headers) in one place, and a worker that meets one logs or records it without
knowing HTTP exists. ``message`` is the text a caller sees.
"""
from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class NotFound(DomainError):
    """The resource does not exist, or the caller may not know that it does."""


class Invalid(DomainError):
    """The request is malformed or not valid for the resource as it is."""


class Conflict(DomainError):
    """The resource is in a state that forbids the request (a busy share, a name taken)."""


class Forbidden(DomainError):
    """The caller may not do this to this resource."""


class OverQuota(DomainError):
    """A quota would be exceeded: ``resource`` (shares, gigabytes, ...) has ``limit``, ``used``
    is counted already and ``requested`` more was asked for."""

    def __init__(self, message: str, resource: str, limit: int, used: int, requested: int):
        super().__init__(message)
        self.resource = resource
        self.limit = limit
        self.used = used
        self.requested = requested
