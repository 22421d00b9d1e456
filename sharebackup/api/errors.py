"""The one place where a domain error (core/errors.py) becomes Manila's fault."""
from __future__ import annotations

from sharebackup.core import errors
from sharebackup.faults import Fault, over_limit

_STATUS = {errors.NotFound: 404, errors.Invalid: 400, errors.Conflict: 409, errors.Forbidden: 403,
           errors.Unsupported: 422}


def fault_for(error: errors.DomainError) -> Fault:
    if isinstance(error, (errors.OverQuota, errors.SizeLimitExceeded)):
        return over_limit(error.message)  # 413 with Retry-After, as Manila's OverQuota faults
    for kind, code in _STATUS.items():
        if isinstance(error, kind):
            return Fault(code, error.message)
    return Fault(400, error.message)
