"""Who holds a lease, precisely enough to tell that it died: crash recovery in seconds.

A lease owner is `host:pid:index:nonce:boot.pidns.started`. After `kill -9` of a worker its
leases stay until they expire (a minute). A worker starting on the same machine can do better:
when the owner's machine, boot and PID namespace are its own, the kernel says whether that
process still exists and, if a process has its pid, whether it is the same one (its start time).
Only a certain "dead" releases a lease early, so one job never runs twice at once; anything
unsure (another host, another container, no /proc) waits for the lease to expire as before.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Holder:
    """A process as lease owners name it."""

    host: str
    pid: int
    stamp: str  # "boot.pidns.started"; "" where /proc does not tell

    @classmethod
    def parse(cls, owner: str) -> Holder | None:
        """The holder named by a lease owner string (None for other formats)."""
        parts = owner.rsplit(":", 4)
        if len(parts) != 5 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[4])


def lease_owner(index: int) -> str:
    """A lease owner name for worker `index` of this process, unique across restarts."""
    return f"{_host()}:{os.getpid()}:{index}:{uuid.uuid4().hex[:8]}:{_stamp(os.getpid())}"


def is_dead(owner: str) -> bool:
    """True only when `owner` was a process of this machine, boot and PID namespace that no
    longer exists (its pid is gone, or now belongs to a process started at another time)."""
    holder = Holder.parse(owner)
    me = _stamp(os.getpid())
    if holder is None or not me or holder.host != _host() or not holder.stamp:
        return False
    boot, pidns, _ = holder.stamp.split(".", 2) if holder.stamp.count(".") == 2 else ("", "", "")
    my_boot, my_pidns, _ = me.split(".", 2)
    if (boot, pidns) != (my_boot, my_pidns):
        return False  # another machine with our name, an earlier boot, another container
    return _stamp(holder.pid) != holder.stamp


@cache
def _host() -> str:
    return socket.gethostname()[:100]


def _stamp(pid: int) -> str:
    """ "boot.pidns.started" for `pid` as seen from here; "" when unknown or no such process."""
    try:
        boot = _boot_id()
        pidns = os.readlink(PROC / "self" / "ns" / "pid").strip("pid:[]")
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return ""
    # Field 22 (start time in clock ticks); the command name (field 2) may hold spaces and ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return f"{boot}.{pidns}.{fields[19]}" if boot and len(fields) > 19 else ""


@cache
def _boot_id() -> str:
    try:
        return (PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()[:8]
    except OSError:
        return ""
