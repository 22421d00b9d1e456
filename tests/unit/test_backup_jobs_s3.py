"""A named repository in S3: `[backup] repositories = offsite=s3://...` used by a backup job (moto server)."""
from __future__ import annotations

import uuid
from dataclasses import replace

import boto3

from sharebackup.db.models import ShareBackup
from sharebackup.workflows import backup_repository
from tests.conftest import make_runtime
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, make_bucket, moto_server, s3_url
from tests.unit.test_backup_jobs import _create, _get, _share, share_dir  # noqa: F401 - share_dir is a fixture


def test_backup_job_lands_in_an_s3_repository(tmp_path, share_dir):  # noqa: F811
    prefix = "offsite-" + uuid.uuid4().hex
    with moto_server() as endpoint:
        make_bucket(endpoint, "backups")
        rt = make_runtime(tmp_path / "state")
        try:
            rt.config = replace(rt.config, backup=replace(
                rt.config.backup, repositories=[f"offsite={s3_url(endpoint, 'backups', prefix)}"]))
            share_id = _share(rt, share_dir)
            backup_id = _create(rt, share_id, backup_options={"backup_type": "offsite"})
            backup = _get(rt, ShareBackup, backup_id)
            assert (backup.status, backup.repository) == ("available", "offsite")
            assert not (tmp_path / "state" / "repository" / "config").exists()

            client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                                  aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
            keys = [o["Key"] for o in client.list_objects_v2(Bucket="backups", Prefix=prefix + "/")["Contents"]]
            assert f"{prefix}/config" in keys
            assert any(k.startswith(f"{prefix}/data/") for k in keys)
            assert any(k.startswith(f"{prefix}/snapshots/") for k in keys)
            repo = backup_repository.open_repository(rt.config, "offsite")
            assert repo.load_snapshot(backup.engine_snapshot_id)["tags"] == [backup_id]
        finally:
            rt.db.dispose()


def test_two_hosts_creating_the_s3_repository_at_once_share_one(tmp_path, monkeypatch):
    """No init lock spans hosts: a worker that finds the repository created between its look and
    its own init (the other host won) opens the winner's repository instead of failing the job."""
    from sharebackup import engine

    prefix = "race-" + uuid.uuid4().hex
    key_file = tmp_path / "key"
    key_file.write_bytes(b"a passphrase\n")
    with moto_server() as endpoint:
        make_bucket(endpoint, "backups")
        rt = make_runtime(tmp_path / "state")
        try:
            url = s3_url(endpoint, "backups", prefix)
            rt.config = replace(rt.config, backup=replace(
                rt.config.backup, repositories=[f"offsite={url}"], key_file=str(key_file)))
            real_init = engine.Repository.init
            winner = {}

            def init_losing_the_race(store, **kwargs):
                winner["repo"] = real_init(engine.open_store(url), **kwargs)  # the other host, first
                return real_init(store, **kwargs)

            monkeypatch.setattr(engine.Repository, "init", init_losing_the_race)
            repo = backup_repository.open_repository(rt.config, "offsite")
            assert repo.master == winner["repo"].master and repo.config["id"] == winner["repo"].config["id"]
            assert len(list(repo.store.list("keys/"))) == 1
        finally:
            rt.db.dispose()
