"""The commands of /sharebackup/v1."""
