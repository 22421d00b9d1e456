"""Not yet built: every handler here answers 501 until its resource lands."""
from sharebackup.api.faults import Fault


def list_share_metadata(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def set_share_metadata(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def update_share_metadata(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def show_share_metadata_item(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def update_share_metadata_item(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def delete_share_metadata_item(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')
