"""Not yet built: every handler here answers 501 until its resource lands."""
from sharebackup.api.faults import Fault


def list_extra_specs(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def create_extra_specs(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def show_extra_spec(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def update_extra_spec(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def delete_extra_spec(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')
