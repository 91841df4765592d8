"""A minimal OpenID Connect provider on loopback, for signing in to the dashboard in tests.

It implements what the authorization-code flow of `st.login` (Authlib) uses: discovery,
an authorization endpoint that signs in `login_as` at once, a token endpoint returning an
RS256-signed ID token, the JWKS and userinfo. `forge = True` signs ID tokens with a key
the JWKS does not publish, as an impostor would.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class Provider:
    """The provider's state; `with Provider(client_id, secret) as p:` serves it on p.issuer."""

    def __init__(self, client_id: str, client_secret: str):
        self.client_id, self.client_secret = client_id, client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.impostor_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.login_as = {"email": "nobody@example.com", "name": "Nobody"}
        self.forge = False
        self.codes: dict[str, dict] = {}  # code -> claims to put in the ID token
        self.tokens_issued = 0
        self.issuer = ""

    def id_token(self, claims: dict) -> str:
        header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "test-key"}).encode())
        body = _b64url(json.dumps(claims).encode())
        key = self.impostor_key if self.forge else self.key
        signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{body}.{_b64url(signature)}"

    def metadata(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile", "email"],
        }

    def jwks(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "kid": "test-key",
                    "use": "sig",
                    "alg": "RS256",
                    "n": _uint(numbers.n),
                    "e": _uint(numbers.e),
                }
            ]
        }

    def __enter__(self) -> Provider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _json(self, status: int, payload: dict) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, provider.metadata())
                elif url.path == "/jwks":
                    self._json(200, provider.jwks())
                elif url.path == "/userinfo":
                    self._json(200, {"sub": provider.login_as["email"], **provider.login_as})
                elif url.path == "/authorize" and query.get("client_id") == provider.client_id:
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {**provider.login_as, "nonce": query.get("nonce")}
                    self.send_response(302)
                    self.send_header(
                        "Location",
                        f"{query['redirect_uri']}?" + urlencode({"code": code, "state": query.get("state", "")}),
                    )
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                form = {
                    k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()
                }
                basic = self.headers.get("Authorization", "")
                given = (
                    base64.b64decode(basic[6:]).decode().split(":", 1)
                    if basic.startswith("Basic ")
                    else [form.get("client_id"), form.get("client_secret")]
                )
                claims = provider.codes.pop(form.get("code", ""), None)
                if urlsplit(self.path).path != "/token" or given != [provider.client_id, provider.client_secret]:
                    self._json(401, {"error": "invalid_client"})
                    return
                if claims is None:
                    self._json(400, {"error": "invalid_grant"})
                    return
                now = int(time.time())
                token = provider.id_token(
                    {
                        "iss": provider.issuer,
                        "aud": provider.client_id,
                        "sub": claims["email"],
                        "iat": now,
                        "exp": now + 300,
                        **{k: v for k, v in claims.items() if v},
                    }
                )
                provider.tokens_issued += 1
                self._json(
                    200,
                    {
                        "access_token": secrets.token_urlsafe(16),
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": token,
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
