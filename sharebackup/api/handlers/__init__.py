"""Thin ``verb_noun`` handlers, one module per resource: policy, schema, service, view."""
