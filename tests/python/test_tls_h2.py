"""TLS termination and HTTP/2: boto3 over HTTPS, and curl's own SigV4
signer (an independent implementation) over HTTP/2 with TLS."""

import datetime
import ipaddress
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import GATEWAY_KEY_ID, GATEWAY_SECRET, Gateway


def self_signed(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "countersign-e2e")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_gateway(moto, tmp_path_factory):
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    gw = Gateway(moto.url, moto.access_key_id, moto.secret_access_key, scheme="https",
                 extra=f'tls = {{ cert = "{cert}", key = "{key}" }}')
    gw.cert = cert
    yield gw
    gw.stop()


def test_boto3_over_tls(tls_gateway):
    sts = tls_gateway.client("sts", verify=str(tls_gateway.cert))
    assert sts.get_caller_identity()["Arn"].endswith(":user/countersign-upstream")
    s3 = tls_gateway.client("s3", verify=str(tls_gateway.cert))
    s3.create_bucket(Bucket="e2e-tls")
    s3.put_object(Bucket="e2e-tls", Key="over tls", Body=b"secret-free payload")
    assert s3.get_object(Bucket="e2e-tls", Key="over tls")["Body"].read() == b"secret-free payload"


def test_curl_sigv4_over_http2(tls_gateway):
    curl = shutil.which("curl")
    assert curl, "curl is part of the machine image; the HTTP/2 test needs it"
    out = subprocess.run(
        [curl, "-sS", "--http2", "--cacert", str(tls_gateway.cert), "--aws-sigv4", "aws:amz:us-east-1:sts",
         "--user", f"{GATEWAY_KEY_ID}:{GATEWAY_SECRET}", "-H", "content-type: application/x-www-form-urlencoded",
         "--data", "Action=GetCallerIdentity&Version=2011-06-15", "-w", "\\n%{http_version} %{http_code}",
         tls_gateway.url + "/"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    body, _, status_line = out.stdout.rpartition("\n")
    assert status_line == "2 200", out.stdout
    assert "countersign-upstream" in body


def test_tls_rejects_plain_http_and_keeps_serving(tls_gateway):
    import socket
    with socket.create_connection(("127.0.0.1", tls_gateway.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        try:
            s.recv(1024)
        except OSError:
            pass
    sts = tls_gateway.client("sts", verify=str(tls_gateway.cert))
    assert sts.get_caller_identity()["Arn"].endswith(":user/countersign-upstream")
