"""Encryption of stored cluster passwords (Fernet, from the `cryptography` package).

A hand-rolled cipher is exactly the code a monitoring tool should not own, so this uses
a well-kept library. The key comes from STARMON_SECRET_KEY, or from a key file that is
generated on first use with owner-only permissions.
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from .config import env_setting


class SecretError(RuntimeError):
    """The key is unusable, or a stored password cannot be decrypted; the message never shows a secret."""


class Secrets:
    """Encrypts and decrypts passwords with one Fernet key."""

    def __init__(self, key: bytes, source: str = "STARMON_SECRET_KEY"):
        """`source` names where the key came from, so a bad key is blamed on the right place."""
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise SecretError(f"{source} is not a valid Fernet key (32 url-safe base64 bytes)") from exc
        self._key = key

    @classmethod
    def from_environment(cls, key_file: Path, environ: dict | None = None) -> Secrets:
        """The key from STARMON_SECRET_KEY, else from `key_file` (created 0600 if missing).

        A key file that cannot be created or read raises SecretError naming the file, so every
        entry point can say what is wrong in one line instead of a traceback.
        """
        given = env_setting("STARMON_SECRET_KEY", environ)
        if given:
            return cls(given.encode())
        try:
            key = key_file.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            try:
                _create_key_file(key_file)
                key = key_file.read_bytes()
            except OSError as exc:
                raise SecretError(f"cannot create the key file {key_file}: {_why(exc, key_file)}") from None
        except OSError as exc:
            raise SecretError(f"cannot read the key file {key_file}: {_why(exc, key_file)}") from None
        return cls(key.strip(), source=f"the key file {key_file}")

    def derive(self, purpose: str) -> bytes:
        """A key for another use (signing session cookies), so one key file serves every secret
        and replacing it ends what each of them protects."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).digest()

    def encrypt(self, password: str) -> str:
        return self._fernet.encrypt(password.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretError(
                "a stored password cannot be decrypted with this key; was STARMON_SECRET_KEY or the key file changed?"
            ) from None


def _create_key_file(key_file: Path) -> None:
    """Write a new key, owner-only, all at once.

    The key goes to a private temporary file that is then linked into place, so a dashboard
    and a collector starting together never read a half-written key, and the one that loses
    the race uses the winner's key.
    """
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # the folder's name is taken by a file: say that, not "File exists"
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(key_file.parent)) from None
    temporary = key_file.with_name(f".{key_file.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(Fernet.generate_key())
        try:
            os.link(temporary, key_file)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


def _why(exc: OSError, key_file: Path) -> str:
    """The system's reason, with the path it concerns when that is not the key file itself."""
    reason = exc.strerror or str(exc)
    return f"{reason} ({exc.filename})" if exc.filename and exc.filename != str(key_file) else reason
