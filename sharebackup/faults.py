"""Manila's fault bodies: {"<faultName>": {"code": N, "message": "..."}}.

Every error a client can see is raised as a Fault (or mapped to one), so the body, the
status and the headers are decided here and nowhere else. It lives outside api/ because the
services raise it too, and services must not import the HTTP layer.
"""
from __future__ import annotations

FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    416: "requestedRangeNotSatisfiable",
    501: "notImplemented",
    503: "serviceUnavailable",
}

DEFAULT_MESSAGES = {
    400: "The server could not comply with the request since it is either malformed or otherwise incorrect.",
    401: "This server could not verify that you are authorized to access the document you requested.",
    403: "Access was denied to this resource.",
    404: "The resource could not be found.",
    405: "The method specified is not allowed for this resource.",
    406: "The requested content type is not acceptable.",
    409: "There is a conflict with the current state of the resource.",
    413: "Request is too large.",
    415: "Unsupported Content-Type",
    416: "The requested range is not satisfiable.",
    422: "Unable to process the contained instructions",
    500: "The server has either erred or is incapable of performing the requested operation.",
}


def fault_name(code: int) -> str:
    return FAULT_NAMES.get(code, "computeFault")


class Fault(Exception):
    """An HTTP error with Manila's body. Raise it from any layer below the handlers' caller."""

    def __init__(self, code: int, message: str | None = None, headers: dict | None = None):
        self.code = code
        self.message = message or DEFAULT_MESSAGES.get(code, DEFAULT_MESSAGES[500])
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def body(self) -> dict:
        inner = {"code": self.code, "message": self.message}
        if self.code == 413 and "Retry-After" in self.headers:
            inner["retryAfter"] = self.headers["Retry-After"]
        return {fault_name(self.code): inner}


def over_limit(message: str, retry_after: int = 0) -> Fault:
    return Fault(413, message, headers={"Retry-After": str(retry_after)})
