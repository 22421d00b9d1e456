"""A throw-away moto S3 server on a free loopback port, for the S3 store tests.

`moto_server()` is a context manager: it starts `moto_server -H 127.0.0.1 -p PORT` (the
script next to sys.executable, else `python -m moto.server`), waits (bounded) until it
answers, and always kills it on exit. Buckets are created by the caller.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def moto_server(timeout: float = 20.0):
    """Yield the endpoint URL (http://127.0.0.1:PORT) of a running moto server."""
    port = _free_port()
    script = os.path.join(os.path.dirname(sys.executable), "moto_server")
    cmd = [script] if os.path.exists(script) else [sys.executable, "-m", "moto.server"]
    proc = subprocess.Popen(cmd + ["-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(endpoint + "/moto-api/", timeout=1):
                    break
            except urllib.error.HTTPError:
                break  # any HTTP answer means it is up
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not answer on {endpoint} within {timeout} s") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.kill()
        proc.wait(timeout=10)


def make_bucket(endpoint: str, bucket: str) -> None:
    import boto3
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                          aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    client.create_bucket(Bucket=bucket)
    client.close()


def s3_url(endpoint: str, bucket: str, prefix: str) -> str:
    return (f"s3://{bucket}/{prefix}?endpoint={endpoint}&region={REGION}"
            f"&access_key={ACCESS_KEY}&secret_key={SECRET_KEY}")
