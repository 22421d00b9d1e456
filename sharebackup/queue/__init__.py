"""The job queue: generic, it knows no resource. Leases, the one runner contract, the worker pool,
the job kinds by name, the metrics and the retention of finished rows."""
