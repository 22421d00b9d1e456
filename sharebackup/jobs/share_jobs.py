"""Runners for share jobs (create, delete, snapshot ...). Filled in with the shares API."""
from __future__ import annotations


def runners(rt) -> dict:
    return {}
