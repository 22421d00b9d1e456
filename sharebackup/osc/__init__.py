"""OpenStackClient plugin for sharebackup's own API: `openstack share backup policy ...`."""
