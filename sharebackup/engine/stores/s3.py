"""A store in an S3 bucket (AWS S3 or any S3-compatible server: Ceph RGW, MinIO, moto).

URL form, as accepted by `open_store`::

    s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&access_key=ID&secret_key=SECRET
                         &session_token=TOKEN&conditional_writes=auto|true|false]

Objects are stored as `PREFIX/<name>`. Every query parameter is optional:

- `endpoint`: the server's URL (`http://127.0.0.1:9000`); omitted means AWS. With an
  endpoint, path-style addressing is used (`endpoint/bucket/key`), which every
  S3-compatible server accepts.
- `region`: signing region; omitted means `AWS_REGION` / `AWS_DEFAULT_REGION` / the AWS
  config file, and `us-east-1` if none of them is set.
- `access_key`, `secret_key` (and `session_token`): credentials. Omitted means the
  standard AWS chain: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
  `AWS_PROFILE` / shared credentials file, instance or container roles. Prefer the
  environment: a URL with a secret ends up in configuration files. Values are
  percent-decoded (`%26` for `&`); a `+` stays a `+`.
- `conditional_writes`: `auto` (default) sends `If-None-Match: *` and falls back to
  HEAD-then-PUT when the server answers 501 Not Implemented; `false` forces the
  fallback (for a server that *ignores* the header, which cannot be detected); `true`
  never falls back.

The location shown in messages (`s3://bucket/prefix`) never contains credentials.

Mapping of the five calls:

- put_if_absent: one PUT with `If-None-Match: *` (S3 conditional write); 412 means the
  name is taken -> ObjectExists. Objects of `multipart_threshold` bytes or more (packs
  are 16-64 MiB) go up as a multipart upload whose *completion* carries the condition.
  When the 412 answers a *retried* request (botocore's RetryAttempts > 0: the first
  attempt may have landed with its answer lost), the existing object's ETag is compared
  with ours and identical bytes count as our write; a 412 on the first attempt is always
  ObjectExists.
- get: GET with a `Range` header (`bytes=-N` for a negative offset).
- head: HEAD. list: ListObjectsV2, paginated. delete: HEAD then DELETE (S3's DELETE
  succeeds on a missing key, the interface wants ObjectMissing).

Race semantics of the HEAD-then-PUT fallback: two writers can both see the name free
and both PUT; the last one wins and both return success. For content-addressed objects
(packs, index deltas, snapshots, key files) both wrote the same bytes, so nothing is
lost. Lock objects have random 16-byte names and never collide, so the lock protocol
(write own lock, then list the others) keeps its guarantee as long as the server lists
a completed PUT at once (AWS S3 is strongly consistent since 2020; so are RGW and
MinIO). What is lost is only the mutual exclusion of two concurrent `Repository.init`
on the same prefix: both may write `config`, the later one wins and the other process's
repository id/key may not match; the job layer creates repositories from one place.

Retries (throttling, 5xx, connection errors) come from botocore's `standard` retry
mode, `max_attempts` attempts in all. botocore and other client errors are mapped to
StoreError; a missing key to ObjectMissing. The boto3 client is thread-safe.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Iterator
from urllib.parse import unquote, urlsplit

from sharebackup.engine.errors import ObjectExists, ObjectMissing, StoreError
from sharebackup.engine.stores.base import ObjectInfo, Store

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 << 20  # S3's minimum for every part but the last
DEFAULT_MULTIPART_THRESHOLD = 32 << 20
DEFAULT_PART_SIZE = 16 << 20
_BODY_ATTEMPTS = 3  # reads of a response body that broke off (the request itself is botocore's)

_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _code(exc) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _status(exc) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _client_config(endpoint_url: str | None, *, max_attempts: int, connect_timeout: float, read_timeout: float,
                   max_pool_connections: int):
    """botocore's Config: standard retries, timeouts, pool size, and what an endpoint needs."""
    from botocore.config import Config

    return Config(
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        s3={"addressing_style": "path"} if endpoint_url else None,
        # botocore >= 1.36 adds CRC trailers to every upload, which several S3-compatible
        # servers reject; with an endpoint only send what the operation requires. The
        # engine verifies every object against its BLAKE3 name anyway.
        request_checksum_calculation="when_required" if endpoint_url else "when_supported",
        response_checksum_validation="when_required" if endpoint_url else "when_supported",
    )


