"""Cross-site framing for browser tests: the app served over HTTPS on 127.0.0.1 (a throwaway
certificate) beside the live server's http://localhost, and Chromium profiles whose third-party
cookie setting is pinned rather than left to the build's default."""

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from playwright.sync_api import Browser, BrowserContext

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

# Chromium's "cookie_controls_mode" profile preference: 0 allows third-party cookies, 1 blocks
# them (chrome://settings/cookies, "Block third-party cookies").
ALLOW_THIRD_PARTY, BLOCK_THIRD_PARTY = 0, 1


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A one-day certificate and key for `host` (an IP address), as PEM files in `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _HttpsRequestHandler(WSGIRequestHandler):
    def get_environ(self) -> dict[str, str]:
        environ = super().get_environ()
        environ["HTTPS"] = "on"  # wsgi.url_scheme "https": request.is_secure(), as behind TLS
        return environ


class _TlsServer(ThreadedWSGIServer):
    tls: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        """The TLS handshake runs in the request's own thread, never in the accept loop."""
        try:
            secure = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a probe that gave up on the handshake
        try:
            super().finish_request(secure, client_address)
        finally:
            secure.close()


@contextmanager
def https_app(directory: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Serves this process's Django app over HTTPS on `host`; yields its origin."""
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(*self_signed_certificate(directory, host))
    server = _TlsServer((host, 0), _HttpsRequestHandler, allow_reuse_address=False)
    server.tls = tls
    server.set_app(StaticFilesHandler(WSGIHandler()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def chromium_profile(
    browser: Browser, directory: Path, *, cookie_controls_mode: int, **options: Any
) -> Iterator[BrowserContext]:
    """A fresh Chromium profile (one browser, one page) with third-party cookies pinned."""
    (directory / "Default").mkdir(parents=True)
    preferences = {"profile": {"cookie_controls_mode": cookie_controls_mode}}
    (directory / "Default" / "Preferences").write_text(json.dumps(preferences))
    context = browser.browser_type.launch_persistent_context(
        str(directory),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        ignore_https_errors=True,  # the throwaway certificate
        **options,
    )
    try:
        yield context
    finally:
        context.close()
