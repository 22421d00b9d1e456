"""Version discovery: GET / (300) and GET /v2 (200), unauthenticated, ignoring version headers."""
from __future__ import annotations

from sharebackup.api import microversion


def _version_document(req) -> dict:
    # The self link is the application URL with any trailing vN removed, then v2/ appended.
    base = req.prefix.rstrip("/") + "/"
    return {"versions": [{
        "id": "v2.0",
        "status": "CURRENT",
        "version": str(microversion.MAX_VERSION),
        "min_version": str(microversion.MIN_VERSION),
        "updated": "2015-08-27T11:33:21Z",
        "links": [{"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
                  {"rel": "self", "href": base + "v2/"}],
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.share+json;version=1"}],
    }]}


def list_versions(req, resp):
    resp.status = 300
    resp.media = _version_document(req)


def show_v2(req, resp):
    resp.media = _version_document(req)
