"""Browser tests: Playwright (PyPI) driving Debian's headless Chromium (/usr/bin/chromium; no
browser is ever downloaded) against a real `sharebackup serve` process.

Where Chromium or Playwright is missing the tests skip with the reason; with CI=true that skip
is a failure (.ci/run installs Debian's chromium package).
"""
from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.server_process import ServerProcess

CHROMIUM = os.environ.get("SHAREBACKUP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("SHAREBACKUP_SCREENSHOTS")  # a directory: write each page's picture there


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests, but: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


class Console:
    """The server, its tokens, and plain HTTP calls for setting things up."""

    def __init__(self, server: ServerProcess):
        self.server = server
        self.url = f"http://127.0.0.1:{server.port}"
        self.admin = server.admin_token
        self.alice = server.create_token("alpha", "alice", ("member",))
        self.bob = server.create_token("beta", "bob", ("member",))

    def call(self, token: str, method: str, path: str, body=None):
        request = urllib.request.Request(self.url + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"X-Auth-Token": token, "Content-Type": "application/json",
                                                  "X-OpenStack-Manila-API-Version": "2.91"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            text = answer.read()
        return json.loads(text) if text else None

    def share(self, token: str, name: str, description: str | None = None) -> tuple[str, Path]:
        share = self.call(token, "POST", "/v2/shares", {"share": {"share_proto": "NFS", "size": 1, "name": name,
                                                                  "description": description}})["share"]
        deadline = time.monotonic() + 30
        while self.call(token, "GET", f"/v2/shares/{share['id']}")["share"]["status"] != "available":
            assert time.monotonic() < deadline, "the share never became available"
            time.sleep(0.1)
        path = self.call(token, "GET", f"/v2/shares/{share['id']}/export_locations")["export_locations"][0]["path"]
        return share["id"], Path(path)

    def backup(self, token: str, share_id: str, name: str, description: str | None = None) -> str:
        backup = self.call(token, "POST", "/v2/share-backups", {"share_backup": {
            "share_id": share_id, "name": name, "description": description}})["share_backup"]
        deadline = time.monotonic() + 60
        while (status := self.call(token, "GET", f"/v2/share-backups/{backup['id']}")["share_backup"]["status"]) \
                != "available":
            assert status != "error" and time.monotonic() < deadline, status
            time.sleep(0.1)
        return backup["id"]


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    env = {"SHAREBACKUP_POLICIES__MIN_INTERVAL_SECONDS": "5", "SHAREBACKUP_POLICIES__SCHEDULER_TICK_SECONDS": "1"}
    with ServerProcess(tmp_path_factory.mktemp("console") / "state", auth="tokens", env=env) as server:
        yield Console(server)


def login(browser, console: Console, token: str):
    """A new browser context (its own cookies), logged in with ``token`` through the form."""
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(console.url + "/console/")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console/shares")
    return context, page


def screenshot(page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)
