"""Views: domain objects to Manila's JSON shapes, per microversion."""
