"""Per-resource job runners (shares, snapshots, backups, repository gc) on the queue's runner
contract, and the worker process assembled from them (worker_host)."""
