"""Who may open the studio.

On this computer only (the default), no login: the studio listens on 127.0.0.1. A public link
(`--share`) lets anyone with the address in, so it requires a login. The user name and password
come from the environment variable below or, when it is not set, are asked for at start; they are
never written anywhere, and the running studio keeps only a salted hash of the password.
"""
from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import sys
from dataclasses import dataclass
from typing import Callable, Mapping

from pipelines.errors import InputError

LOGIN_VARIABLE = "SYNCHRORAMA_STUDIO_LOGIN"  # "user:password"


@dataclass(frozen=True)
class Login:
    user: str
    _salt: bytes
    _hash: bytes

    @classmethod
    def of(cls, user: str, password: str) -> "Login":
        salt = os.urandom(16)
        return cls(user, salt, _hash(password, salt))

    def check(self, user: str, password: str) -> bool:
        return (hmac.compare_digest(user.encode(), self.user.encode())
                and hmac.compare_digest(_hash(password, self._salt), self._hash))


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 200_000)


def login_for(share: bool, environ: Mapping[str, str] | None = None,
              ask: Callable[[], tuple[str, str]] | None = None) -> Login | None:
    """The login the studio requires: from LOGIN_VARIABLE when set (also without `share`);
    with `share` and no variable, asked for on the terminal; otherwise none."""
    environ = os.environ if environ is None else environ
    value = environ.get(LOGIN_VARIABLE, "")
    if value:
        user, sep, password = value.partition(":")
        if not sep or not user.strip() or not password:
            raise InputError(f"{LOGIN_VARIABLE} must be user:password (both parts non-empty).")
        return Login.of(user.strip(), password)
    if not share:
        return None
    if ask is None:
        if not sys.stdin.isatty():
            raise InputError("A public link needs a login, and there is no terminal to ask "
                             "for one.",
                             f"Set {LOGIN_VARIABLE}=user:password in the environment and start "
                             "again.")
        ask = _ask_on_terminal
    user, password = ask()
    if not user or not password:
        raise InputError("A public link needs a user name and a password.")
    return Login.of(user, password)


def _ask_on_terminal() -> tuple[str, str]:
    print("A public link lets anyone with its address in: choose a login for it.", flush=True)
    user = input("User name: ").strip()
    password = getpass.getpass("Password (not shown, not saved): ")
    if password != getpass.getpass("Password again: "):
        raise InputError("The two passwords differ.")
    return user, password
