"""Managing (adopting) directories: only under manage_allowed_roots, files never deleted."""
from __future__ import annotations

import os

import pytest

from tests.unit._share_helpers import ADMIN, Harness


@pytest.fixture
def env(tmp_path):
    root = tmp_path / "adopt"
    root.mkdir()
    harness = Harness(tmp_path / "state", manage_allowed_roots=[str(root)])
    yield harness, root, tmp_path
    harness.close()


def _manage(h, path, **extra):
    body = {"export_path": str(path), "service_host": "host@local#local", "protocol": "NFS", **extra}
    return h.client.simulate_post("/v2/shares/manage", headers=ADMIN, json={"share": body})


def test_manage_adopts_and_delete_keeps_the_files(env):
    h, root, _ = env
    data = root / "data"
    data.mkdir()
    (data / "f").write_text("x" * 10)
    result = _manage(h, data, name="adopted", share_type="default")
    assert result.status_code == 200, result.text
    share = result.json["share"]
    assert share["status"] == "manage_starting" and share["name"] == "adopted"
    share = h.wait(share["id"], "available")
    assert share["size"] == 1
    locations = h.client.simulate_get(f"/v2/shares/{share['id']}/export_locations", headers=ADMIN).json
    assert locations["export_locations"][0]["path"] == str(data.resolve())
    # the same directory cannot be managed twice, nor a directory inside or around it
    assert _manage(h, data).status_code == 409
    (data / "inner").mkdir()
    assert _manage(h, data / "inner").status_code == 409
    assert h.client.simulate_delete(f"/v2/shares/{share['id']}", headers=ADMIN).status_code == 202
    h.wait(share["id"], None)
    assert (data / "f").read_text() == "x" * 10


def test_unmanage_forgets_and_keeps_the_files(env):
    h, root, _ = env
    data = root / "data2"
    data.mkdir()
    (data / "f").write_text("keep")
    share_id = _manage(h, data).json["share"]["id"]
    h.wait(share_id, "available")
    result = h.client.simulate_post(f"/v2/shares/{share_id}/action", headers=ADMIN, json={"unmanage": None})
    assert result.status_code == 202
    assert h.share(share_id).status_code == 404
    assert (data / "f").read_text() == "keep"
    # and it can be managed again
    assert _manage(h, data).status_code == 200


def test_symlinks_and_dotdot_cannot_leave_the_root(env):
    h, root, tmp_path = env
    secret = tmp_path / "secret"
    secret.mkdir()
    os.symlink(secret, root / "link")
    assert _manage(h, root / "link").status_code == 400
    assert _manage(h, f"{root}/../secret").status_code == 400
    assert _manage(h, root).status_code == 400  # the root itself is not a share
    assert _manage(h, root / "missing").status_code == 400
    (root / "file").write_text("x")
    assert _manage(h, root / "file").status_code == 400
    result = h.client.simulate_get("/v2/shares/detail", headers=ADMIN, params={"all_tenants": "1"})
    assert result.json["shares"] == []


def test_symlink_inside_the_root_to_the_root_is_fine(env):
    h, root, _ = env
    real = root / "real"
    real.mkdir()
    os.symlink(real, root / "alias")
    result = _manage(h, root / "alias")
    assert result.status_code == 200
    share = h.wait(result.json["share"]["id"], "available")
    assert share["status"] == "available"


def test_manage_over_quota_ends_in_manage_error(env):
    from sharebackup.db.models import Quota
    h, root, _ = env
    data = root / "big"
    data.mkdir()
    with open(data / "sparse", "wb") as f:
        f.truncate(3 * 1024 ** 3)
    with h.rt.db.transaction() as session:
        session.add(Quota(project_id="admin", user_id="", resource="gigabytes", hard_limit=2))
    share_id = _manage(h, data).json["share"]["id"]
    h.wait(share_id, "manage_error")
