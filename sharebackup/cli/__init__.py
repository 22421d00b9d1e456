"""The command line: `sharebackup serve|worker|db|token|config|repo`."""
