"""CPU time of process trees from ``/proc`` (Linux), and which process listens on a port.

A process's CPU is ``utime + stime`` of itself and every live descendant, plus ``cutime +
cstime`` (what its exited, reaped children used): PostgreSQL's backends, a server's helpers and
processes that come and go between two snapshots are all counted. Before/after differences give
CPU per order. Reading another user's ``/proc/<pid>/fd`` (to find a port's listener) needs the
same user or root; without it the service is reported as not measured.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_LISTEN = "0A"


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def own_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of ``pid`` (0 when it is gone)."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0
    # Fields 14-17 of stat(5); index 0 here is field 3 (state).
    return sum(int(value) for value in fields[11:15])


def children_map() -> dict[int, list[int]]:
    """parent pid -> child pids, for every process visible now."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children[int(fields[1])].append(int(entry.name))
    return children


def tree(pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """``pid`` and all its descendants."""
    children = children if children is not None else children_map()
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, ()))
    return found


def tree_cpu_ms(pid: int, children: dict[int, list[int]] | None = None) -> float:
    """CPU milliseconds used so far by ``pid``'s tree (see the module docstring)."""
    ticks = sum(own_ticks(member) for member in tree(pid, children))
    return ticks * 1000 / TICKS_PER_S


_ABSOLUTE_PATH = re.compile(r"(?<![\w:/<])/[^\s,<>\"']+")


def scrub_paths(text: str) -> str:
    """``text`` with every absolute path cut to its last component: what the benchmarks write
    is committed, and must not name this machine's folders."""
    return _ABSOLUTE_PATH.sub(lambda m: Path(m.group(0)).name or "/", text)


def command_line(pid: int) -> str:
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def listening_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` here (the oldest one if several share it)."""
    inodes = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not inodes:
        return None
    owners = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:
            continue
        if inodes & set(links):
            owners.append(int(entry.name))
    if not owners:
        return None
    # Forked servers (PostgreSQL) hand the socket down: the parent is the one we want.
    children = children_map()
    return next(p for p in sorted(owners) if not any(p in children[o] for o in owners))


@dataclass(frozen=True)
class Measured:
    """A named process tree to measure."""

    name: str
    pid: int

    def cpu_ms(self, children: dict[int, list[int]]) -> float:
        return tree_cpu_ms(self.pid, children)


def snapshot(processes: list[Measured]) -> dict[str, float]:
    """CPU ms so far of each tree, read in one pass."""
    children = children_map()
    return {p.name: p.cpu_ms(children) for p in processes}
