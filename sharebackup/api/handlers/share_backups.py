"""Not yet built: every handler here answers 501 until its resource lands."""
from sharebackup.api.faults import Fault


def list_share_backups(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def list_share_backups_detail(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def create_share_backup(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def show_share_backup(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def update_share_backup(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def delete_share_backup(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')


def share_backup_action(req, resp, **params):
    raise Fault(501, 'Not implemented yet.')
