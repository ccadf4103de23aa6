"""Which of a server's processes holds each of the load generator's connections.

uvicorn's workers share one listening socket, and whichever worker wakes first accepts every
connection then waiting. wrk opens all its connections at once and keeps them, so a point
may give one worker nearly all of them. Measured on 2026-12-02 at 8 connections, the peer
made 188 requests/s at 8 + 0 and 421-478 at 7 + 1, against 557-580 at 4 + 4. Such a point
measures the race more than the server: benchmarks/loader.py measures it again (ADR 0155).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.cpu import tree_ticks

ESTABLISHED = "01"  # /proc/net/tcp's state column, include/net/tcp_states.h


def _established(port: int) -> list[tuple[str, int, int]]:
    """(socket inode, local port, remote port) of every established TCP connection with an end
    on `port`: the server's end has local port `port`, a client's end remote port `port`."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:  # no IPv6
            continue
        for line in lines:
            f = line.split()
            local, remote = (int(a.rsplit(":", 1)[1], 16) for a in (f[1], f[2]))
            if f[3] == ESTABLISHED and port in (local, remote):
                out.append((f[9], local, remote))
    return out


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:  # exited meanwhile
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def connections_by_process(roots: list[int], port: int,
                           ignore_clients_of: int | None = None) -> dict[int, int]:
    """pid -> how many established connections to `port` it serves, for every process under
    `roots` that serves one; not counting those whose client end is held by the process
    `ignore_clients_of` (the benchmark's own probes, which keep connections to every worker)."""
    conns = _established(port)
    ignored_ports: set[int] = set()
    if ignore_clients_of is not None:
        own = _socket_inodes(ignore_clients_of)
        ignored_ports = {local for inode, local, remote in conns
                         if remote == port and inode in own}
    served = {inode for inode, local, remote in conns
              if local == port and remote not in ignored_ports}
    out: dict[int, int] = {}
    for pid in tree_ticks(roots):
        held = len(_socket_inodes(pid) & served)
        if held:
            out[pid] = held
    return out


@contextmanager
def spread_probe(roots: list[int], port: int, after_s: float) -> Iterator[list[int]]:
    """Yields a list that gets the load generator's connections per process, largest first,
    counted once `after_s` into a load (wrk connects first); this process's own connections
    (the stage probe's) are not counted."""
    counts: list[int] = []

    def sample() -> None:
        found = connections_by_process(roots, port, ignore_clients_of=os.getpid())
        counts[:] = sorted(found.values(), reverse=True)

    timer = threading.Timer(after_s, sample)
    timer.daemon = True
    timer.start()
    try:
        yield counts
    finally:
        timer.cancel()
        timer.join()
