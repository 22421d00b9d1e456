"""A small HTTP client for /sharebackup/v1 on the keystoneauth session the `openstack` CLI built.

Every request carries the CLI's token (the session's auth plugin adds X-Auth-Token). A non-2xx
answer becomes an HttpError, a CommandError whose text is the message of the server's Manila-style
fault body ({"badRequest": {"code": 400, "message": "..."}}), so the CLI prints it and exits 1.
Names of backups and shares are looked up in Manila's API (its endpoint given by the caller), as
manilaclient looks them up; a file's content is streamed to its destination a chunk at a time.
"""
from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import requests
from keystoneauth1 import exceptions as ksa_exceptions
from osc_lib import exceptions

POLICIES = "backup-policies"
BACKUPS = "share-backups"
MANILA_VERSION_HEADER = "X-OpenStack-Manila-API-Version"
MANILA_VERSION = "2.80"  # the first with share backups
CHUNK = 256 * 1024  # bytes a download reads and writes at a time


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
    def send(self, url: str, method: str, *, headers=None, **kwargs):
        """The response of a 2xx answer from the absolute `url`; HttpError for 4xx/5xx."""
        headers = {"Accept": "application/json", **(headers or {})}
        try:
            response = self.session.request(url, method, headers=headers, raise_exc=False, **kwargs)
        except ksa_exceptions.ConnectionError as exc:
            raise exceptions.CommandError(f"Unable to reach the sharebackup API: {exc}") from None
        if response.status_code >= 400:  # a streamed answer too: reading its small fault body releases it
            raise HttpError(response.status_code, fault_message(response.status_code, _json(response)))
        return response

    def request(self, method: str, path: str, *, body=None, params=None):
        """The parsed JSON answer (None for an empty one); HttpError for 4xx/5xx."""
        kwargs = {}
        if body is not None:
            kwargs["json"] = body
        if params:
            kwargs["params"] = params
        response = self.send(f"{self.endpoint}/{path.lstrip('/')}", method, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return _json(response)

    def download(self, path: str, open_out, *, params=None, chunk_size: int = CHUNK) -> int:
        """GET `path` streamed into the binary file of the context manager `open_out()`, a chunk at a
        time (never the whole body in memory); the bytes written. `open_out` is called only once the
        server answered 2xx, so an error answer leaves no file behind."""
        response = self.send(f"{self.endpoint}/{path.lstrip('/')}", "GET", params=params, stream=True,
                             headers={"Accept": "application/octet-stream, application/json"})
        written = 0
        with response, open_out() as out:
            try:
                for chunk in response.iter_content(chunk_size):
                    out.write(chunk)
                    written += len(chunk)
            except requests.exceptions.RequestException as exc:
                raise exceptions.CommandError(f"The download broke off after {written} bytes: {exc}") from None
            expected = response.headers.get("Content-Length", "")
            if expected.isdigit() and not response.headers.get("Content-Encoding") and int(expected) != written:
                raise exceptions.CommandError(f"The download broke off after {written} of {expected} bytes.")
        return written

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

    # -- Manila's API: names of backups and shares --
    def manila_get(self, manila_endpoint: str, path: str, *, params=None) -> dict:
        """GET <Manila's endpoint>/path at microversion 2.80 (share backups): the parsed answer."""
        url = f"{manila_endpoint.rstrip('/')}/{path.lstrip('/')}"
        response = self.send(url, "GET", params=params, headers={MANILA_VERSION_HEADER: MANILA_VERSION})
        return _json(response) or {}

    def _named(self, manila_endpoint, collection: str, key: str, name: str, what: str) -> dict:
        """The one item of Manila's `collection` whose name is exactly `name` (CommandError if none or several)."""
        items = self.manila_get(manila_endpoint(), collection, params={"name": name}).get(key) or []
        matches = [item for item in items if item.get("name") == name]
        if not matches:
            raise exceptions.CommandError(f"No {what} with a name or ID of '{name}' exists.")
        if len(matches) > 1:
            raise exceptions.CommandError(f"More than one {what} exists with the name '{name}'; use its ID.")
        return matches[0]

    def get_backup(self, backup_id: str) -> dict:
        return self.request("GET", f"{BACKUPS}/{quote(backup_id, safe='')}")["share_backup"]

    def find_backup(self, name_or_id: str, manila_endpoint) -> dict:
        """The backup whose ID, else whose exact name (looked up in Manila's list at the URL the
        callable `manila_endpoint` gives), is `name_or_id`."""
        try:
            return self.get_backup(name_or_id)
        except HttpError as exc:
            if exc.status != 404:
                raise
        return self.get_backup(self._named(manila_endpoint, BACKUPS, "share_backups", name_or_id, "share backup")["id"])

    def find_share_id(self, name_or_id: str, manila_endpoint) -> str:
        """The ID of the share whose ID, else whose exact name, is `name_or_id` (Manila's API)."""
        try:
            return self.manila_get(manila_endpoint(), f"shares/{quote(name_or_id, safe='')}")["share"]["id"]
        except HttpError as exc:
            if exc.status != 404:
                raise
        return self._named(manila_endpoint, "shares", "shares", name_or_id, "share")["id"]

    # -- a backup's files --
    def list_files(self, backup_id: str, path: str = "/", *, limit=None) -> list[dict]:
        return self.collect(f"{BACKUPS}/{quote(backup_id, safe='')}/files", "files", params={"path": path},
                            limit=limit)

    def stat_file(self, backup_id: str, path: str) -> dict:
        return self.request("GET", f"{BACKUPS}/{quote(backup_id, safe='')}/files/stat", params={"path": path})["file"]

    def download_file(self, backup_id: str, path: str, open_out) -> int:
        return self.download(f"{BACKUPS}/{quote(backup_id, safe='')}/content", open_out, params={"path": path})

    def restore_files(self, backup_id: str, restore: dict) -> dict:
        answer = self.request("POST", f"{BACKUPS}/{quote(backup_id, safe='')}/restore", body={"restore": restore})
        return answer["restore"]
