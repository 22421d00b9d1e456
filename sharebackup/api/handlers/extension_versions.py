"""GET /sharebackup: the discovery document of our own API (Manila's GET / stays Manila's)."""
from __future__ import annotations

from sharebackup.core.release import release


def list_extension_versions(req, resp, **params):
    base = req.prefix.rstrip("/") + "/sharebackup/"
    resp.media = {"versions": [{
        "id": "v1",
        "status": "CURRENT",
        "service": "sharebackup",
        "release": release(),
        "links": [{"rel": "self", "href": base + "v1/"}],
        "resources": ["backup-policies", "share-backups"],
    }]}
