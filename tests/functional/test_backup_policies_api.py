"""/sharebackup/v1/backup-policies end to end through the Falcon test client, on SQLite and
PostgreSQL: create (every field, and the defaults), list and detail pages (limit and marker,
a next link only when more follow), partial updates (a partial retention is merged), every
400 with its message, attach and detach of real shares, delete, the run history, and the
discovery documents. No request sends a microversion: this API has none.
"""
from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from falcon import testing

from sharebackup.api.app import make_app
from tests.functional.api_client import client_for

ROOT = "/sharebackup/v1/backup-policies"
MEMBER = {"X-Auth-Token": "demo:demo"}
MEMBER_V2 = {**MEMBER, "X-OpenStack-Manila-API-Version": "2.91"}  # for the /v2 share it protects
KEEPS = ("keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly")
NO_KEEPS = {**{key: 0 for key in KEEPS}, "keep_within": None}
MINIMAL = {"name": "nightly", "schedule": "0 2 * * *", "retention": {"keep_last": 3}}
SUMMARY_KEYS = {"id", "name", "enabled", "schedule", "timezone"}
DETAIL_KEYS = {"id", "name", "description", "enabled", "schedule", "timezone", "backup_type", "retention",
               "share_ids", "project_id", "user_id", "created_at", "updated_at", "next_run_at"}


@pytest.fixture
def api(runtime):
    """A client over the runtime (each backend in turn) with a worker pool, so shares become available."""
    from sharebackup.queue.lease_queue import LeaseQueue
    from sharebackup.queue.worker_pool import WorkerPool
    from sharebackup.workflows.runners import build_runners
    pool = WorkerPool(lambda owner: LeaseQueue(runtime.db, owner), build_runners(runtime), threads=2,
                      poll_seconds=0.02)
    pool.start()
    runtime.wake_workers = pool.wake
    yield client_for(runtime)
    pool.stop()


def _create(client, headers=MEMBER, **fields) -> dict:
    result = client.simulate_post(ROOT, headers=headers, json={"backup_policy": {**MINIMAL, **fields}})
    assert result.status_code == 201, result.text
    return result.json["backup_policy"]


def _share(client, headers=MEMBER_V2) -> str:
    created = client.simulate_post("/v2/shares", headers=headers, json={"share": {"share_proto": "NFS", "size": 1}})
    assert created.status_code == 200, created.text
    share_id = created.json["share"]["id"]
    deadline = time.monotonic() + 15
    while True:
        status = client.simulate_get(f"/v2/shares/{share_id}", headers=headers).json["share"]["status"]
        if status == "available":
            return share_id
        assert status == "creating" and time.monotonic() < deadline, f"share {share_id}: {status}"
        time.sleep(0.02)


def _bad_request(result, message: str) -> None:
    assert (result.status_code, result.json) == (400, {"badRequest": {"code": 400, "message": message}}), \
        f"{result.status_code} {result.text}"


def _not_found(result, message: str) -> None:
    assert (result.status_code, result.json) == (404, {"itemNotFound": {"code": 404, "message": message}}), \
        f"{result.status_code} {result.text}"


# create and show

def test_create_with_every_field_is_201_and_shown_as_given(api):
    body = {"name": "weekly-db", "description": "the database share", "enabled": False,
            "schedule": "30 1 * * 0", "timezone": "Europe/Berlin", "backup_type": "default",
            "retention": {"keep_last": 2, "keep_hourly": 0, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 12,
                          "keep_yearly": 3, "keep_within": "30d"}}
    result = api.simulate_post(ROOT, headers=MEMBER, json={"backup_policy": body})
    assert result.status_code == 201, result.text
    assert "X-OpenStack-Manila-API-Version" not in result.headers  # no microversions here
    policy = result.json["backup_policy"]
    assert set(policy) == DETAIL_KEYS
    assert {key: policy[key] for key in body} == body
    assert (policy["project_id"], policy["user_id"], policy["share_ids"], policy["next_run_at"]) == \
        ("demo", "demo", [], None)
    uuid.UUID(policy["id"])
    assert policy["created_at"] and policy["updated_at"] is None  # as Manila's views: null until an update
    shown = api.simulate_get(f"{ROOT}/{policy['id']}", headers=MEMBER)
    assert shown.status_code == 200 and shown.json == {"backup_policy": policy}


