"""Private share types: the access list and the addProjectAccess/removeProjectAccess actions."""
from __future__ import annotations

from sharebackup.api import operations
from sharebackup.api.operations import Action
from sharebackup.api.schemas import share_types as schema
from sharebackup.api.views import share_types as view
from sharebackup.policies import share_types as policy
from sharebackup.services import share_types as service


def list_share_type_access(req, resp, share_type_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    resp.media = view.access_list(service.list_access(rt, ctx, share_type_id))


def add_project_access(req, resp, value, share_type_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    project = schema.access_request(value, "addProjectAccess")
    service.add_access(rt, ctx, share_type_id, project)
    resp.status = 202


def remove_project_access(req, resp, value, share_type_id, **params):
    rt, ctx = req.context.runtime, req.context.auth
    project = schema.access_request(value, "removeProjectAccess")
    service.remove_access(rt, ctx, share_type_id, project)
    resp.status = 202


share_type_action = operations.actions({
    "addProjectAccess": Action(add_project_access, policy.ADD_PROJECT_ACCESS),
    "removeProjectAccess": Action(remove_project_access, policy.REMOVE_PROJECT_ACCESS),
})
