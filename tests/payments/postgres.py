"""A throwaway PostgreSQL server for the claim-and-race tests (Debian's postgresql package).

Started in a temp dir on a free loopback port; as root it runs as the `postgres` user (initdb
refuses root). `.ci/test` installs Debian's postgresql when it is missing.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start() -> tuple[str, subprocess.Popen, Path]:
    initdb, postgres = _bin("initdb"), _bin("postgres")
    if not initdb or not postgres:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    folder = Path(tempfile.mkdtemp(prefix="smartapp-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    subprocess.run(
        _as_postgres([initdb, "-D", str(data), "-U", "smartapp", "--auth=trust", "-E", "UTF8"]),
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        _as_postgres(
            [postgres, "-D", str(data), "-p", str(port), "-k", str(folder), "-h", "127.0.0.1"]
        ),
        stdout=(folder / "log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"postgres://smartapp@127.0.0.1:{port}/postgres"
    _wait_until_it_answers(url, server, folder)
    return url, server, folder


def _wait_until_it_answers(url: str, server: subprocess.Popen, folder: Path) -> None:
    """Until a query answers (a listening socket comes before the server accepts sessions)."""
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2) as connection:
                connection.execute("SELECT 1")
            return
        except psycopg.OperationalError as error:
            if server.poll() is not None or time.monotonic() > deadline:
                log = (folder / "log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"PostgreSQL did not start: {error}\n{log}") from error
            time.sleep(0.1)  # polling: the server gives no other sign it is ready


def stop(server: subprocess.Popen, folder: Path) -> None:
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
    shutil.rmtree(folder, ignore_errors=True)
