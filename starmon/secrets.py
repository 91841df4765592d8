"""Encryption of stored cluster passwords (Fernet, from the `cryptography` package).

A hand-rolled cipher is exactly the code a monitoring tool should not own, so this uses
a well-kept library. The key comes from STARMON_SECRET_KEY, or from a key file that is
generated on first use with owner-only permissions.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretError(RuntimeError):
    """A stored password cannot be decrypted (wrong or missing key); never shows the secret."""


class Secrets:
    """Encrypts and decrypts passwords with one Fernet key."""

    def __init__(self, key: bytes):
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SecretError("STARMON_SECRET_KEY is not a valid Fernet key (32 url-safe base64 bytes)") from exc

    @classmethod
    def from_environment(cls, key_file: Path, environ: dict | None = None) -> "Secrets":
        """The key from STARMON_SECRET_KEY, else from `key_file` (created 0600 if missing)."""
        env = os.environ if environ is None else environ
        if env.get("STARMON_SECRET_KEY"):
            return cls(env["STARMON_SECRET_KEY"].encode())
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
        return cls(key_file.read_bytes().strip())

    def encrypt(self, password: str) -> str:
        return self._fernet.encrypt(password.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretError("a stored password cannot be decrypted with this key; "
                              "was STARMON_SECRET_KEY or the key file changed?") from None
