"""Placeholder: rules for this resource are added with its API."""

rules = []


def list_rules():
    return rules
