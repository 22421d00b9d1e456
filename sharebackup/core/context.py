"""Who is calling: the request context every auth strategy builds."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


@dataclass
class RequestContext:
    user_id: str
    project_id: str
    roles: list[str] = field(default_factory=list)
    is_admin: bool = False
    request_id: str = field(default_factory=new_request_id)
    auth_token: str | None = None

    def to_policy_creds(self) -> dict:
        return {"user_id": self.user_id, "project_id": self.project_id, "roles": list(self.roles),
                "is_admin": self.is_admin}

    @classmethod
    def admin(cls, project_id: str = "admin") -> "RequestContext":
        """An internal admin context (workers, command line)."""
        return cls(user_id="sharebackup", project_id=project_id, roles=["admin", "member", "reader"],
                   is_admin=True)
