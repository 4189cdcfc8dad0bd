"""The admin API over TLS, with client certificates (mTLS) as an alternative
to admin tokens: the countersign CLI and Python's ssl module against a
gateway with [server.admin_tls] and [[admin_client]] entries. Certificates
are made here with `cryptography` (an independent X.509 implementation)."""

import datetime
import http.client
import ipaddress
import json
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness import (ADMIN_TOKENS, JIT_BUCKET, KEY_1, JitGateway, countersign_binary, credential_process_cli,
                     key_ring)

ALICE_SAN = "spiffe://example.test/people/alice"
OPS_SAN = "ops.admin.example.test"


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _leaf(ca, cn, sans, usage):
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def _write(directory, name, cert, key=None):
    (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        (directory / f"{name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


@pytest.fixture(scope="module")
def pki():
    directory = Path(f"/tmp/countersign-admin-tls-{uuid.uuid4().hex[:8]}")
    directory.mkdir()
    server_ca = _ca("countersign test server CA")
    client_ca = _ca("countersign test admin client CA")
    rogue_ca = _ca("someone else's CA")
    _write(directory, "server-ca", server_ca[0])
    _write(directory, "client-ca", client_ca[0])
    _write(directory, "admin", *_leaf(server_ca, "countersign admin",
                                      [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
                                      ExtendedKeyUsageOID.SERVER_AUTH))
    client = ExtendedKeyUsageOID.CLIENT_AUTH
    _write(directory, "alice", *_leaf(client_ca, "alice", [x509.UniformResourceIdentifier(ALICE_SAN)], client))
    _write(directory, "ops", *_leaf(client_ca, "ops", [x509.DNSName(OPS_SAN)], client))
    _write(directory, "stranger", *_leaf(client_ca, "stranger",
                                         [x509.UniformResourceIdentifier("spiffe://example.test/people/stranger")],
                                         client))
    # The right name, the wrong issuer.
    _write(directory, "rogue-alice", *_leaf(rogue_ca, "alice", [x509.UniformResourceIdentifier(ALICE_SAN)], client))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def gw(moto, pki):
    state = f"/tmp/countersign-admin-tls-state-{uuid.uuid4().hex[:8]}"
    gateway = JitGateway(
        moto.url, moto.access_key_id, moto.secret_access_key,
        store="sqlite::memory:", ring=key_ring((1, "active", KEY_1)), state_dir=state,
        server_extra=f"""
[server.admin_tls]
cert = "{pki / 'admin.pem'}"
key = "{pki / 'admin.key'}"
client_ca = "{pki / 'client-ca.pem'}"
""",
        extra=f"""
[[admin_client]]
principal = "alice"
san = "{ALICE_SAN}"

[[admin_client]]
principal = "ops"
san = "{OPS_SAN}"
operator = true
""",
        admin_scheme="https")
    yield gateway
    gateway.stop()
    shutil.rmtree(state, ignore_errors=True)


def cli(gw, pki, *args, cert=None, token=None, ca=True, url=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTERSIGN_ADMIN")}
    env["COUNTERSIGN_ADMIN_URL"] = url or gw.admin_url
    if ca:
        env["COUNTERSIGN_ADMIN_CA"] = str(pki / "server-ca.pem")
    if cert:
        env["COUNTERSIGN_ADMIN_CERT"] = str(pki / f"{cert}.pem")
        env["COUNTERSIGN_ADMIN_KEY"] = str(pki / f"{cert}.key")
    if token:
        env["COUNTERSIGN_ADMIN_TOKEN"] = token
    return subprocess.run([countersign_binary(), *args], env=env, capture_output=True, text=True, timeout=60)


def https(gw, pki, path, cert=None, token=None, method="GET", body=None):
    """(status, json) of an admin call made with Python's ssl module."""
    context = ssl.create_default_context(cafile=str(pki / "server-ca.pem"))
    if cert:
        context.load_cert_chain(str(pki / f"{cert}.pem"), str(pki / f"{cert}.key"))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(gw.admin_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if path.startswith("/v1/") else raw.decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_client_certificate_is_its_principal_without_a_token(gw, pki):
    assert https(gw, pki, "/v1/whoami", cert="alice") == (200, {"principal": "alice", "operator": False})
    assert https(gw, pki, "/v1/whoami", cert="ops") == (200, {"principal": "ops", "operator": True})
    out = cli(gw, pki, "creds", "issue", "--format", "json", cert="alice")
    assert out.returncode == 0, out.stderr
    creds = json.loads(out.stdout)
    assert creds["AccessKeyId"].startswith("CSGW")
    # The credentials work on the data plane like any others.
    s3 = gw.issued_client("s3", creds)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=JIT_BUCKET, Key="uploads/by-cert.txt", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "alice" in e.value.response["Error"]["Message"]
    out = cli(gw, pki, "grant", "request", "--role", "uploads-writer", "--duration", "5m",
              "--reason", "requested over mTLS", "--json", cert="alice")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["principal"] == "alice"


def test_operator_rights_follow_the_certificate(gw, pki):
    creds = json.loads(cli(gw, pki, "creds", "issue", "--format", "json", cert="alice").stdout)
    out = cli(gw, pki, "creds", "revoke", creds["AccessKeyId"], cert="alice")
    assert out.returncode == 1 and "only operators" in out.stderr, out.stderr
    out = cli(gw, pki, "creds", "revoke", creds["AccessKeyId"], "--reason", "cert test", cert="ops")
    assert out.returncode == 0, out.stderr
    with pytest.raises(ClientError) as e:
        gw.issued_client("s3", creds).get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_a_certificate_no_admin_client_names_authenticates_nobody(gw, pki):
    status, body = https(gw, pki, "/v1/whoami", cert="stranger")
    assert status == 401 and body["error"]["code"] == "Unauthorized", body
    # A token still works on such a connection, and is what counts.
    assert https(gw, pki, "/v1/whoami", cert="stranger", token=ADMIN_TOKENS["bob"]) == (
        200, {"principal": "bob", "operator": False})
    # A wrong token is refused even on a connection certified as alice.
    wrong = "not-a-token-0123456789abcdef"
    status, body = https(gw, pki, "/v1/whoami", cert="alice", token=wrong)
    assert status == 401, body
    # Both refusals are counted and audited, without the token.
    _, metrics = https(gw, pki, "/metrics")
    for reason in ("unknown_certificate", "unknown_token"):
        assert f'countersign_admin_auth_failures_total{{reason="{reason}"}} 1' in metrics, metrics
    refused = [e for e in gw.audit_events() if e.get("event") == "admin_unauthenticated"]
    assert [(e["reason"], e["path"], e["method"]) for e in refused] == [
        ("unknown_certificate", "/v1/whoami", "GET"), ("unknown_token", "/v1/whoami", "GET")], refused
    assert all(e["client"].startswith("127.0.0.1:") for e in refused), refused
    assert wrong not in gw.audit_path.read_text() and wrong not in gw.logs()


def test_tokens_over_tls_and_probes_without_a_certificate(gw, pki):
    assert https(gw, pki, "/v1/whoami", token=ADMIN_TOKENS["carol"]) == (
        200, {"principal": "carol", "operator": False})
    status, body = https(gw, pki, "/v1/whoami")
    assert status == 401 and "client certificate" in body["error"]["message"], body
    assert https(gw, pki, "/healthz") == (200, "ok\n")
    out = cli(gw, pki, "grant", "list", "--json", token=ADMIN_TOKENS["carol"])
    assert out.returncode == 0, out.stderr


def test_the_aws_cli_with_credential_process_and_only_a_client_certificate(gw, pki, upstream_s3, tmp_path):
    """A workload whose only secret is its X.509 identity (an SVID, say):
    the AWS CLI's credential_process runs `countersign creds issue` with the
    client certificate, no admin token, and gets short-lived credentials."""
    aws = credential_process_cli(
        tmp_path, gw.url,
        f"{countersign_binary()} creds issue --format credential-process --ttl 10m"
        f" --admin-url {gw.admin_url} --admin-ca {pki / 'server-ca.pem'}"
        f" --admin-cert {pki / 'alice.pem'} --admin-key {pki / 'alice.key'}")
    out = aws("s3", "ls", f"s3://{JIT_BUCKET}/reports/")
    assert out.returncode == 0, out.stderr
    assert "q3.csv" in out.stdout
    # alice's standing policy still decides: no writes.
    out = aws("s3", "cp", "-", f"s3://{JIT_BUCKET}/reports/cli.txt", input="x")
    assert out.returncode != 0 and "AccessDenied" in out.stderr, out.stderr
    issued = [e for e in gw.audit_events() if e.get("event") == "credentials_issued"]
    assert issued and issued[-1]["principal"] == "alice" and issued[-1]["actor"] == "alice", issued


def test_certificates_from_another_ca_and_plain_http_are_refused(gw, pki):
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        https(gw, pki, "/v1/whoami", cert="rogue-alice")
    out = cli(gw, pki, "creds", "issue", "--format", "json", cert="rogue-alice")
    assert out.returncode != 0 and "cannot reach the admin API" in out.stderr, out.stderr
    # The server's certificate is checked too: not a public CA's.
    out = cli(gw, pki, "creds", "issue", "--format", "json", cert="alice", ca=False)
    assert out.returncode != 0 and "cannot reach the admin API" in out.stderr, out.stderr
    assert "UnknownIssuer" in out.stderr, out.stderr
    # Plain HTTP to the TLS listener gets no HTTP answer (a TLS alert, then
    # the connection closes).
    plain = gw.admin_url.replace("https://", "http://")
    with pytest.raises((http.client.HTTPException, urllib.error.URLError, OSError)):
        urllib.request.urlopen(plain + "/healthz", timeout=5).read()
    out = cli(gw, pki, "creds", "issue", cert="alice", url=plain)
    assert out.returncode == 2 and "https" in out.stderr, out.stderr
    # Whatever was refused, the gateway still serves.
    assert https(gw, pki, "/v1/whoami", cert="alice")[0] == 200
