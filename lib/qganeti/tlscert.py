"""The cluster certificate, $ROOT/var/lib/qganeti/server.pem, and TLS contexts.

One self-signed certificate and its key (PEM, in one file, mode 0600), made
on the master when the cluster first grows beyond one node and copied to
every node at node add.  volume-copy's two ends both present it and accept
only a peer that presents it too (the certificate is its own and only CA),
so a stream between nodes is encrypted and authenticated by the cluster.
"""

import os

from qganeti import errors, fileio, paths

VALID_DAYS = 5 * 365


def cert_file():
    return os.path.join(paths.data_dir(), "server.pem")


def ensure(common_name="qganeti.example.com"):
    """Make the cluster certificate unless it exists; its path."""
    path = cert_file()
    if os.path.exists(path):
        return path
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = (key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())
           + cert.public_bytes(serialization.Encoding.PEM))
    install(pem.decode("ascii"))
    return path


def install(text):
    if "BEGIN CERTIFICATE" not in text or "PRIVATE KEY" not in text:
        raise errors.OpPrereqError("Not a certificate with its key", errors.ECODE_INVAL)
    fileio.ensure_dir(paths.data_dir(), 0o755)
    fileio.atomic_write(cert_file(), text, mode=0o600)


def read():
    return fileio.read_file(cert_file())


def context(server):
    """An ssl.SSLContext that presents the cluster certificate and wants it back."""
    import ssl
    path = cert_file()
    if not os.path.exists(path):
        raise errors.OpPrereqError("This node has no cluster certificate (%s)" % path,
                                   errors.ECODE_ENVIRON)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(path)
    ctx.load_verify_locations(path)
    ctx.check_hostname = False       # nodes are named by the cluster, not by the cert
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
