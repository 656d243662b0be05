import http.server
import threading

import pytest

from smartapp.lib import http as outbound


class _Handler(http.server.BaseHTTPRequestHandler):
    calls: list[tuple[str, str]] = []
    status = 503

    def _answer(self):
        _Handler.calls.append((self.command, self.headers.get("opc-request-id", "")))
        self.send_response(_Handler.status)
        self.send_header("opc-request-id", "ehr-correlation-1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.calls = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_it_retries_a_read_that_met_a_gateway_error(server):
    response = outbound.session().get(f"{server}/Patient/1")
    assert response.status_code == 503
    assert [method for method, _ in _Handler.calls] == ["GET", "GET", "GET"]


def test_it_never_retries_a_write(server):
    outbound.session().post(f"{server}/Basic", json={})
    assert [method for method, _ in _Handler.calls] == ["POST"]


def test_it_sends_a_request_id_and_reads_the_ehrs_correlation_id(server):
    response = outbound.session().post(f"{server}/Basic", json={})
    assert len(_Handler.calls[0][1]) == 32
    assert outbound.correlation_id(response) == "ehr-correlation-1"


def test_each_call_is_logged_once_with_what_it_was_and_never_its_token(server, caplog):
    caplog.set_level("INFO", logger="smartapp.http")
    url = f"{server}/Patient/1?name=SECRET-NAME"
    headers = {"Authorization": "Bearer secret-token"}

    outbound.session().get(url, headers=headers, what="Patient/1 read")

    [line] = [r.getMessage() for r in caplog.records if r.name == "smartapp.http"]
    host = server.removeprefix("http://")
    assert line.startswith(f"GET {host}/Patient/1 -> 503 correlation=ehr-correlation-1 elapsed_ms=")
    assert line.endswith(" what=Patient/1 read")
    assert "secret-token" not in caplog.text and "SECRET-NAME" not in caplog.text


def _proxies(session: outbound.TimeoutSession, url: str) -> dict[str, str]:
    return session.environment(url)["proxies"]


def test_the_proxy_environment_is_honoured_and_no_proxy_hosts_bypass_it(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.hospital.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "ehr.internal.invalid")
    session = outbound.TimeoutSession()

    assert _proxies(session, "https://fhir.example.invalid/r4/Patient")["https"] == (
        "http://proxy.hospital.invalid:3128"
    )
    assert "https" not in _proxies(session, "https://ehr.internal.invalid/r4/Patient")


def test_the_environment_is_read_once_per_host(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://first.invalid:3128")
    session = outbound.TimeoutSession()
    first = _proxies(session, "https://fhir.example.invalid/a")
    monkeypatch.setenv("HTTPS_PROXY", "http://second.invalid:3128")

    assert _proxies(session, "https://fhir.example.invalid/b") == first
    assert _proxies(outbound.TimeoutSession(), "https://fhir.example.invalid/b")["https"] == (
        "http://second.invalid:3128"
    )
    _proxies(session, "https://fhir.example.invalid/c")["https"] = "changed by a caller"
    assert _proxies(session, "https://fhir.example.invalid/d") == first
