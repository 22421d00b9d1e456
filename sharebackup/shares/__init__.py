"""Share drivers. Only the local driver exists: a share is a directory on this host."""
