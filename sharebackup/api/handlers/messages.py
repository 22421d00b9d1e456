"""Not yet built: every handler here answers 501 until its resource lands."""
from sharebackup.api.faults import Fault


def list_messages(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def show_message(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def delete_message(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')
