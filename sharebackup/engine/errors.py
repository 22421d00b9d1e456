"""Exceptions raised by the backup engine.

Callers (the CLI, the issue-4 worker) catch `EngineError` for anything the engine
reports on purpose; each subclass names one kind of failure so a caller can map it to
a user message without parsing text.
"""


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class StoreError(EngineError):
    """A store call failed (I/O error, missing object, refused write)."""


class ObjectExists(StoreError):
    """put-if-absent found the name already taken."""


class ObjectMissing(StoreError):
    """get/head/delete of a name the store does not hold."""


class RepositoryError(EngineError):
    """The repository is missing, of an unknown format, or its config is unreadable."""


class WrongKeyError(EngineError):
    """No key file/passphrase given, or it unlocks none of the repository's keys."""


class IntegrityError(EngineError):
    """Stored bytes do not match their id or fail authentication: damage or tampering."""


class LockedError(EngineError):
    """Another process holds a conflicting, unexpired lock on the repository."""


class AbortedError(EngineError):
    """A long operation stopped at a safe point: its caller's keep_going() said no, or its
    own repository lock came too close to running out. Nothing is left half done."""


class SnapshotNotFound(EngineError):
    """No snapshot has the given id or unique id prefix."""


class UnsafePathError(EngineError):
    """A name in a snapshot, or an entry in a restore target, would lead outside the target."""
