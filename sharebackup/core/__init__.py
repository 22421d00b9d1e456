"""The lowest layer: domain rules every other layer may use; imports nothing of sharebackup."""
