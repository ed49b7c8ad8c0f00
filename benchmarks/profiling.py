"""py-spy attached to the benchmark's worker and bridge for one measured burst: a flame graph
(SVG) and the collapsed stacks (text, one ``frame;frame;… count`` line per stack) of each.

py-spy samples another process from outside (it needs ptrace rights: root, or the same user
with ``kernel.yama.ptrace_scope`` 0) and ``--nonblocking`` never pauses it, but its own CPU
competes on a small machine: take CPU figures from a run without ``--profile``.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

RATE_HZ = 100
STOP_TIMEOUT_S = 60.0


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed (pip install py-spy; it is in the dev extra)")
    return found


@contextlib.contextmanager
def profiled(pids: dict[str, int], out_dir: Path, tag: str) -> Iterator[None]:
    """Record each process of ``pids`` (name -> pid) while the block runs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    recorders = []
    for name, pid in pids.items():
        for fmt, suffix in (("flamegraph", "svg"), ("raw", "txt")):
            # The flame graph's title is this command line: relative names only, so a committed
            # SVG names no folder of this machine.
            argv = ["py-spy", "record", "--pid", str(pid), "--rate", str(RATE_HZ)]
            argv += ["--nonblocking", "--format", fmt, "-o", f"{tag}-{name}.{suffix}"]
            recorders.append(
                subprocess.Popen(
                    argv,
                    executable=py_spy(),
                    cwd=out_dir,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for recorder in recorders:
            try:
                recorder.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
