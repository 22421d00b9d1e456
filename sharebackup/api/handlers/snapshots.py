"""Not yet built: every handler here answers 501 until its resource lands."""
from sharebackup.api.faults import Fault


def list_snapshots(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def list_snapshots_detail(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def create_snapshot(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def show_snapshot(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def update_snapshot(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def delete_snapshot(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def snapshot_action(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')
