"""Pages from Jinja2 templates shipped in the package, with autoescaping on for every one (a
share's names, descriptions and file names are tenant input: they are always escaped)."""
from __future__ import annotations

import datetime as dt

import falcon
from jinja2 import Environment, PackageLoader, select_autoescape

from sharebackup.api.console import session

_ENV = Environment(loader=PackageLoader("sharebackup.api.console", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True))


def human_bytes(count) -> str:
    value = float(count or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def age(moment) -> str:
    """'3 h ago' for a naive UTC time, as people read a backup's age."""
    if moment is None:
        return "never"
    seconds = max(0, int((dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


_ENV.filters["bytes"] = human_bytes
_ENV.filters["age"] = age
_ENV.filters["time"] = lambda moment: moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def page(req, resp, template: str, status: int = 200, **values) -> None:
    ctx = req.context.auth
    token = req.get_header("X-Auth-Token")
    values.setdefault("title", "sharebackup")
    resp.status = status
    resp.content_type = falcon.MEDIA_HTML
    resp.set_header("Cache-Control", "no-store")
    resp.set_header("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
    resp.set_header("X-Frame-Options", "DENY")
    resp.text = _ENV.get_template(template).render(
        ctx=ctx, here=req.path, csrf=session.csrf_token(req.context.runtime.config.state_path, token) if token else "",
        **values)


def redirect(resp, location: str) -> None:
    resp.status = 303
    resp.set_header("Location", location)
