"""The web console in a real browser (headless Debian Chromium through Playwright) against a real
`sharebackup serve`: log in, back up a share and watch the progress reach 100%, browse into
the backup and download a file, restore one folder, make a policy and see its first run; a
second project sees none of it; the admin sees the job queue, the workers and the repository
statistics. SHAREBACKUP_SCREENSHOTS=docs/console makes the pictures of docs/console.md."""
from __future__ import annotations

import re
import shutil
import time

import pytest

from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.slow(seconds=60)


@pytest.fixture(scope="module")
def alpha(console):
    """alice's share with a few files, the same for every test of the module."""
    share_id, root = console.share(console.alice, "projects")
    (root / "reports").mkdir()
    (root / "reports" / "q3.txt").write_text("quarter three\n")
    (root / "reports" / "q4.txt").write_text("quarter four\n")
    (root / "photo.bin").write_bytes(bytes(range(256)) * 400)
    return share_id, root


def test_log_in_back_up_and_watch_the_progress_reach_100(browser, console, alpha):
    share_id, _ = alpha
    context, page = login(browser, console, console.alice)
    screenshot(page, "shares")
    row = page.locator("tr", has=page.get_by_text("projects", exact=True))
    row.get_by_label(re.compile("Backup name for")).fill("from-the-console")
    row.get_by_role("button", name="Back up now").click()
    page.wait_for_url("**/console/backups?created=*")
    backup_row = page.locator("tr", has=page.get_by_text("from-the-console"))
    backup_row.locator("[data-field=progress]").filter(has_text="100%").wait_for(timeout=60_000)
    page.wait_for_load_state()
    page.locator("tr", has=page.get_by_text("from-the-console")).locator(".status", has_text="available").wait_for()
    screenshot(page, "backups")
    page.goto(console.url + "/console/shares")
    assert "from-the-console" in page.locator("tr", has=page.get_by_text("projects", exact=True)).inner_text()
    context.close()


def test_browse_download_and_restore_one_folder(browser, console, alpha, tmp_path):
    share_id, root = alpha
    backup_id = console.backup(console.alice, share_id, "nightly-copy")
    context, page = login(browser, console, console.alice)
    page.goto(f"{console.url}/console/backups/{backup_id}")
    page.get_by_role("link", name="reports/").click()
    page.wait_for_url(re.compile(r".*path=(/|%2F)reports"))
    screenshot(page, "backup-files")
    with page.expect_download() as download:
        page.get_by_role("link", name="q3.txt").click()
    saved = tmp_path / "q3.txt"
    download.value.save_as(saved)
    assert saved.read_bytes() == b"quarter three\n"
    # lose the folder, then put it back from the backup
    shutil.rmtree(root / "reports")
    (root / "photo.bin").write_bytes(b"changed after the backup")
    page.get_by_role("link", name="(root)").click()
    page.get_by_label("select reports").check()
    page.get_by_role("button", name=re.compile("Restore selected")).click()
    page.wait_for_url("**/console/backups?notice=*")
    deadline = time.monotonic() + 60
    while not (root / "reports" / "q4.txt").exists():
        assert time.monotonic() < deadline, "the folder did not come back"
        time.sleep(0.2)
    page.locator(f"tr[data-backup-id='{backup_id}'] .status", has_text="available").wait_for(timeout=60_000)
    assert (root / "reports" / "q3.txt").read_text() == "quarter three\n"
    assert (root / "photo.bin").read_bytes() == b"changed after the backup"  # not selected: untouched
    context.close()


def test_create_a_policy_and_see_its_first_run(browser, console, alpha):
    context, page = login(browser, console, console.alice)
    page.goto(console.url + "/console/policies")
    page.get_by_label("Name").fill("every-five-seconds")
    page.get_by_label(re.compile("^Schedule")).fill("PT5S")
    page.get_by_label("Keep last").fill("2")
    page.get_by_label("Keep daily").fill("")
    page.get_by_label("Keep weekly").fill("")
    page.get_by_role("button", name="Create policy").click()
    page.wait_for_url("**/console/policies/*")
    page.get_by_label("Attach share").select_option(label="projects")
    page.get_by_role("button", name="Attach", exact=True).click()
    page.wait_for_url("**notice=Share+attached*")
    deadline = time.monotonic() + 60
    while "backup_created" not in page.locator("main").inner_text():
        assert time.monotonic() < deadline, "no run within 60 s"
        time.sleep(1)
        page.reload()
    screenshot(page, "policy")
    page.goto(console.url + "/console/shares")
    assert "protected by policy: every-five-seconds" in page.inner_text("main")
    # stop it again: the other tests count backups
    page.goto(console.url + "/console/policies")
    page.get_by_role("link", name="every-five-seconds").click()
    page.get_by_role("button", name=re.compile("Delete policy")).click()
    page.wait_for_url("**/console/policies?notice=*")
    context.close()


def test_a_second_project_sees_nothing_of_the_first(browser, console, alpha):
    share_id, _ = alpha
    backup_id = console.backup(console.alice, share_id, "alpha-only")
    context, page = login(browser, console, console.bob)
    for where in ("shares", "backups", "policies", "messages"):
        page.goto(f"{console.url}/console/{where}")
        text = page.inner_text("main")
        assert "projects" not in text and "alpha-only" not in text and share_id not in text, where
    answer = page.goto(f"{console.url}/console/backups/{backup_id}")
    assert answer.status == 404 and "alpha-only" not in page.content()
    assert page.goto(f"{console.url}/console/admin/jobs").status == 403
    context.close()


def test_the_admin_sees_the_queue_the_workers_and_the_repositories(browser, console, alpha):
    console.backup(console.alice, alpha[0], "for-the-statistics")  # whatever ran before: a repository with data
    context, page = login(browser, console, console.admin)
    page.get_by_role("link", name="Jobs").click()
    page.get_by_role("heading", name="Workers").wait_for()
    assert "alive" in page.inner_text("main")
    screenshot(page, "admin-jobs")
    page.get_by_role("link", name="Repositories").click()
    table = page.locator("table").inner_text()
    assert "default" in table and re.search(r"\d+(\.\d+)? (KiB|MiB|B)", table)
    screenshot(page, "admin-repositories")
    page.get_by_role("link", name="Activity").click()
    assert page.locator("svg[role=img]").count() == 1
    screenshot(page, "admin-activity")
    context.close()


def test_keyboard_only_login(browser, console):
    context = browser.new_context()
    page = context.new_page()
    page.goto(console.url + "/console/login")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    page.keyboard.type(console.alice)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/shares")
    context.close()
