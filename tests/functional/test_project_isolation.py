"""Project isolation on every route: a member of another project learns nothing of a resource,
and a reader of the owning project changes nothing.

For every route and action that names a tenant's resource (share, export location, metadata
key, snapshot, backup, message), a member of project alt asks about project demo's real
resources and about ids that do not exist: the answers must be the same (a 403 for a real id
and a 404 for a made-up one would say which ids exist). A reader of demo is refused (403)
every write. Afterwards demo's resources are as they were.
"""
from __future__ import annotations

import re
import uuid

import pytest

from tests.functional.api_client import api_routes, client_for

HEADERS = {"X-OpenStack-Manila-API-Version": "2.91", "X-OpenStack-Manila-API-Experimental": "true"}
OTHER_PROJECT = {**HEADERS, "X-Auth-Token": "alt:alt"}
READER = {**HEADERS, "X-Auth-Token": "demo:demo", "X-Roles": "reader"}
RESOURCE_FIELDS = {"share_id", "snapshot_id", "backup_id", "message_id", "export_location_id", "key"}
FIELD = re.compile(r"\{(\w+)\}")


def _cases():
    for template, method, handler in api_routes():
        if not RESOURCE_FIELDS & set(FIELD.findall(template)):
            continue
        actions = getattr(handler, "actions", None)
        for body in ([{name: {}} for name in actions] if actions else
                     [{} if method in ("POST", "PUT") else None]):
            yield template, method, body


def _seed(rt) -> dict:
    from sharebackup.db.models import (Message, Share, ShareBackup, ShareExportLocation, ShareSnapshot,
                                       ShareType)
    ids = {name: str(uuid.uuid4()) for name in ("share_id", "snapshot_id", "backup_id", "message_id",
                                               "export_location_id")}
    with rt.db.transaction() as session:
        share_type = session.query(ShareType).filter_by(name=rt.config.default_share_type).one()
        session.add(Share(id=ids["share_id"], user_id="demo", project_id="demo", size=1, share_proto="NFS",
                          share_type_id=share_type.id, status="available", metadata_={"isolation-key": "v"}))
        session.flush()
        session.add(ShareExportLocation(id=ids["export_location_id"], share_id=ids["share_id"], path="/exports/x"))
        session.add(ShareSnapshot(id=ids["snapshot_id"], user_id="demo", project_id="demo",
                                  share_id=ids["share_id"], size=1, share_size=1, share_proto="NFS",
                                  status="available"))
        session.add(ShareBackup(id=ids["backup_id"], user_id="demo", project_id="demo", share_id=ids["share_id"],
                                size=1, status="available"))
        session.add(Message(id=ids["message_id"], project_id="demo", resource_type="SHARE",
                            resource_id=ids["share_id"], action_id="001", message_level="ERROR",
                            user_message="seeded"))
    return {**ids, "key": "isolation-key"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from tests.conftest import make_runtime
    rt = make_runtime(tmp_path_factory.mktemp("isolation") / "state")
    ids = _seed(rt)
    yield rt, client_for(rt), ids
    _assert_untouched(rt, ids)
    rt.db.dispose()


def _assert_untouched(rt, ids) -> None:
    from sharebackup.db.models import Message, Share, ShareBackup, ShareSnapshot
    with rt.db.reader() as session:
        share = session.get(Share, ids["share_id"])
        assert (share.status, share.deleted, share.metadata_, share.size) == ("available", False, {"isolation-key": "v"}, 1)
        assert session.get(ShareSnapshot, ids["snapshot_id"]).status == "available"
        assert session.get(ShareBackup, ids["backup_id"]).status == "available"
        assert not session.get(Message, ids["message_id"]).deleted


def _path(template: str, ids: dict) -> str:
    return FIELD.sub(lambda m: ids.get(m.group(1), "demo" if m.group(1) == "project_id" else "x"), template)


def _made_up(ids: dict) -> dict:
    return {name: ("nokey" if name == "key" else str(uuid.uuid4())) for name in ids}


def _send(client, method, path, headers, body):
    return client.simulate_request(method, path, headers=headers, **({} if body is None else {"json": body}))


def _message(result, ids: dict) -> str:
    text = result.text
    for name, value in ids.items():
        text = text.replace(value, f"<{name}>")
    return text


@pytest.mark.parametrize("template,method,body", list(_cases()), ids=lambda v: str(v).replace(":", "="))
def test_another_project_cannot_tell_a_real_resource_from_none(world, template, method, body):
    rt, client, ids = world
    fake = _made_up(ids)
    real = _send(client, method, _path(template, ids), OTHER_PROJECT, body)
    none = _send(client, method, _path(template, fake), OTHER_PROJECT, body)
    assert 400 <= real.status_code < 500, f"{method} {template} {body}: {real.status_code} {real.text}"
    assert (real.status_code, _message(real, ids)) == (none.status_code, _message(none, fake)), \
        f"{method} {template} {body}: a real id answers {real.status_code} {real.text}, a made-up one " \
        f"{none.status_code} {none.text}"


@pytest.mark.parametrize("template,method,body", [c for c in _cases() if c[1] in ("POST", "PUT", "DELETE")],
                         ids=lambda v: str(v).replace(":", "="))
def test_a_reader_of_the_owning_project_cannot_write(world, template, method, body):
    rt, client, ids = world
    result = _send(client, method, _path(template, ids), READER, body)
    assert result.status_code in (403, 404), f"{method} {template} {body}: {result.status_code} {result.text}"
    if result.status_code == 404:  # only where the version (not the caller) rules the route out
        assert _send(client, method, _path(template, ids), {**HEADERS, "X-Auth-Token": "admin:admin"},
                     body).status_code == 404, f"{method} {template} {body}: 404 for a reader only"


def test_the_walk_covers_every_kind_of_resource():
    templates = " ".join(template for template, _, _ in _cases())
    assert all(f"{{{field}}}" in templates for field in RESOURCE_FIELDS)
