"""AES-GCM nonces come from a per-thread pool of random bytes; none is ever handed out twice."""

import os
import threading

from sharebackup.engine.codec import Codec
from sharebackup.engine.keys import MasterKey


def test_a_forked_child_never_reuses_its_parents_nonces():
    codec = Codec(MasterKey.generate())
    first = codec.encode(b"x" * 200, b"aad")[:12]  # fills this thread's nonce pool
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the next nonce it makes
        os.write(write, codec.encode(b"x" * 200, b"aad")[:12])
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 12)
    parent = codec.encode(b"x" * 200, b"aad")[:12]
    assert len({first, child, parent}) == 3


def test_nonces_differ_across_threads_and_pool_refills():
    codec = Codec(MasterKey.generate())
    seen = []

    def make():
        seen.extend(codec.encode(b"y" * 50, b"aad")[:12] for _ in range(1000))  # several refills

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 4000 and len(set(seen)) == 4000
