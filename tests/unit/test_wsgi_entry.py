"""The production WSGI entry point builds the app from SHAREBACKUP_* settings on first request."""
from __future__ import annotations

from falcon import testing


def test_wsgi_application_serves_from_environment(tmp_path, monkeypatch):
    from sharebackup.db.database import Database
    from sharebackup.db.migrate import upgrade
    monkeypatch.setenv("SHAREBACKUP_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("SHAREBACKUP_AUTH_STRATEGY", "noauth")
    upgrade(Database(f"sqlite:///{tmp_path}/sharebackup.sqlite"))
    from sharebackup.api.wsgi import _LazyApplication
    client = testing.TestClient(_LazyApplication())
    assert client.simulate_get("/").status_code == 300
    result = client.simulate_get("/v2/availability-zones", headers={"X-Auth-Token": "demo:demo"})
    assert result.status_code == 200
    assert result.json["availability_zones"][0]["name"] == "nova"


def test_wsgi_application_logs_json_with_request_ids_under_a_bare_server(tmp_path):
    """Under gunicorn or uWSGI nobody configures the root logger for us: the entry point must,
    or the access lines lose their request id (here a fresh interpreter stands in for the server)."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "from falcon import testing\n"
        "from sharebackup.db.database import Database\n"
        "from sharebackup.db.migrate import upgrade\n"
        "import os\n"
        "upgrade(Database(f\"sqlite:///{os.environ['SHAREBACKUP_STATE_DIR']}/sharebackup.sqlite\"))\n"
        "from sharebackup.api.wsgi import _LazyApplication\n"
        "r = testing.TestClient(_LazyApplication()).simulate_get('/v2/availability-zones',"
        " headers={'X-Auth-Token': 'demo:demo', 'X-OpenStack-Request-Id': 'req-0d7c3a52-1111-4222-8333-444455556666'})\n"
        "assert r.status_code == 200, r.status_code\n"
    )
    env = dict(os.environ, SHAREBACKUP_STATE_DIR=str(tmp_path), SHAREBACKUP_AUTH_STRATEGY="noauth",
               SHAREBACKUP_LOG_FORMAT="json")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    access = [r for r in records if r["logger"] == "sharebackup.access"]
    assert access, done.stderr
    assert all(r.get("request_id", "").startswith("req-") for r in access)
    assert "/v2/availability-zones" in access[-1]["message"]


def test_gunicorn_from_the_wsgi_extra_serves_the_entry_point(tmp_path):
    """docs/deployment.md runs gunicorn: it comes with the `wsgi` extra and serves the entry point."""
    import os
    import pathlib
    import subprocess
    import sys
    import time
    import urllib.request

    from sharebackup.db.database import Database
    from sharebackup.db.migrate import upgrade
    from tests.integration.server_process import free_port

    upgrade(Database(f"sqlite:///{tmp_path}/sharebackup.sqlite"))
    port = free_port()
    env = {**os.environ, "SHAREBACKUP_STATE_DIR": str(tmp_path), "SHAREBACKUP_AUTH_STRATEGY": "noauth"}
    gunicorn = pathlib.Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen([str(gunicorn), "-w", "1", "-b", f"127.0.0.1:{port}", "sharebackup.api.wsgi:application"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthcheck", timeout=5) as answer:
                    assert answer.status == 200 and answer.read() == b"OK"
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "gunicorn did not serve"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_docs_link_nothing_outside_the_repository():
    """A clone holds only this repository: the README linked ../shared/design/ARCHITECTURE.md."""
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[2]
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = doc.read_text()
        assert "../shared" not in text and "shared/design" not in text and "shared/spec" not in text, doc.name
