"""Loading the TLS files into an `ssl.SSLContext` once, so every mistake in them is one line.

uvicorn loads them itself in each worker, where a wrong password or a CA file that does not parse
would surface as a traceback per worker (and an encrypted key without a password makes OpenSSL
prompt on the terminal). `serve`'s master, `dev` and `--check-config` call `server_context`
first: it loads the files the way uvicorn will, with the same settings, and raises `ServeError`.
"""

from __future__ import annotations

import ssl

from asgiforge.errors import ServeError
from asgiforge.server.options import HTTPOptions

__all__ = ["CERT_REQS", "server_context"]

CERT_REQS = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}


def server_context(http: HTTPOptions) -> ssl.SSLContext | None:
    """The server's context for `http`'s TLS settings (None without a certificate).

    The password is always given through a callback, so an encrypted key never makes OpenSSL
    ask on the terminal: without a password it is the error naming where to put one.
    """
    certfile = http.ssl_certfile
    if not certfile:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    asked: list[bool] = []

    def password() -> str:
        asked.append(True)
        return http.ssl_keyfile_password or ""

    try:
        context.load_cert_chain(certfile, http.ssl_keyfile, password)
    except ssl.SSLError as exc:  # before OSError: it is one
        keyfile = http.ssl_keyfile or certfile
        if asked and http.ssl_keyfile_password is None:
            raise ServeError(
                f"the TLS key {keyfile} is encrypted: give its password in "
                "ASGIFORGE_SSL_KEYFILE_PASSWORD or --ssl-keyfile-password-file"
            ) from None
        if asked:
            raise ServeError(f"cannot load TLS key {keyfile}: wrong password") from None
        raise ServeError(f"cannot load TLS certificate {certfile}: {exc.reason or exc}") from None
    except OSError as exc:
        raise ServeError(f"cannot load TLS certificate {certfile}: {_reason(exc)}") from None
    context.verify_mode = CERT_REQS[http.ssl_cert_reqs]
    if http.ssl_ca_certs:
        try:
            context.load_verify_locations(http.ssl_ca_certs)
        except (OSError, ssl.SSLError) as exc:
            reason = exc.reason if isinstance(exc, ssl.SSLError) else _reason(exc)
            raise ServeError(f"cannot load --ssl-ca-certs {http.ssl_ca_certs}: {reason}") from None
    try:
        context.set_ciphers(http.ssl_ciphers)
    except ssl.SSLError:
        raise ServeError(f"--ssl-ciphers {http.ssl_ciphers!r} selects no cipher") from None
    return context


def _reason(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ENOENT:
        return "no such file"
    return exc.strerror or str(exc)
