"""The web console at /console/: server-rendered pages over the same services, policies and
quotas as the APIs (it adds no rule of its own). See docs/console.md."""
