"""https FEs: certificates are verified unless a cluster explicitly opts out."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from starmon.config import ClusterConfig
from starmon.probe import check_connection

BODY = b"# TYPE starrocks_fe_qps gauge\nstarrocks_fe_qps 3.5\n"


@pytest.fixture(scope="module")
def https_fe(tmp_path_factory):
    """A loopback https server with a self-signed certificate, serving an FE /metrics body."""
    tmp = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def test_self_signed_certificate_is_refused_by_default(https_fe):
    cluster = ClusterConfig("secure", "127.0.0.1", http_port=https_fe, query_port=1, tls=True)
    metrics = check_connection(cluster, timeout=2)[0]
    assert metrics.status == "failed" and "TLS error" in metrics.detail and "certificate" in metrics.detail


def test_verification_is_an_explicit_per_cluster_opt_out(https_fe):
    cluster = ClusterConfig("selfsigned", "127.0.0.1", http_port=https_fe, query_port=1, tls=True, tls_verify=False)
    metrics = check_connection(cluster, timeout=2)[0]
    assert metrics.status == "ok", metrics
