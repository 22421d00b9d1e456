"""Share types: visibility, uniqueness, use by shares, extra specs and project access.

A type is visible to admins always, to others when it is public or their project was
granted access. Deleting a type marks it deleted (shares keep pointing at the row).
"""
from __future__ import annotations

from sqlalchemy import exists, or_, select, text
from sqlalchemy.orm import Session

from sharebackup.core.context import RequestContext
from sharebackup.core.runtime import Runtime
from sharebackup.core.errors import Conflict, Forbidden, Invalid, NotFound
from sharebackup.services import extra_specs
from sharebackup.db.models import Share, ShareType, ShareTypeExtraSpec, ShareTypeProject, utcnow


def ensure_default(rt: Runtime) -> None:
    name = rt.config.default_share_type
    with rt.db.transaction() as session:
        exists_ = session.scalars(select(ShareType).where(ShareType.name == name,
                                                          ShareType.deleted.is_(False))).first()
        if exists_ is None:
            share_type = ShareType(name=name, description="Default share type", is_public=True)
            share_type.extra_specs = [
                ShareTypeExtraSpec(key="driver_handles_share_servers", value="False"),
                ShareTypeExtraSpec(key="snapshot_support", value="True"),
            ]
            session.add(share_type)


def _visible(query, ctx: RequestContext):
    query = query.where(ShareType.deleted.is_(False))
    if ctx.is_admin:
        return query
    granted = exists().where(ShareTypeProject.share_type_id == ShareType.id,
                             ShareTypeProject.project_id == ctx.project_id)
    return query.where(or_(ShareType.is_public.is_(True), granted))


def find(session: Session, ctx: RequestContext, type_id: str, lock: bool = False) -> ShareType | None:
    query = _visible(select(ShareType), ctx).where(ShareType.id == type_id)
    if lock:  # writers of a type's specs or access rows queue on the type row
        query = query.with_for_update(of=ShareType)
    return session.scalars(query).first()


def find_by_name(session: Session, ctx: RequestContext, name: str) -> ShareType | None:
    return session.scalars(_visible(select(ShareType), ctx).where(ShareType.name == name)).first()


def require(session: Session, ctx: RequestContext, type_id: str, lock: bool = False) -> ShareType:
    """The type or ShareTypeNotFound (404)."""
    share_type = find(session, ctx, type_id, lock)
    if share_type is None:
        raise NotFound(f"Share type {type_id} could not be found.")
    return share_type


def get(rt: Runtime, ctx: RequestContext, type_id: str) -> ShareType:
    with rt.db.reader() as session:
        share_type = find(session, ctx, type_id)
    if share_type is None:
        raise NotFound("Share type not found.")
    return share_type


def get_default(rt: Runtime, ctx: RequestContext) -> ShareType:
    with rt.db.reader() as session:
        share_type = find_by_name(session, ctx, rt.config.default_share_type)
    if share_type is None:
        raise NotFound("Default share type not found")
    return share_type


def _spec_matches(stored: str | None, wanted) -> bool:
    if stored is None:
        return False
    if stored == wanted or stored == str(wanted):
        return True
    want, have = extra_specs.bool_from_string(wanted), extra_specs.bool_from_string(stored)
    return want is not None and want == have


def list_types(rt: Runtime, ctx: RequestContext, is_public, spec_filter: dict) -> list[ShareType]:
    """Manila's get_all_types: is_public True = public plus those granted to the caller's
    project; False = private only; None = all (admins only get to ask)."""
    with rt.db.reader() as session:
        query = select(ShareType).where(ShareType.deleted.is_(False))
        granted = exists().where(ShareTypeProject.share_type_id == ShareType.id,
                                 ShareTypeProject.project_id == ctx.project_id)
        if is_public is True:
            query = query.where(or_(ShareType.is_public.is_(True), granted))
        elif is_public is False:
            query = query.where(ShareType.is_public.is_(False))
        types = list(session.scalars(query.order_by(ShareType.created_at, ShareType.id)))
    zones = spec_filter.pop(extra_specs.AVAILABILITY_ZONES, None) if spec_filter else None
    result = []
    for share_type in types:
        specs = share_type.specs
        if not all(_spec_matches(specs.get(k), v) for k, v in (spec_filter or {}).items()):
            continue
        if zones and specs.get(extra_specs.AVAILABILITY_ZONES):
            if not set(str(zones).split(",")) <= set(specs[extra_specs.AVAILABILITY_ZONES].split(",")):
                continue
        result.append(share_type)
    return result