class S3Store(Store):
    parallel_reads = 8  # index deltas fetched at once when a repository opens: round trips overlap

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        *,
        session_token: str | None = None,
        conditional_writes: bool | None = None,
        max_attempts: int = 8,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_pool_connections: int = 32,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        part_size: int = DEFAULT_PART_SIZE,
        list_page_size: int = 1000,
    ) -> None:
        if not bucket:
            raise StoreError("an S3 store needs a bucket name")
        if part_size < MIN_PART_SIZE:
            raise StoreError(f"S3 multipart parts must be at least {MIN_PART_SIZE} bytes")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._key_prefix = self.prefix + "/" if self.prefix else ""
        self.location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        #: None = try If-None-Match, fall back on 501; True/False = forced
        self._conditional = conditional_writes
        self._fallback_lock = threading.Lock()
        self.multipart_threshold = max(multipart_threshold, part_size)
        self.part_size = part_size
        self.list_page_size = list_page_size
        config = _client_config(endpoint_url, max_attempts=max_attempts, connect_timeout=connect_timeout,
                                read_timeout=read_timeout, max_pool_connections=max_pool_connections)
        self._client = self._new_client(config, endpoint_url, region, access_key, secret_key, session_token)

    def _new_client(self, config, endpoint_url, region, access_key, secret_key, session_token):
        """The boto3 client; empty credentials mean the standard AWS chain (see the module docstring)."""
        import boto3

        session = boto3.session.Session(
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            aws_session_token=session_token or None,
            region_name=region or None,
        )
        try:
            return session.client(
                "s3", endpoint_url=endpoint_url or None, config=config,
                region_name=region or session.region_name or "us-east-1",
            )
        except Exception as exc:  # noqa: BLE001 - bad endpoint URL, unknown region, ...
            raise StoreError(f"cannot set up the S3 client for {self.location}: {exc}") from exc

    # -- helpers ---------------------------------------------------------------
    def _key(self, name: str) -> str:
        if not name or name.startswith("/") or any(p in ("", ".", "..") for p in name.split("/")):
            raise StoreError(f"invalid object name {name!r}")
        return self._key_prefix + name

    def _error(self, what: str, name: str, exc: Exception) -> StoreError:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            code = _code(exc)
            # (a HEAD has no error body: a missing bucket looks like a missing key there,
            # and the next GET, PUT or list names the bucket)
            if code in _MISSING_CODES or (_status(exc) == 404 and code != "NoSuchBucket"):
                return ObjectMissing(name)
            if code == "NoSuchBucket":
                return StoreError(f"the bucket {self.bucket!r} does not exist ({self.location})")
            return StoreError(f"cannot {what} {name} in {self.location}: {code or _status(exc)}: {exc}")
        return StoreError(f"cannot {what} {name} in {self.location}: {exc}")

    @staticmethod
    def _store_errors():
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    # -- the five calls --------------------------------------------------------
    def put_if_absent(self, name: str, data: bytes) -> bool:
        key = self._key(name)
        if self._conditional is False:
            return self._put_after_head(name, key, data)
        try:
            self._put(key, data, conditional=True)
            return True
        except self._store_errors() as exc:
            from botocore.exceptions import ClientError

            if isinstance(exc, ClientError):
                status, code = _status(exc), _code(exc)
                if status == 412 or code == "PreconditionFailed":
                    retried = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
                    if retried and self._holds_same_bytes(key, data):
                        return True  # a retried request whose first attempt had landed
                    raise ObjectExists(name) from None
                if self._conditional is None and (status == 501 or code == "NotImplemented"):
                    with self._fallback_lock:
                        if self._conditional is None:
                            log.warning("%s does not support conditional writes (If-None-Match); "
                                        "using HEAD then PUT", self.location)
                            self._conditional = False
                    return self._put_after_head(name, key, data)
            raise self._error("store", name, exc) from exc

    def _put_after_head(self, name: str, key: str, data: bytes) -> bool:
        # Not atomic: see "Race semantics" in the module docstring. Safe for
        # content-addressed objects (same name, same bytes) and for randomly named locks.
        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
        except self._store_errors() as exc:
            err = self._error("check", name, exc)
            if not isinstance(err, ObjectMissing):
                raise err from exc
        else:
            raise ObjectExists(name)
        try:
            self._put(key, data, conditional=False)
        except self._store_errors() as exc:
            raise self._error("store", name, exc) from exc
        return True

    def _put(self, key: str, data: bytes, *, conditional: bool) -> None:
        cond = {"IfNoneMatch": "*"} if conditional else {}
        if len(data) < self.multipart_threshold:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data), **cond)
            return
        view = memoryview(data)
        upload_id = self._client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, len(view), self.part_size), start=1):
                chunk = bytes(view[start:start + self.part_size])
                etag = self._client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                PartNumber=number, Body=chunk)["ETag"]
                parts.append({"PartNumber": number, "ETag": etag})
            self._client.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                                   MultipartUpload={"Parts": parts}, **cond)
        except BaseException:
            try:
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            except Exception:  # noqa: BLE001 - best effort; a lifecycle rule cleans up the rest
                log.warning("could not abort the multipart upload of %s in %s", key, self.location)
            raise

    def _expected_etag(self, data: bytes) -> str:
        if len(data) < self.multipart_threshold:
            return hashlib.md5(data, usedforsecurity=False).hexdigest()
        digests = b"".join(hashlib.md5(data[i:i + self.part_size], usedforsecurity=False).digest()
                           for i in range(0, len(data), self.part_size))
        count = (len(data) + self.part_size - 1) // self.part_size
        return f"{hashlib.md5(digests, usedforsecurity=False).hexdigest()}-{count}"

    def _holds_same_bytes(self, key: str, data: bytes) -> bool:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except self._store_errors():
            return False
        return head.get("ContentLength") == len(data) and head.get("ETag", "").strip('"') == self._expected_etag(data)

    def get(self, name: str, offset: int = 0, length: int | None = None) -> bytes:
        key = self._key(name)
        if length is not None and length <= 0:
            self.head(name)  # ObjectMissing if absent
            return b""
        if offset < 0:
            rng = f"bytes=-{-offset}"  # suffix range: the last N bytes (all of them if fewer)
        elif offset > 0 or length is not None:
            rng = f"bytes={offset}-" + ("" if length is None else str(offset + length - 1))
        else:
            rng = None
        try:
            data = self._read(key, {"Range": rng} if rng else {})
        except self._store_errors() as exc:
            from botocore.exceptions import ClientError

            if isinstance(exc, ClientError) and (_status(exc) == 416 or _code(exc) == "InvalidRange"):
                return b""  # the range starts at or past the end (or the object is empty)
            raise self._error("read", name, exc) from exc
        if offset < 0 and length is not None:
            data = data[:length]
        return data

    def _read(self, key: str, kwargs: dict) -> bytes:
        # botocore retries the request, not the reading of its body: a connection that
        # drops in the middle of a 64 MiB pack is retried here, with a fresh GET.
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import IncompleteReadError, ReadTimeoutError, ResponseStreamingError

        for attempt in range(_BODY_ATTEMPTS):
            body = self._client.get_object(Bucket=self.bucket, Key=key, **kwargs)["Body"]
            try:
                return body.read()
            except (ResponseStreamingError, IncompleteReadError, ReadTimeoutError, BotoConnectionError):
                if attempt == _BODY_ATTEMPTS - 1:
                    raise
                log.warning("reading %s from %s was interrupted; reading it again", key, self.location)
            finally:
                body.close()
        raise AssertionError("unreachable")

    def head(self, name: str) -> ObjectInfo:
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(name))
        except self._store_errors() as exc:
            raise self._error("look up", name, exc) from exc
        return ObjectInfo(name, int(head["ContentLength"]), head["LastModified"].timestamp())

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self._client.get_paginator("list_objects_v2")
        strip = len(self._key_prefix)
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key_prefix + prefix,
                                           PaginationConfig={"PageSize": self.list_page_size}):
                for item in page.get("Contents", ()):
                    yield ObjectInfo(item["Key"][strip:], int(item["Size"]), item["LastModified"].timestamp())
        except self._store_errors() as exc:
            raise self._error("list", prefix + "*", exc) from exc

    def delete(self, name: str) -> None:
        key = self._key(name)
        self.head(name)  # S3 deletes a missing key without complaint; the interface does not
        try:
            self._client.delete_object(Bucket=self.bucket, Key=key)
        except self._store_errors() as exc:
            raise self._error("delete", name, exc) from exc

    def close(self) -> None:
        self._client.close()


def open_s3_url(url: str) -> S3Store:
    """Build an S3Store from `s3://bucket/prefix?endpoint=...&region=...` (see module docstring)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise StoreError(f"not an S3 URL (s3://bucket/prefix): {url.split('?')[0]!r}")
    # unquote, not unquote_plus: AWS secret keys often contain '+', which must stay a '+'
    query = {}
    for item in filter(None, parts.query.split("&")):
        k, _, v = item.partition("=")
        query[unquote(k)] = unquote(v)
    known = {"endpoint", "region", "access_key", "secret_key", "session_token", "conditional_writes"}
    unknown = sorted(set(query) - known)
    if unknown:
        raise StoreError(f"unknown S3 URL parameter(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    cond = query.get("conditional_writes", "auto").lower()
    if cond in _TRUE:
        conditional = True
    elif cond in _FALSE:
        conditional = False
    elif cond in ("", "auto"):
        conditional = None
    else:
        raise StoreError(f"conditional_writes must be auto, true or false, not {cond!r}")
    return S3Store(
        parts.netloc, unquote(parts.path), query.get("endpoint"), query.get("region"),
        query.get("access_key"), query.get("secret_key"),
        session_token=query.get("session_token"), conditional_writes=conditional,
    )
