"""manila-tempest-plugin against sharebackup (`make tempest`); not collected by pytest."""
