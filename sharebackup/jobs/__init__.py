"""The job queue (rows in the database, claimed under a lease) and the worker pool that runs them."""
