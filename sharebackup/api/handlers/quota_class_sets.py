"""Not yet built: every handler here answers 501 until its resource lands."""
from sharebackup.api.faults import Fault


def show_quota_class_set(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def update_quota_class_set(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')
