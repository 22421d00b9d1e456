"""The console's security in a real browser: a forged cross-site POST changes nothing, the
session cookie is HttpOnly, SameSite=Strict and scoped to /console, a revoked token ends the
session, logout ends it too, and HTML in share, backup and file names and descriptions is
shown as text on every page (a stored-XSS attempt in each)."""
from __future__ import annotations

import subprocess
import urllib.error
import urllib.request

import pytest

from tests.browser.conftest import login
from tests.integration.server_process import isolated_env, sharebackup_command

pytestmark = pytest.mark.slow(seconds=30)

XSS = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">"


def _policies(console, token) -> list[str]:
    return [p["name"] for p in console.call(token, "GET", "/sharebackup/v1/backup-policies")["backup_policies"]]


def test_the_cookie_is_httponly_strict_and_scoped(browser, console):
    context, _ = login(browser, console, console.alice)
    (cookie,) = [c for c in context.cookies() if c["name"] == "sharebackup_console"]
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Strict", "/console")
    context.close()


def test_a_forged_cross_site_post_changes_nothing(browser, console):
    context, page = login(browser, console, console.alice)
    # another site's page, in the same browser, posts a form to the console
    attacker = context.new_page()
    attacker.set_content(f"""<form id=f method=post action="{console.url}/console/policies">
      <input name=name value=forged><input name=schedule value="0 2 * * *"><input name=keep_daily value=7>
      </form><script>document.getElementById('f').submit()</script>""")
    attacker.wait_for_load_state()
    attacker.wait_for_timeout(500)
    assert "forged" not in _policies(console, console.alice)
    # the same POST with the cookie but without the form's CSRF token: 403, nothing made
    cookie = [c for c in context.cookies() if c["name"] == "sharebackup_console"][0]["value"]
    request = urllib.request.Request(f"{console.url}/console/policies", method="POST",
                                     data=b"name=forged2&schedule=0+2+*+*+*&keep_daily=7",
                                     headers={"Cookie": f"sharebackup_console={cookie}",
                                              "Content-Type": "application/x-www-form-urlencoded"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 403
    assert "forged2" not in _policies(console, console.alice)
    context.close()


def test_a_revoked_token_ends_the_session_and_logout_works(browser, console):
    token = console.server.create_token("alpha", "carol", ("member",))
    context, page = login(browser, console, token)
    revoked = subprocess.run(sharebackup_command() + ["token", "revoke", "--state-dir", str(console.server.state_dir),
                                                      token], env=isolated_env(console.server.home),
                             capture_output=True, text=True, timeout=60)
    assert revoked.returncode == 0, revoked.stderr
    page.goto(console.url + "/console/backups")
    page.wait_for_url("**/console/login?ended=1")
    assert "session ended" in page.inner_text("main")
    assert not [c for c in context.cookies() if c["name"] == "sharebackup_console" and c["value"]]
    context.close()
    context, page = login(browser, console, console.alice)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/console/login")
    page.goto(console.url + "/console/shares")
    page.wait_for_url("**/console/login?next=*")
    context.close()


def test_html_in_names_descriptions_and_file_names_is_escaped_everywhere(browser, console):
    share_id, root = console.share(console.alice, "xss" + XSS, description="d" + XSS)
    (root / f"f{XSS.replace('/', '_')}.txt").write_text("x")
    backup_id = console.backup(console.alice, share_id, "b" + XSS, description="bd" + XSS)
    context, page = login(browser, console, console.alice)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for where in ("/console/shares", "/console/backups", f"/console/backups/{backup_id}", "/console/messages"):
        page.goto(console.url + where)
        assert page.evaluate("window.__xss") is None, where
        assert page.locator("main script").count() == 0 and page.locator("main img").count() == 0, where
    page.goto(console.url + f"/console/backups/{backup_id}")
    assert "<script>window.__xss = 1</script>" in page.inner_text("main")
    assert dialogs == []
    context.close()