def test_create_fills_in_the_defaults(api):
    policy = _create(api)
    assert (policy["timezone"], policy["enabled"], policy["description"], policy["backup_type"]) == \
        ("UTC", True, None, None)
    assert policy["retention"] == {**NO_KEEPS, "keep_last": 3}  # every keep shown, the absent ones 0
    assert policy["next_run_at"] is None  # no share attached: nothing will run


def test_name_schedule_and_retention_are_required(api):
    for missing in ("name", "schedule", "retention"):
        body = {key: value for key, value in MINIMAL.items() if key != missing}
        _bad_request(api.simulate_post(ROOT, headers=MEMBER, json={"backup_policy": body}),
                     f"'{missing}' is required.")
    _bad_request(api.simulate_post(ROOT, headers=MEMBER, json={"policy": MINIMAL}),
                 "The body must be an object with a 'backup_policy' object.")


# each 400 of the issue, on create and on update, with its message

INVALID = {
    "a cron minute of 61": ({"schedule": "61 * * * *"},
                            "schedule '61 * * * *' is neither a 5-field cron expression (minute hour day month "
                            "weekday, e.g. 0 2 * * *) nor an ISO 8601 interval (e.g. PT6H)"),
    "an interval below the minimum": ({"schedule": "PT5M"},
                                      "schedule 'PT5M' runs every 5 minutes; the shortest interval allowed is 1 hour "
                                      "([policies] min_interval_seconds)"),
    "a cron rule below the minimum": ({"schedule": "*/10 * * * *"},
                                      "schedule '*/10 * * * *' runs every 10 minutes; the shortest interval allowed "
                                      "is 1 hour ([policies] min_interval_seconds)"),
    "an unknown timezone": ({"timezone": "Mars/Olympus_Mons"},
                            "unknown timezone 'Mars/Olympus_Mons': give an IANA name such as UTC or Europe/Berlin"),
    "a timezone that is a path": ({"timezone": "../../etc/passwd"},
                                  "unknown timezone '../../etc/passwd': give an IANA name such as UTC or "
                                  "Europe/Berlin"),
    "a negative keep": ({"retention": {"keep_last": -1}},
                        "retention keep_last must be a whole number from 0 to 1000000."),
    "a keep that is a boolean": ({"retention": {"keep_daily": True}},
                                 "retention keep_daily must be a whole number from 0 to 1000000."),
    "every keep zero": ({"retention": {key: 0 for key in KEEPS}},
                        "Invalid retention: keep something: give at least one of keep_last, keep_hourly, "
                        "keep_daily, keep_weekly, keep_monthly, keep_yearly, keep_within (every keep is zero or "
                        "absent)."),
    "an unknown backup_type": ({"backup_type": "tape"},
                               "Invalid backup_type 'tape': no backup repository of that name is configured. "
                               "Available: ['default']."),
    "an unknown field": ({"colour": "blue"},
                         "Unknown backup_policy fields ['colour']; known: name, description, enabled, schedule, "
                         "timezone, backup_type, retention."),
    "an unknown retention key": ({"retention": {"keep_forever": 1}},
                                 "Unknown retention keys ['keep_forever']; known: keep_last, keep_hourly, keep_daily, "
                                 "keep_weekly, keep_monthly, keep_yearly, keep_within."),
    "a schedule that is a number": ({"schedule": 5}, "schedule must be a string."),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_each_invalid_policy_is_400_with_its_message_on_create_and_update(api, name):
    fields, message = INVALID[name]
    _bad_request(api.simulate_post(ROOT, headers=MEMBER, json={"backup_policy": {**MINIMAL, **fields}}), message)
    policy = _create(api)
    path = f"{ROOT}/{policy['id']}"
    # "every keep zero" on update: the keeps it names are merged, so it must zero keep_last too (it does)
    _bad_request(api.simulate_put(path, headers=MEMBER, json={"backup_policy": fields}), message)
    assert api.simulate_get(path, headers=MEMBER).json == {"backup_policy": policy}  # nothing changed
    listed = api.simulate_get(ROOT, headers=MEMBER).json["backup_policies"]
    assert [p["id"] for p in listed] == [policy["id"]]  # the refused create stored nothing


def test_an_empty_update_is_400(api):
    policy = _create(api)
    _bad_request(api.simulate_put(f"{ROOT}/{policy['id']}", headers=MEMBER, json={"backup_policy": {}}),
                 "Nothing to update: give one or more of name, description, enabled, schedule, timezone, "
                 "backup_type, retention.")


# partial update

def test_a_partial_update_changes_only_what_it_names_and_merges_retention(api):
    policy = _create(api, description="before", retention={"keep_last": 3})
    path = f"{ROOT}/{policy['id']}"
    result = api.simulate_put(path, headers=MEMBER, json={"backup_policy": {"retention": {"keep_daily": 7}}})
    assert result.status_code == 200, result.text
    updated = result.json["backup_policy"]
    assert updated["retention"] == {**NO_KEEPS, "keep_last": 3, "keep_daily": 7}  # keep_last kept
    assert {k: v for k, v in updated.items() if k not in ("retention", "updated_at")} == \
        {k: v for k, v in policy.items() if k not in ("retention", "updated_at")}
    assert policy["updated_at"] is None and updated["updated_at"] >= updated["created_at"]

    renamed = api.simulate_put(path, headers=MEMBER, json={"backup_policy": {
        "name": "renamed", "enabled": False, "timezone": "America/New_York", "schedule": "PT6H"}}).json
    assert {k: renamed["backup_policy"][k] for k in ("name", "enabled", "timezone", "schedule", "description")} == \
        {"name": "renamed", "enabled": False, "timezone": "America/New_York", "schedule": "PT6H",
         "description": "before"}
    assert renamed["backup_policy"]["retention"] == updated["retention"]

    dropped = api.simulate_put(path, headers=MEMBER, json={"backup_policy": {"retention": {"keep_last": 0}}})
    assert dropped.json["backup_policy"]["retention"] == {**NO_KEEPS, "keep_daily": 7}
    cleared = api.simulate_put(path, headers=MEMBER, json={"backup_policy": {"description": None}})
    assert cleared.json["backup_policy"]["description"] is None
    assert api.simulate_get(path, headers=MEMBER).json == cleared.json


def test_an_update_is_checked_as_the_whole_policy_it_makes(api):
    """Only keep_daily left: zeroing it would keep nothing, though the body alone names one keep."""
    policy = _create(api, retention={"keep_daily": 7})
    _bad_request(api.simulate_put(f"{ROOT}/{policy['id']}", headers=MEMBER,
                                  json={"backup_policy": {"retention": {"keep_daily": 0}}}),
                 INVALID["every keep zero"][1])


# lists and pages

def _page_path(link: str) -> tuple[str, str]:
    parts = urlsplit(link)
    return parts.path, parts.query


@pytest.mark.parametrize("detail", [False, True], ids=["summary", "detail"])
def test_lists_page_with_limit_and_marker_and_link_only_when_more_follow(api, detail):
    path = ROOT + ("/detail" if detail else "")
    created = {_create(api, name=f"p{i}")["id"] for i in range(5)}
    _create(api, headers={"X-Auth-Token": "alt:alt"})  # another project's: never listed here
    whole = api.simulate_get(path, headers=MEMBER)
    assert whole.status_code == 200 and "backup_policies_links" not in whole.json
    everything = whole.json["backup_policies"]
    assert {p["id"] for p in everything} == created and len(everything) == 5
    assert all(set(p) == (DETAIL_KEYS if detail else SUMMARY_KEYS) for p in everything)
    if detail:  # newest first
        assert [p["created_at"] for p in everything] == sorted((p["created_at"] for p in everything), reverse=True)

    seen, query, pages = [], "limit=2", []
    while True:
        page = api.simulate_get(path, query_string=query, headers=MEMBER)
        assert page.status_code == 200, page.text
        items = page.json["backup_policies"]
        pages.append(len(items))
        seen += [p["id"] for p in items]
        links = page.json.get("backup_policies_links")
        if not links:
            break
        assert links == [{"rel": "next", "href": links[0]["href"]}]
        link_path, query = _page_path(links[0]["href"])
        assert link_path == path
        assert parse_qs(query) == {"limit": ["2"], "marker": [items[-1]["id"]]}
    assert pages == [2, 2, 1] and seen == [p["id"] for p in everything]

    # a page that ends the list exactly has no link
    last_two = api.simulate_get(path, query_string=f"limit=2&marker={everything[2]['id']}", headers=MEMBER)
    assert [p["id"] for p in last_two.json["backup_policies"]] == [everything[3]["id"], everything[4]["id"]]
    assert "backup_policies_links" not in last_two.json
    exact = api.simulate_get(path, query_string="limit=5", headers=MEMBER)
    assert len(exact.json["backup_policies"]) == 5 and "backup_policies_links" not in exact.json
    empty = api.simulate_get(path, query_string="limit=0", headers=MEMBER)
    assert empty.json == {"backup_policies": []}


def test_bad_paging_parameters_are_400(api):
    _create(api)
    _bad_request(api.simulate_get(ROOT, query_string="limit=-1", headers=MEMBER),
                 "limit must be a whole number, 0 or more.")
    _bad_request(api.simulate_get(ROOT, query_string="limit=abc", headers=MEMBER),
                 "limit must be a whole number, 0 or more.")
    _bad_request(api.simulate_get(ROOT + "/detail", query_string="marker=unknown", headers=MEMBER),
                 "marker [unknown] not found")
    result = api.simulate_get(ROOT, query_string="all_tenants=maybe", headers=MEMBER)
    assert result.status_code == 400 and "'maybe'" in result.json["badRequest"]["message"], result.text


# shares: attach and detach

def test_attach_detach_and_their_errors(api):
    policy = _create(api)
    share_id = _share(api)
    shares = f"{ROOT}/{policy['id']}/shares"

    attached = api.simulate_post(shares, headers=MEMBER, json={"share_id": share_id})
    assert attached.status_code == 200, attached.text
    shown = attached.json["backup_policy"]
    assert shown["share_ids"] == [share_id]
    assert shown["next_run_at"] and shown["next_run_at"].endswith("T02:00:00.000000")  # 0 2 * * * in UTC
    assert api.simulate_get(f"{ROOT}/{policy['id']}", headers=MEMBER).json["backup_policy"]["share_ids"] == \
        [share_id]

    twice = api.simulate_post(shares, headers=MEMBER, json={"share_id": share_id})
    assert twice.status_code == 409, twice.text
    (fault,) = twice.json.values()
    assert fault == {"code": 409, "message": f"Share {share_id} is already attached to backup policy "
                                             f"{policy['id']}."}

    missing = str(uuid.uuid4())
    _not_found(api.simulate_post(shares, headers=MEMBER, json={"share_id": missing}),
               f"Share {missing} could not be found.")
    _not_found(api.simulate_post(f"{ROOT}/{missing}/shares", headers=MEMBER, json={"share_id": share_id}),
               f"Backup policy {missing} could not be found.")
    _bad_request(api.simulate_post(shares, headers=MEMBER, json={"share": share_id}),
                 "The body must be an object with a 'share_id'.")

    detached = api.simulate_delete(f"{shares}/{share_id}", headers=MEMBER)
    assert detached.status_code == 204 and not detached.content
    after = api.simulate_get(f"{ROOT}/{policy['id']}", headers=MEMBER).json["backup_policy"]
    assert (after["share_ids"], after["next_run_at"]) == ([], None)
    _not_found(api.simulate_delete(f"{shares}/{share_id}", headers=MEMBER),
               f"Share {share_id} is not attached to backup policy {policy['id']}.")
    assert api.simulate_get(f"/v2/shares/{share_id}", headers=MEMBER_V2).status_code == 200  # the share stays


def test_another_projects_share_cannot_be_attached(api):
    policy = _create(api)
    theirs = _share(api, headers={"X-Auth-Token": "alt:alt", "X-OpenStack-Manila-API-Version": "2.91"})
    _not_found(api.simulate_post(f"{ROOT}/{policy['id']}/shares", headers=MEMBER, json={"share_id": theirs}),
               f"Share {theirs} could not be found.")


def test_a_disabled_policy_has_no_next_run(api):
    policy = _create(api, enabled=False)
    share_id = _share(api)
    attached = api.simulate_post(f"{ROOT}/{policy['id']}/shares", headers=MEMBER, json={"share_id": share_id})
    assert attached.json["backup_policy"]["next_run_at"] is None
    enabled = api.simulate_put(f"{ROOT}/{policy['id']}", headers=MEMBER, json={"backup_policy": {"enabled": True}})
    assert enabled.json["backup_policy"]["next_run_at"] is not None


@pytest.mark.parametrize("schedule", ["P3660D", "PT87840H", "P522W"])
def test_the_longest_intervals_allowed_work_with_a_share_attached(api, schedule):
    """Up to P3660D (about ten years) an interval is taken, and a policy with a share attached
    (so its next run is worked out) is shown by its attach, its show and both lists."""
    share_id = _share(api)
    policy = _create(api, schedule=schedule)
    attached = api.simulate_post(f"{ROOT}/{policy['id']}/shares", headers=MEMBER, json={"share_id": share_id})
    assert attached.status_code == 200, f"attach to {schedule}: {attached.status_code} {attached.text}"
    assert attached.json["backup_policy"]["next_run_at"] is not None
    for path in (f"{ROOT}/{policy['id']}", ROOT + "/detail", ROOT):
        read = api.simulate_get(path, headers=MEMBER)
        assert read.status_code == 200, f"GET {path} ({schedule}): {read.status_code} {read.text}"


@pytest.mark.parametrize("schedule", ["P3661D", "P523W", "PT87841H", "P1000000W", "P9999999D",
                                      "PT99999999999999999999S", "P99999999999999W"])
def test_an_interval_over_ten_years_is_400_on_create_and_update(api, schedule):
    """Longer intervals would put a next run past the calendar's end (a 500 on every read of the
    policy once a share was attached), and some overflowed while being read (a 500 at once)."""
    message = f"schedule {schedule!r} is longer than the longest interval allowed (P3660D, about ten years)"
    _bad_request(api.simulate_post(ROOT, headers=MEMBER, json={"backup_policy": {**MINIMAL, "schedule": schedule}}),
                 message)
    policy = _create(api)
    _bad_request(api.simulate_put(f"{ROOT}/{policy['id']}", headers=MEMBER,
                                  json={"backup_policy": {"schedule": schedule}}), message)
    assert api.simulate_get(f"{ROOT}/{policy['id']}", headers=MEMBER).json == {"backup_policy": policy}


# delete and runs

def test_delete_is_204_then_404_and_keeps_the_share(api):
    policy = _create(api)
    share_id = _share(api)
    api.simulate_post(f"{ROOT}/{policy['id']}/shares", headers=MEMBER, json={"share_id": share_id})
    path = f"{ROOT}/{policy['id']}"
    deleted = api.simulate_delete(path, headers=MEMBER)
    assert deleted.status_code == 204 and not deleted.content
    message = f"Backup policy {policy['id']} could not be found."
    for method in ("GET", "DELETE"):
        _not_found(api.simulate_request(method, path, headers=MEMBER), message)
    _not_found(api.simulate_put(path, headers=MEMBER, json={"backup_policy": {"name": "x"}}), message)
    _not_found(api.simulate_get(path + "/runs", headers=MEMBER), message)
    assert api.simulate_get(ROOT, headers=MEMBER).json == {"backup_policies": []}
    assert api.simulate_get(f"/v2/shares/{share_id}", headers=MEMBER_V2).json["share"]["status"] == "available"
    again = _create(api)  # the share can join another policy: its attachment went with the policy
    assert api.simulate_post(f"{ROOT}/{again['id']}/shares", headers=MEMBER,
                             json={"share_id": share_id}).status_code == 200


def test_runs_of_a_new_policy_are_an_empty_list(api):
    policy = _create(api)
    share_id = _share(api)
    api.simulate_post(f"{ROOT}/{policy['id']}/shares", headers=MEMBER, json={"share_id": share_id})
    runs = api.simulate_get(f"{ROOT}/{policy['id']}/runs", headers=MEMBER)
    assert runs.status_code == 200 and runs.json == {"backup_policy_runs": []}
    paged = api.simulate_get(f"{ROOT}/{policy['id']}/runs", query_string="limit=1", headers=MEMBER)
    assert paged.json == {"backup_policy_runs": []}  # no link: nothing more follows
    reader = api.simulate_get(f"{ROOT}/{policy['id']}/runs", headers={**MEMBER, "X-Roles": "reader"})
    assert reader.status_code == 200


# roles, a version header, discovery and tokens

def test_a_reader_reads_and_a_member_of_another_project_sees_nothing(api):
    policy = _create(api)
    reader = {**MEMBER, "X-Roles": "reader"}
    assert api.simulate_get(f"{ROOT}/{policy['id']}", headers=reader).status_code == 200
    assert [p["id"] for p in api.simulate_get(ROOT, headers=reader).json["backup_policies"]] == [policy["id"]]
    forbidden = {"forbidden": {"code": 403, "message": "Access was denied to this resource."}}
    for method, path, body in (("POST", ROOT, {"backup_policy": MINIMAL}),
                               ("PUT", f"{ROOT}/{policy['id']}", {"backup_policy": {"name": "x"}}),
                               ("DELETE", f"{ROOT}/{policy['id']}", None)):
        result = api.simulate_request(method, path, headers=reader, **({"json": body} if body else {}))
        assert (result.status_code, result.json) == (403, forbidden), f"{method} {path}: {result.text}"
    other = {"X-Auth-Token": "alt:alt"}
    _not_found(api.simulate_get(f"{ROOT}/{policy['id']}", headers=other),
               f"Backup policy {policy['id']} could not be found.")
    assert api.simulate_get(ROOT, headers=other).json == {"backup_policies": []}


def test_a_version_header_is_neither_needed_nor_read(api):
    for version in ("2.0", "2.91", "1.0", "not-a-version"):
        result = api.simulate_get(ROOT, headers={**MEMBER, "X-OpenStack-Manila-API-Version": version})
        assert result.status_code == 200, f"{version}: {result.status_code} {result.text}"
        assert "X-OpenStack-Manila-API-Version" not in result.headers


@pytest.mark.parametrize("path", ["/sharebackup", "/sharebackup/v1", "/sharebackup/", "/sharebackup/v1/"])
def test_discovery_documents_need_no_token(api, path):
    result = api.simulate_get(path)
    assert result.status_code == 200, result.text
    (version,) = result.json["versions"]
    assert (version["id"], version["status"], version["service"]) == ("v1", "CURRENT", "sharebackup")
    assert version["links"] == [{"rel": "self", "href": "http://falconframework.org/sharebackup/v1/"}]
    assert "backup-policies" in version["resources"]
    assert version["release"]


def test_tokens_mode_refuses_a_request_without_a_token_but_not_discovery(tmp_path):
    from sharebackup.api.auth.tokens import TokenFile
    from tests.conftest import make_runtime
    rt = make_runtime(tmp_path / "state", auth_strategy="tokens")
    try:
        client = testing.TestClient(make_app(rt))
        for headers in ({}, {"X-Auth-Token": "not-a-token"}):
            for path in (ROOT, ROOT + "/detail", f"{ROOT}/{uuid.uuid4()}"):
                result = client.simulate_get(path, headers=headers)
                assert result.status_code == 401, f"{path} {headers}: {result.status_code} {result.text}"
                assert result.json["unauthorized"]["code"] == 401
            denied = client.simulate_post(ROOT, headers=headers, json={"backup_policy": MINIMAL})
            assert denied.status_code == 401, denied.text
        for path in ("/sharebackup", "/sharebackup/v1"):
            assert client.simulate_get(path).status_code == 200
        token = TokenFile(rt.config.token_path).create("tenant", "user", ["member", "reader"])
        created = client.simulate_post(ROOT, headers={"X-Auth-Token": token}, json={"backup_policy": MINIMAL})
        assert created.status_code == 201, created.text
        assert created.json["backup_policy"]["project_id"] == "tenant"
    finally:
        rt.db.dispose()


def test_a_raised_minimum_still_lets_an_older_policy_be_renamed_and_disabled(tmp_path):
    from dataclasses import replace

    from sharebackup.config import PoliciesConfig
    from tests.conftest import make_runtime
    from tests.functional.api_client import client_for
    rt = make_runtime(tmp_path / "state", policies=PoliciesConfig(min_interval_seconds=60))
    client = client_for(rt)
    headers = {"X-Auth-Token": "demo:demo"}
    made = client.simulate_post("/sharebackup/v1/backup-policies", headers=headers, json={"backup_policy": {
        "name": "often", "schedule": " PT2M ", "retention": {"keep_last": 2}}})
    assert made.status_code == 201 and made.json["backup_policy"]["schedule"] == "PT2M"
    policy_id = made.json["backup_policy"]["id"]
    stricter = replace(rt, config=replace(rt.config, policies=PoliciesConfig(min_interval_seconds=3600)))
    client = client_for(stricter)
    url = f"/sharebackup/v1/backup-policies/{policy_id}"
    off = client.simulate_put(url, headers=headers, json={"backup_policy": {"enabled": False, "name": "paused"}})
    assert off.status_code == 200 and off.json["backup_policy"]["enabled"] is False
    again = client.simulate_put(url, headers=headers, json={"backup_policy": {"schedule": "PT3M"}})
    assert again.status_code == 400 and "shortest interval allowed is 1 hour" in again.json["badRequest"]["message"]
