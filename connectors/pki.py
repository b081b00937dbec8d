"""A small test PKI for the document axis: one CA and one signing certificate per agency.

The real axis trusts certificates issued by the Government Cipher Committee's CA (Ban Cơ yếu Chính phủ); for the
demo and the tests we play that CA ourselves. Keys are RSA 2048, signatures SHA-256, validity a few years.

- `make_ca(common_name) -> (key_pem, cert_pem)`: a self-signed CA certificate;
- `issue_agency_cert(ca_key_pem, ca_cert_pem, agency_code, organ_name) -> (key_pem, cert_pem)`: an agency's
  signing certificate. The agency code goes in the subject as `serialNumber` and `OU`, the organ name as `CN`/`O`;
- `agency_code_of(cert_pem) -> str | None`: read the agency code back from a certificate;
- `ensure_demo_pki(directory, agency_codes)`: create the files once (idempotent), key files mode 0600.

The certificates carry the extensions a strict verifier (cryptography's x509.verification, used by signxml)
demands: BasicConstraints, KeyUsage, Subject/Authority Key Identifiers, ExtendedKeyUsage and a URI SAN
(`urn:motcua:agency:<code>`).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["agency_code_of", "ensure_demo_pki", "issue_agency_cert", "make_ca"]

CA_YEARS = 10
AGENCY_YEARS = 3


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def make_ca(common_name: str = "MotCua Test CA") -> tuple[bytes, bytes]:
    """A self-signed CA: returns (key_pem, cert_pem)."""
    key = _new_key()
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MotCua (thử nghiệm)"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _key_pem(key), cert.public_bytes(serialization.Encoding.PEM)


def issue_agency_cert(ca_key_pem: bytes, ca_cert_pem: bytes, agency_code: str, organ_name: str,
                      ) -> tuple[bytes, bytes]:
    """An agency signing certificate issued by the CA: returns (key_pem, cert_pem).

    Subject: C=VN, O=<organ_name>, OU=<agency_code>, serialNumber=<agency_code>, CN=<organ_name>.
    """
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise ValueError("the CA key must be RSA")
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    key = _new_key()
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organ_name[:64]),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, agency_code),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, agency_code),
        x509.NameAttribute(NameOID.COMMON_NAME, organ_name[:64]),
    ])
    now = _now()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=365 * AGENCY_YEARS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName([
            x509.UniformResourceIdentifier(f"urn:motcua:agency:{agency_code}")]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _key_pem(key), cert.public_bytes(serialization.Encoding.PEM)


def agency_code_of(cert_pem: bytes | x509.Certificate) -> str | None:
    """The agency code in a certificate's subject (serialNumber, else OU), or None."""
    cert = cert_pem if isinstance(cert_pem, x509.Certificate) else x509.load_pem_x509_certificate(cert_pem)
    for oid in (NameOID.SERIAL_NUMBER, NameOID.ORGANIZATIONAL_UNIT_NAME):
        attrs = cert.subject.get_attributes_for_oid(oid)
        if attrs:
            value = attrs[0].value
            return value if isinstance(value, str) else value.decode()
    return None


def _write(path: Path, data: bytes, *, private: bool) -> None:
    tmp = path.with_name(path.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(tmp, flags, 0o600 if private else 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    if private:
        os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def ensure_demo_pki(directory: str | os.PathLike[str], agency_codes: list[str] | tuple[str, ...] | dict[str, str],
                    ) -> dict[str, dict[str, str]]:
    """Create (once) a CA and a certificate per agency under `directory`; return their paths.

    `agency_codes` is a list of codes or a dict code -> organ name. Existing files are kept, so calling it twice
    is cheap and stable. Returns `{"ca": {"key", "cert"}, "<code>": {"key", "cert"}, ...}` (string paths).
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    names = dict(agency_codes) if isinstance(agency_codes, dict) else {code: f"Cơ quan {code}" for code in agency_codes}
    ca_key_path, ca_cert_path = root / "ca.key.pem", root / "ca.cert.pem"
    if not (ca_key_path.exists() and ca_cert_path.exists()):
        ca_key, ca_cert = make_ca()
        _write(ca_key_path, ca_key, private=True)
        _write(ca_cert_path, ca_cert, private=False)
    result = {"ca": {"key": str(ca_key_path), "cert": str(ca_cert_path)}}
    ca_key_pem, ca_cert_pem = ca_key_path.read_bytes(), ca_cert_path.read_bytes()
    for code, organ_name in names.items():
        key_path, cert_path = root / f"{code}.key.pem", root / f"{code}.cert.pem"
        if not (key_path.exists() and cert_path.exists()):
            key, cert = issue_agency_cert(ca_key_pem, ca_cert_pem, code, organ_name)
            _write(key_path, key, private=True)
            _write(cert_path, cert, private=False)
        result[code] = {"key": str(key_path), "cert": str(cert_path)}
    return result
