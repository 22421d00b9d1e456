"""`sharebackup repo check --name` records when it ran and its verdict in the service's database,
and the console's repositories page shows it ("last check")."""
from __future__ import annotations

from sqlalchemy import select

from sharebackup.cli.main import main
from sharebackup.db.models import RepositoryLease
from sharebackup.workflows import backup_repository
from tests.conftest import make_runtime
from tests.functional.api_client import client_for


def test_a_check_is_recorded_and_shown(tmp_path):
    rt = make_runtime(tmp_path / "state")
    backup_repository.open_repository(rt.config, "default")  # an empty repository
    client = client_for(rt)
    admin = {"Cookie": "sharebackup_console=admin:admin"}
    assert "never: run" in client.simulate_get("/console/admin/repositories", headers=admin).text
    try:
        main(["repo", "check", "--name", "default", "--state-dir", str(tmp_path / "state")])
    except SystemExit as done:
        assert done.code == 0
    with rt.db.reader() as session:
        row = session.scalars(select(RepositoryLease).where(RepositoryLease.name == "default")).one()
    assert row.last_check_result == "ok" and row.last_check_at is not None
    page = client.simulate_get("/console/admin/repositories", headers=admin).text
    assert "never: run" not in page and ">ok</span>" in page
