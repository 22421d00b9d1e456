"""Not yet built: every handler here answers 501 until its resource lands."""
from sharebackup.api.faults import Fault


def list_share_types(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def create_share_type(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def show_default_share_type(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def show_share_type(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def update_share_type(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def delete_share_type(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')
