"""What a refusal from a service (a domain error) or from a schema (an API Fault) answers a
client: tests that call them directly check the status through the API's own mapping."""
from __future__ import annotations

from sharebackup.api.errors import fault_for
from sharebackup.core.errors import DomainError
from sharebackup.faults import Fault

REFUSED = (Fault, DomainError)


def status(refusal) -> int:
    return refusal.code if isinstance(refusal, Fault) else fault_for(refusal).code
