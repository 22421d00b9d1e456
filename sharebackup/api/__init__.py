"""The HTTP layer: routing, microversions, fault bodies, auth middleware, schemas and views."""
