"""Not yet built: every handler here answers 501 until its resource lands."""
from sharebackup.api.faults import Fault


def list_shares(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def list_shares_detail(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def create_share(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def show_share(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def update_share(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def delete_share(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')
