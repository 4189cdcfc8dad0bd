"""HTTPS_PROXY mode: boto3 and the AWS CLI configured only with HTTPS_PROXY,
AWS_CA_BUNDLE and gateway credentials call the real AWS host names; the
gateway intercepts them (leaf certificates minted by its CA), verifies,
authorizes, countersigns and forwards them to moto_server (authentication
on) through endpoint_override. Nothing here can reach the internet: every
AWS name is answered by the gateway's own TLS, the only CA the clients trust
is the gateway's, and refused CONNECTs never resolve or dial.

Egress: a CONNECT to a non-AWS host is refused, an allow-listed local TLS
server is tunnelled byte for byte (its own certificate reaches the client),
names resolving to loopback or the metadata address are refused."""

import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import GATEWAY_KEY_ID, GATEWAY_SECRET, REGION, Gateway, countersign_binary, free_port

PROXY_KEY_ID = "AKCSE2EPROXY00000001"
PROXY_SECRET = "e2e-proxy-secret-0123456789abcdefghijkl"
PROXY_USER, PROXY_PASSWORD = "egress-user", "egress-password-0123"


def ca_init(directory):
    """`countersign ca init`: prints the bundle path; the key is private."""
    out = subprocess.run([countersign_binary(), "ca", "init", "--dir", str(directory)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    bundle = Path(out.stdout.strip())
    assert bundle.exists() and bundle.read_text().startswith("-----BEGIN CERTIFICATE-----")
    key = directory / "ca-key.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" not in out.stdout + out.stderr
    return bundle, key


def metrics(gw):
    """The admin endpoint, never through a proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(gw.admin_url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def events(gw, kind):
    return [e for e in gw.audit_events() if e.get("event") == kind]


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return ca_init(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def proxy_gateway(moto, ca):
    bundle, key = ca
    extra = f"""
[proxy]
ca_cert = "{bundle}"
ca_key = "{key}"

[[principal]]
name = "proxy-workload"
access_keys = [{{ id = "{PROXY_KEY_ID}", secret = "{PROXY_SECRET}" }}]
policies = ["all-but-delete"]

[policy.all-but-delete]
document = '''{{"Version":"2012-10-17","Statement":[
  {{"Effect":"Allow","Action":"*","Resource":"*"}},
  {{"Sid":"NoDeletes","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}}]}}'''
"""
    gw = Gateway(moto.url, moto.access_key_id, moto.secret_access_key, extra=extra)
    gw.bundle = bundle
    yield gw
    gw.stop()


@pytest.fixture()
def proxy_env(proxy_gateway, monkeypatch, tmp_path):
    """Exactly what a workload is given: HTTPS_PROXY, AWS_CA_BUNDLE, gateway
    credentials. No endpoint URL, no NO_PROXY escape hatch."""
    for k in list(os.environ):
        if k.startswith("AWS_") or k.lower() in ("no_proxy", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(k)
    (tmp_path / "aws-config").write_text("[default]\n")
    env = {
        "HTTPS_PROXY": f"http://127.0.0.1:{proxy_gateway.port}",
        "AWS_CA_BUNDLE": str(proxy_gateway.bundle),
        "AWS_ACCESS_KEY_ID": PROXY_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": PROXY_SECRET,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_MAX_ATTEMPTS": "1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def session():
    # A fresh session reads the environment now.
    return boto3.session.Session()


def test_boto3_s3_through_https_proxy(proxy_env, proxy_gateway):
    s3 = session().client("s3")
    assert s3.meta.endpoint_url.startswith("https://s3.") and "amazonaws.com" in s3.meta.endpoint_url
    s3.create_bucket(Bucket="e2e-proxy")
    s3.put_object(Bucket="e2e-proxy", Key="hello.txt", Body=b"through the proxy")
    assert s3.get_object(Bucket="e2e-proxy", Key="hello.txt")["Body"].read() == b"through the proxy"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="e2e-proxy")["Contents"]]
    assert keys == ["hello.txt"]

    # 20 MiB in three parts.
    payload = os.urandom(20 * 1024 * 1024)
    import io
    s3.upload_fileobj(io.BytesIO(payload), "e2e-proxy", "big.bin",
                      Config=TransferConfig(multipart_threshold=8 * 1024 * 1024,
                                            multipart_chunksize=8 * 1024 * 1024, max_concurrency=2))
    head = s3.head_object(Bucket="e2e-proxy", Key="big.bin")
    assert head["ContentLength"] == len(payload)
    assert "-3" in head["ETag"], head["ETag"]
    got = s3.get_object(Bucket="e2e-proxy", Key="big.bin")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()

    # Intercepted, not tunnelled: the CONNECT host was an AWS name.
    connects = events(proxy_gateway, "connect")
    hosts = {e["target"] for e in connects if e["decision"] == "intercept"}
    assert any(h.endswith(".amazonaws.com") for h in hosts), connects
    calls = [e for e in proxy_gateway.audit_events() if e.get("principal") == "proxy-workload"]
    assert any(e["method"] == "PUT" and e["status"] == 200 for e in calls)


def test_a_denied_call_is_access_denied(proxy_env, proxy_gateway):
    s3 = session().client("s3")
    s3.create_bucket(Bucket="e2e-proxy-deny")
    s3.put_object(Bucket="e2e-proxy-deny", Key="keep.txt", Body=b"keep")
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="e2e-proxy-deny", Key="keep.txt")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert s3.get_object(Bucket="e2e-proxy-deny", Key="keep.txt")["Body"].read() == b"keep"


def test_boto3_dynamodb_and_sts(proxy_env):
    ddb = session().client("dynamodb")
    assert ddb.meta.endpoint_url == "https://dynamodb.us-east-1.amazonaws.com"
    ddb.create_table(TableName="e2e-proxy", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="e2e-proxy", Item={"pk": {"S": "k1"}, "v": {"S": "via proxy"}})
    item = ddb.get_item(TableName="e2e-proxy", Key={"pk": {"S": "k1"}})["Item"]
    assert item["v"]["S"] == "via proxy"

    sts = session().client("sts", endpoint_url="https://sts.amazonaws.com")
    assert sts.get_caller_identity()["Arn"].endswith(":user/countersign-upstream")
    regional = session().client("sts")
    assert "amazonaws.com" in regional.meta.endpoint_url
    assert regional.get_caller_identity()["Arn"].endswith(":user/countersign-upstream")


def test_aws_cli_through_https_proxy(proxy_env, tmp_path):
    env = dict(os.environ)
    aws = [sys.executable, "-m", "awscli"]

    def run(*args):
        out = subprocess.run(aws + list(args), env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, (args, out.stderr)
        return out.stdout

    assert "countersign-upstream" in run("sts", "get-caller-identity")
    run("s3api", "create-bucket", "--bucket", "e2e-proxy-cli")
    src = tmp_path / "cli.txt"
    src.write_bytes(b"aws cli via HTTPS_PROXY")
    run("s3", "cp", str(src), "s3://e2e-proxy-cli/cli.txt")
    assert "cli.txt" in run("s3", "ls", "s3://e2e-proxy-cli/")
    run("s3", "cp", "s3://e2e-proxy-cli/cli.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_bytes() == b"aws cli via HTTPS_PROXY"
    out = subprocess.run(aws + ["s3", "rm", "s3://e2e-proxy-cli/cli.txt"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "AccessDenied" in out.stderr
    run("dynamodb", "create-table", "--table-name", "e2e-proxy-cli",
        "--key-schema", "AttributeName=pk,KeyType=HASH",
        "--attribute-definitions", "AttributeName=pk,AttributeType=S", "--billing-mode", "PAY_PER_REQUEST")
    run("dynamodb", "put-item", "--table-name", "e2e-proxy-cli", "--item", '{"pk": {"S": "cli"}}')
    item = json.loads(run("dynamodb", "get-item", "--table-name", "e2e-proxy-cli", "--key", '{"pk": {"S": "cli"}}'))
    assert item["Item"]["pk"]["S"] == "cli"


def test_plain_http_proxy_requests_to_aws_go_through_the_pipeline(proxy_env, proxy_gateway, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy_gateway.port}")
    sts = session().client("sts", endpoint_url="http://sts.us-east-1.amazonaws.com")
    assert sts.get_caller_identity()["Arn"].endswith(":user/countersign-upstream")
    assert any(e["decision"] == "intercept" and e["method"] == "POST" for e in events(proxy_gateway, "connect"))


def raw_connect(port, target, headers=""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{headers}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    status = int(head.split(b" ", 2)[1])
    return s, status, head


def test_leaf_certificates_are_cached_per_host(proxy_gateway):
    ctx = ssl.create_default_context(cafile=str(proxy_gateway.bundle))
    host = "cache-check.s3.us-east-1.amazonaws.com"

    def handshake():
        s, status, _ = raw_connect(proxy_gateway.port, f"{host}:443")
        assert status == 200
        with ctx.wrap_socket(s, server_hostname=host) as tls:
            cert = tls.getpeercert()
            assert ("DNS", host) in cert["subjectAltName"]

    before = metrics(proxy_gateway)
    handshake()
    first = metrics(proxy_gateway)
    handshake()
    second = metrics(proxy_gateway)
    minted = "countersign_proxy_leaf_certs_minted_total"
    hits = "countersign_proxy_leaf_cache_hits_total"
    assert first[minted] == before.get(minted, 0) + 1
    assert second[minted] == first[minted], "the second connection must not mint"
    assert second[hits] == first.get(hits, 0) + 1


# ---- egress: blind tunnels and refusals ---------------------------------------------------------


def self_signed(directory):
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "server.pem", directory / "server-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class EchoTls:
    """A local TLS server that echoes what it reads, one connection at a time."""

    def __init__(self, directory):
        self.cert, key = self_signed(directory)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(self.cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as tls:
                    while data := tls.recv(65536):
                        tls.sendall(data)
            except (OSError, ssl.SSLError):
                pass

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory):
    server = EchoTls(tmp_path_factory.mktemp("echo"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def egress_gateways(moto, ca, echo_server):
    """`open`: localhost allow-listed and loopback explicitly allowed (to
    reach the echo server). `strict`: the same names allow-listed but no
    private destination allowed, and proxy authentication on."""
    bundle, key = ca
    common = f"""
[proxy]
ca_cert = "{bundle}"
ca_key = "{key}"
allow_tunnel = ["localhost", "169.254.169.254", "::ffff:127.0.0.1", "*.internal.test"]
tunnel_ports = [443, 80, {echo_server.port}]
"""
    open_gw = Gateway(moto.url, moto.access_key_id, moto.secret_access_key,
                      extra=common + 'allowed_destination_cidrs = ["127.0.0.0/8", "::1/128"]\n')
    strict = Gateway(moto.url, moto.access_key_id, moto.secret_access_key,
                     extra=common + f'users = [{{ name = "{PROXY_USER}", password = "{PROXY_PASSWORD}" }}]\n')
    yield open_gw, strict
    open_gw.stop()
    strict.stop()


def test_allow_listed_host_is_tunnelled_byte_for_byte(egress_gateways, echo_server):
    open_gw, _ = egress_gateways
    s, status, _ = raw_connect(open_gw.port, f"localhost:{echo_server.port}")
    assert status == 200
    # The client sees the echo server's own certificate: a blind tunnel, no interception.
    ctx = ssl.create_default_context(cafile=str(echo_server.cert))
    with ctx.wrap_socket(s, server_hostname="localhost") as tls:
        payload = os.urandom(256 * 1024)
        received = b""
        tls.sendall(payload)
        while len(received) < len(payload):
            received += tls.recv(65536)
        assert received == payload
    closed = events(open_gw, "tunnel_closed")
    import time
    deadline = time.monotonic() + 5
    while not closed and time.monotonic() < deadline:
        time.sleep(0.1)
        closed = events(open_gw, "tunnel_closed")
    assert closed and closed[-1]["bytes_up"] >= len(payload) and closed[-1]["bytes_down"] >= len(payload)
    tunnel = [e for e in events(open_gw, "connect") if e["decision"] == "tunnel"]
    assert tunnel and tunnel[-1]["destination"].startswith(("127.0.0.1", "[::1]"))


def auth_header(password=PROXY_PASSWORD):
    import base64
    return "Proxy-Authorization: Basic " + base64.b64encode(f"{PROXY_USER}:{password}".encode()).decode() + "\r\n"


def test_non_aws_host_is_refused(egress_gateways):
    for gw, headers in zip(egress_gateways, ("", auth_header())):
        s, status, _ = raw_connect(gw.port, "example.com:443", headers)
        s.close()
        assert status == 403
        e = events(gw, "connect")[-1]
        assert (e["target"], e["decision"], e["destination"]) == ("example.com", "deny", None)


@pytest.mark.parametrize("target,why", [
    ("localhost:{port}", "loopback"),
    ("169.254.169.254:80", "link-local"),
    ("[::ffff:127.0.0.1]:443", "loopback"),
])
def test_private_destinations_are_refused(egress_gateways, echo_server, target, why):
    _, strict = egress_gateways
    accepted = echo_server.accepted
    s, status, head = raw_connect(strict.port, target.format(port=echo_server.port), auth_header())
    s.close()
    assert status == 403, head
    e = events(strict, "connect")[-1]
    assert e["decision"] == "deny" and why in e["reason"], e
    assert echo_server.accepted == accepted, "a refused destination must never be dialled"


def test_proxy_authentication(egress_gateways, echo_server):
    _, strict = egress_gateways
    s, status, head = raw_connect(strict.port, "example.com:443")
    s.close()
    assert status == 407 and b"proxy-authenticate: basic" in head.lower()
    bad = auth_header("wrong-password-000")
    s, status, _ = raw_connect(strict.port, "sts.amazonaws.com:443", bad)
    s.close()
    assert status == 407
    s, status, _ = raw_connect(strict.port, "sts.amazonaws.com:443", auth_header())
    s.close()
    assert status == 200
    assert events(strict, "connect")[-1]["proxy_user"] == PROXY_USER
    m = metrics(strict)
    assert m['countersign_proxy_connect_total{decision="deny",reason="proxy_auth"}'] >= 2


def test_aws_hosts_only_on_443_and_endpoint_mode_still_works(proxy_gateway):
    s, status, _ = raw_connect(proxy_gateway.port, "s3.amazonaws.com:8443")
    s.close()
    assert status == 403
    # The same listener keeps serving endpoint-mode requests.
    sts = proxy_gateway.client("sts", key_id=PROXY_KEY_ID, secret=PROXY_SECRET)
    assert sts.get_caller_identity()["Arn"].endswith(":user/countersign-upstream")
