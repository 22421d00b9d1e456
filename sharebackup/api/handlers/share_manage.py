"""Not yet built: every handler here answers 501 until its resource lands."""
from sharebackup.api.faults import Fault


def manage_share(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')
