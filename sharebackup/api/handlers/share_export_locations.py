"""Not yet built: every handler here answers 501 until its resource lands."""
from sharebackup.api.faults import Fault


def list_export_locations(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def show_export_location(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')
