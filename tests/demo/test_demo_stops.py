"""The demo command (`.ci/demo`) stops all of itself on SIGTERM or SIGINT: every child (Redis,
the Celery worker and its pool, beat, gunicorn and its workers) is gone within 10 seconds and
its ports are free, so a service manager, `kill` or a terminal can stop it. SIGINT is sent to a
demo started with SIGINT ignored, as a script's `.ci/demo &` starts it: Ctrl-C's handler is the
demo's own, not Python's default."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from smartapp.demo import processes

CHECKOUT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    """Every living process below `pid`, whatever session or group it moved to (from /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_demo_stops_every_child_and_frees_its_ports(tmp_path, stop_signal):
    web_port, redis_port = processes.free_port(), processes.free_port()
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DEMO_DIR": str(tmp_path / "demo"),
        "PORT": str(web_port),
        "REDIS_PORT": str(redis_port),
        "PYTHONUNBUFFERED": "1",  # the "is running" line must reach us while it runs
    }
    demo = subprocess.Popen(
        ["/bin/bash", ".ci/demo", "--sandbox-size", "3"],
        cwd=CHECKOUT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        preexec_fn=_sigint_ignored if stop_signal == signal.SIGINT else None,
    )
    children: set[int] = set()
    try:
        started = list(_lines_until(demo, "smartapp demo is running"))
        children = descendants(demo.pid)
        running = " ".join(_command_line(pid) for pid in children)
        for part in ("redis-server", "celery -A smartapp worker", "celery -A smartapp beat",
                     "gunicorn"):  # fmt: skip
            assert part in running, (part, running, started[-20:])

        signalled = time.monotonic()
        demo.send_signal(stop_signal)
        demo.wait(timeout=15)
        left = _gone_or_left(children, deadline=signalled + 10)
        took = time.monotonic() - signalled
    finally:  # whatever happened, leave nothing running for the next test
        for pid in (children | descendants(demo.pid)) - {os.getpid()}:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if demo.poll() is None:
            demo.kill()

    print(f"the demo stopped on {stop_signal.name} in {took:.1f} s; {len(children)} children")
    assert left == set()
    assert took <= 10
    assert processes.port_is_free("127.0.0.1", web_port)
    assert processes.port_is_free("127.0.0.1", redis_port)


def _gone_or_left(children: set[int], *, deadline: float) -> set[int]:
    """The children still running at `deadline`; returns as soon as none is (a child killed by
    the demo's last resort is gone a moment after the demo exits, not at once)."""
    while (left := {pid for pid in children if alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling /proc: there is no event for another process's end
    return left


def _sigint_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _lines_until(demo: subprocess.Popen, marker: str):
    """The demo's output up to `marker` (it is printed once every service listens)."""
    assert demo.stdout is not None
    for line in demo.stdout:
        yield line
        if marker in line:
            return
    raise AssertionError(f"the demo exited ({demo.wait()}) before saying {marker!r}")
