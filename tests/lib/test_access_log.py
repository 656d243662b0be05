"""gunicorn, as the demo, the bench and docker-compose run it, never logs query strings."""

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from smartapp.demo import processes

ROOT = Path(__file__).resolve().parents[2]


def test_the_access_log_has_paths_without_their_query_strings(tmp_path):
    port = processes.free_port()
    log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "smartapp.wsgi:application", "-c", str(ROOT / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(log)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        processes.wait_for_port("127.0.0.1", port)
        url = f"http://127.0.0.1:{port}/launch/callback?code=SECRET-CODE&state=SECRET-STATE"
        answered = requests.get(url, timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "/launch/callback" not in log.read_text():
            time.sleep(0.05)  # gunicorn writes the line after the answer: wait for that line
    finally:
        server.terminate()
        server.wait(timeout=10)
    text = log.read_text()
    assert answered.status_code < 500
    assert '"GET /launch/callback HTTP/1.1"' in text
    assert "SECRET" not in text and "code=" not in text