def _lock_names(session: Session) -> None:
    """Serialise type creates/renames so two requests cannot both take a free name.
    (SQLite's write transactions are exclusive already; names of deleted types may repeat,
    so a unique index cannot do this.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('sharebackup.share_types'))"))


def _name_taken(session: Session, name: str, except_id: str | None = None) -> bool:
    query = select(ShareType.id).where(ShareType.name == name, ShareType.deleted.is_(False))
    if except_id:
        query = query.where(ShareType.id != except_id)
    return session.scalars(query).first() is not None


def create(rt: Runtime, ctx: RequestContext, request: dict) -> ShareType:
    with rt.db.transaction() as session:
        _lock_names(session)
        if _name_taken(session, request["name"]):
            raise Conflict(f"Share Type {request['name']} already exists.")
        share_type = ShareType(name=request["name"], description=request["description"],
                               is_public=request["is_public"])
        share_type.extra_specs = [ShareTypeExtraSpec(key=k, value=v) for k, v in request["extra_specs"].items()]
        session.add(share_type)
        session.flush()
        session.refresh(share_type)
        return share_type


def update(rt: Runtime, ctx: RequestContext, type_id: str, request: dict) -> ShareType:
    with rt.db.transaction() as session:
        share_type = require(session, ctx, type_id, lock=True)
        if request["name"]:
            _lock_names(session)
            if _name_taken(session, request["name"], except_id=share_type.id):
                raise Conflict(f"Share Type {request['name']} already exists.")
            share_type.name = request["name"]
        if request["description"] == "":
            share_type.description = None
        elif request["description"]:
            share_type.description = request["description"]
        if request["is_public"] is not None:
            share_type.is_public = request["is_public"]
        share_type.updated_at = utcnow()
        session.flush()
        return share_type


def delete(rt: Runtime, ctx: RequestContext, type_id: str) -> None:
    with rt.db.transaction() as session:
        share_type = find(session, ctx, type_id)
        if share_type is None:
            raise NotFound()
        in_use = session.scalars(select(Share.id).where(Share.share_type_id == share_type.id,
                                                        Share.deleted.is_(False)).limit(1)).first()
        if in_use is not None:
            raise Invalid("Target share type is still in use.")
        share_type.deleted = True
        share_type.deleted_at = utcnow()


# -- extra specs -------------------------------------------------------------------------

def get_specs(rt: Runtime, ctx: RequestContext, type_id: str) -> dict:
    with rt.db.reader() as session:
        return require(session, ctx, type_id).specs


def set_specs(rt: Runtime, ctx: RequestContext, type_id: str, specs: dict) -> dict:
    """Create or update the given specs; returns them in stored (string) form."""
    stored = extra_specs.sanitize(specs)
    with rt.db.transaction() as session:
        share_type = require(session, ctx, type_id, lock=True)
        existing = {spec.key: spec for spec in share_type.extra_specs}
        for key, value in stored.items():
            if key in existing:
                existing[key].value = value
            else:
                share_type.extra_specs.append(ShareTypeExtraSpec(key=key, value=value))
        share_type.updated_at = utcnow()
    return stored


def delete_spec(rt: Runtime, ctx: RequestContext, type_id: str, key: str, version) -> None:
    with rt.db.transaction() as session:
        share_type = require(session, ctx, type_id, lock=True)
        if (key == extra_specs.SNAPSHOT_SUPPORT and not version.matches("2.24")) or key in extra_specs.REQUIRED:
            raise Forbidden(f"Extra spec '{key}' can't be deleted.")
        spec = next((s for s in share_type.extra_specs if s.key == key), None)
        if spec is None:
            raise NotFound(f"Share Type {share_type.id} has no extra specs with key {key}.")
        share_type.extra_specs.remove(spec)
        share_type.updated_at = utcnow()


# -- project access ----------------------------------------------------------------------

def list_access(rt: Runtime, ctx: RequestContext, type_id: str) -> ShareType:
    with rt.db.reader() as session:
        share_type = find(session, ctx, type_id)
    if share_type is None:
        raise NotFound(f"Share type {type_id} not found.")
    if share_type.is_public:
        raise NotFound("Access list not available for public share types.")
    return share_type


def _private_type(session: Session, ctx: RequestContext, type_id: str) -> ShareType:
    share_type = require(session, ctx, type_id, lock=True)
    if share_type.is_public:
        raise Conflict("Type access modification is not applicable to public share type.")
    return share_type


def add_access(rt: Runtime, ctx: RequestContext, type_id: str, project_id: str) -> None:
    with rt.db.transaction() as session:
        share_type = _private_type(session, ctx, type_id)
        if any(p.project_id == project_id for p in share_type.projects):
            raise Conflict(f"Share type access for {share_type.id} / {project_id} combination already exists.")
        share_type.projects.append(ShareTypeProject(project_id=project_id))


def remove_access(rt: Runtime, ctx: RequestContext, type_id: str, project_id: str) -> None:
    with rt.db.transaction() as session:
        share_type = _private_type(session, ctx, type_id)
        entry = next((p for p in share_type.projects if p.project_id == project_id), None)
        if entry is None:
            raise NotFound(f"Share type access not found for {share_type.id} / {project_id} combination.")
        share_type.projects.remove(entry)
