"""Not yet built: every handler here answers 501 until its resource lands."""
from sharebackup.api.faults import Fault


def show_quota_set(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def update_quota_set(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def delete_quota_set(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def show_quota_set_defaults(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def show_quota_set_detail(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')
