"""gunicorn as docker-compose runs it (gunicorn.conf.py): its workers' counts add up in one
/metrics answer (prometheus_client's multiprocess files), and LOG_FORMAT=json makes every line,
gunicorn's own included, one JSON object."""

import json
import os
import subprocess
import sys
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from smartapp.demo import processes

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "gunicorn-metrics-token"


def _healthz_count(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "smartapp_http_requests_total"
        and sample.labels.get("view") == "monitoring:healthz"
    )


def test_two_gunicorn_workers_count_together_and_log_json(tmp_path):
    port = processes.free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "METRICS_TOKEN": TOKEN,
        "LOG_FORMAT": "json",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    log = (tmp_path / "gunicorn.log").open("w+b")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "smartapp.wsgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        processes.wait_for_port("127.0.0.1", port)
        with requests.Session() as browser:  # keep-alive off: new connections spread the load
            browser.headers["Connection"] = "close"
            for _ in range(40):
                assert browser.get(f"http://127.0.0.1:{port}/healthz", timeout=10).ok
            scraped = [
                browser.get(
                    f"http://127.0.0.1:{port}/metrics",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                    timeout=10,
                )
                for _ in range(4)
            ]
    finally:
        server.terminate()
        server.wait(timeout=15)
    lines = (tmp_path / "gunicorn.log").read_text().splitlines()
    workers = {json.loads(line).get("message", "") for line in lines if "Booting worker" in line}

    assert all(answer.status_code == 200 for answer in scraped)
    assert [_healthz_count(answer.text) for answer in scraped] == [40.0] * 4  # whoever answers
    assert len(workers) == 2
    parsed = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
    assert any('"GET /healthz HTTP/1.1" 200' in line["message"] for line in parsed)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in parsed)


def test_a_json_log_line_from_a_management_command(tmp_path):
    env = {**os.environ, "DJANGO_DEBUG": "1", "LOG_FORMAT": "json"}
    said = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "import logging; logging.getLogger('smartapp.check').warning('one line')"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = json.loads(said.stderr.strip().splitlines()[-1])
    assert line["level"] == "WARNING" and line["logger"] == "smartapp.check"
    assert line["message"] == "one line"


def test_a_bad_log_format_is_refused_at_start():
    env = {**os.environ, "DJANGO_DEBUG": "1", "LOG_FORMAT": "xml"}
    said = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert said.returncode != 0 and "LOG_FORMAT='xml' is not plain or json" in said.stderr
