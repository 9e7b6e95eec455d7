"""`asgiforge.server.tls`: the TLS files loaded once, every mistake a one-line `ServeError`."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from asgiforge.errors import ServeError
from asgiforge.server.options import HTTPOptions
from asgiforge.server.tls import server_context

trustme = pytest.importorskip("trustme")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    paths = {"cert": tmp_path / "cert.pem", "ca": tmp_path / "ca.pem", "bad": tmp_path / "bad.pem"}
    cert.private_key_and_cert_chain_pem.write_to_path(str(paths["cert"]))
    ca.cert_pem.write_to_path(str(paths["ca"]))
    paths["bad"].write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    return paths


def test_no_certificate_no_context() -> None:
    assert server_context(HTTPOptions()) is None


def test_the_context_has_the_requested_policy(files: dict[str, Path]) -> None:
    context = server_context(
        HTTPOptions(
            ssl_certfile=str(files["cert"]),
            ssl_ca_certs=str(files["ca"]),
            ssl_cert_reqs="optional",
        )
    )
    assert context is not None
    assert context.verify_mode == ssl.CERT_OPTIONAL
    assert context.cert_store_stats()["x509_ca"] == 1


def test_a_ca_file_that_does_not_parse_is_one_line(files: dict[str, Path]) -> None:
    options = HTTPOptions(
        ssl_certfile=str(files["cert"]), ssl_ca_certs=str(files["bad"]), ssl_cert_reqs="required"
    )
    with pytest.raises(ServeError, match=f"cannot load --ssl-ca-certs {files['bad']}: "):
        server_context(options)


def test_a_cipher_list_selecting_nothing_is_one_line(files: dict[str, Path]) -> None:
    options = HTTPOptions(ssl_certfile=str(files["cert"]), ssl_ciphers="NOPE")
    with pytest.raises(ServeError, match="--ssl-ciphers 'NOPE' selects no cipher"):
        server_context(options)


def test_a_key_that_is_not_the_certificates_is_one_line(
    files: dict[str, Path], tmp_path: Path
) -> None:
    other = trustme.CA().issue_cert("127.0.0.1")
    key = tmp_path / "other.key"
    other.private_key_pem.write_to_path(str(key))
    cert = tmp_path / "only-cert.pem"
    trustme.CA().issue_cert("127.0.0.1").cert_chain_pems[0].write_to_path(str(cert))
    with pytest.raises(ServeError, match=f"cannot load TLS certificate {cert}"):
        server_context(HTTPOptions(ssl_certfile=str(cert), ssl_keyfile=str(key)))
