"""GET /v2/share-replicas[/detail]: always empty, this service has no replication.
(Tempest's share clean-up lists replicas before it deletes a share.)"""
from __future__ import annotations

from sharebackup.policies import share_replicas as policy


def list_share_replicas(req, resp):
    rt = req.context.runtime
    resp.media = {"share_replicas": []}
