"""A small HTTP client for /sharebackup/v1 on the keystoneauth session the `openstack` CLI built.

Every request carries the CLI's token (the session's auth plugin adds X-Auth-Token). A non-2xx
answer becomes an HttpError, a CommandError whose text is the message of the server's Manila-style
fault body ({"badRequest": {"code": 400, "message": "..."}}), so the CLI prints it and exits 1.
"""
from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

from keystoneauth1 import exceptions as ksa_exceptions
from osc_lib import exceptions

POLICIES = "backup-policies"


class HttpError(exceptions.CommandError):
    """An error answer of the service: `status` is its HTTP code, str() the server's message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def fault_message(status: int, body) -> str:
    """The message of a Manila fault body ({"itemNotFound": {"code": 404, "message": "..."}})."""
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, dict) and value.get("message"):
                return str(value["message"])
        if body.get("message"):
            return str(body["message"])
    return f"The sharebackup API answered HTTP {status}."


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None


def next_marker(links) -> str | None:
    """The marker of a list's `rel: next` link, or None on the last page."""
    for link in links or ():
        if isinstance(link, dict) and link.get("rel") == "next" and link.get("href"):
            markers = parse_qs(urlsplit(link["href"]).query).get("marker")
            if markers:
                return markers[-1]
    return None


class Client:
    """/sharebackup/v1 at `endpoint` (e.g. http://host:8786/sharebackup/v1) over `session`."""

    def __init__(self, session, endpoint: str):
        self.session = session
        self.endpoint = endpoint.rstrip("/")

    # -- transport --
    def request(self, method: str, path: str, *, body=None, params=None):
        """The parsed JSON answer (None for an empty one); HttpError for 4xx/5xx."""
        url = f"{self.endpoint}/{path.lstrip('/')}"
        kwargs = {"headers": {"Accept": "application/json"}, "raise_exc": False}
        if body is not None:
            kwargs["json"] = body
        if params:
            kwargs["params"] = params
        try:
            response = self.session.request(url, method, **kwargs)
        except ksa_exceptions.ConnectionError as exc:
            raise exceptions.CommandError(f"Unable to reach the sharebackup API: {exc}") from None
        if response.status_code >= 400:
            raise HttpError(response.status_code, fault_message(response.status_code, _json(response)))
        if response.status_code == 204 or not response.content:
            return None
        return _json(response)

    def collect(self, path: str, key: str, *, params=None, limit=None, marker=None) -> list[dict]:
        """One page of at most `limit` items, or (no limit) every page from `marker` on."""
        params = dict(params or {})
        if limit is not None:
            params["limit"] = limit
        items: list[dict] = []
        seen = set()
        while True:
            if marker:
                params["marker"] = marker
            page = self.request("GET", path, params=dict(params)) or {}
            items.extend(page.get(key) or [])
            marker = None if limit is not None else next_marker(page.get(f"{key}_links"))
            if not marker or marker in seen:
                return items
            seen.add(marker)

    # -- backup policies --
    def list_policies(self, *, all_projects=False, limit=None, marker=None, detailed=True) -> list[dict]:
        params = {"all_tenants": 1} if all_projects else {}
        path = f"{POLICIES}/detail" if detailed else POLICIES
        return self.collect(path, "backup_policies", params=params, limit=limit, marker=marker)

    def get_policy(self, policy_id: str) -> dict:
        return self.request("GET", f"{POLICIES}/{quote(policy_id, safe='')}")["backup_policy"]

    def create_policy(self, values: dict) -> dict:
        return self.request("POST", POLICIES, body={"backup_policy": values})["backup_policy"]

    def update_policy(self, policy_id: str, changes: dict) -> dict:
        answer = self.request("PUT", f"{POLICIES}/{quote(policy_id, safe='')}", body={"backup_policy": changes})
        return answer["backup_policy"]

    def delete_policy(self, policy_id: str) -> None:
        self.request("DELETE", f"{POLICIES}/{quote(policy_id, safe='')}")

    def add_share(self, policy_id: str, share_id: str) -> dict:
        answer = self.request("POST", f"{POLICIES}/{quote(policy_id, safe='')}/shares", body={"share_id": share_id})
        return answer["backup_policy"]

    def remove_share(self, policy_id: str, share_id: str) -> None:
        self.request("DELETE", f"{POLICIES}/{quote(policy_id, safe='')}/shares/{quote(share_id, safe='')}")

    def list_runs(self, policy_id: str, *, limit=None, marker=None) -> list[dict]:
        return self.collect(f"{POLICIES}/{quote(policy_id, safe='')}/runs", "backup_policy_runs",
                            limit=limit, marker=marker)

    def find_policy(self, name_or_id: str) -> dict:
        """The policy whose id, else whose exact name, is `name_or_id` (CommandError if none or several)."""
        policies = self.list_policies(detailed=False)
        matches = [p for p in policies if p.get("id") == name_or_id]
        if not matches:
            matches = [p for p in policies if p.get("name") == name_or_id]
        if len(matches) > 1:
            raise exceptions.CommandError(f"More than one backup policy exists with the name '{name_or_id}'; "
                                          "use its ID.")
        try:
            # the list shows only the caller's project: an admin may still name another's by ID
            return self.get_policy(matches[0]["id"] if matches else name_or_id)
        except HttpError as exc:
            if exc.status == 404:
                raise exceptions.CommandError(
                    f"No backup policy with a name or ID of '{name_or_id}' exists.") from None
            raise
