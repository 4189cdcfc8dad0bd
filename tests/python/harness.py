"""Process harness for the end-to-end tests: free ports, moto_server with
authentication on, and the countersign binary with a generated config."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
GATEWAY_KEY_ID = "AKCSE2ETEST000000001"
GATEWAY_SECRET = "e2e-gateway-secret-0123456789abcdefghij"
READONLY_KEY_ID = "AKCSE2EREADONLY00001"
READONLY_SECRET = "e2e-readonly-secret-0123456789abcdefgh"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def countersign_binary():
    path = os.environ.get("COUNTERSIGN_BIN") or str(REPO / "target" / "debug" / "countersign")
    if not Path(path).exists():
        raise RuntimeError(f"{path} not found: build it with `cargo build -p countersign` or set COUNTERSIGN_BIN")
    return path


class Moto:
    """moto_server with IAM authentication on after the set-up actions."""

    def __init__(self):
        self.port = free_port()
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3", MOTO_PORT=str(self.port))
        self.log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port)
        self.url = f"http://127.0.0.1:{self.port}"
        # The three unauthenticated actions: a user, its policy, its key.
        iam = boto3.client("iam", endpoint_url=self.url, region_name=REGION,
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="countersign-upstream")
        iam.put_user_policy(UserName="countersign-upstream", PolicyName="all", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
        }))
        key = iam.create_access_key(UserName="countersign-upstream")["AccessKey"]
        self.access_key_id = key["AccessKeyId"]
        self.secret_access_key = key["SecretAccessKey"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Gateway:
    """The countersign binary on free loopback ports."""

    def __init__(self, upstream_url, access_key_id, secret_access_key, limits=None, extra="", scheme="http"):
        self.port = free_port()
        self.admin_port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="countersign-e2e-"))
        self.audit_path = self.dir / "audit.jsonl"
        self.log_path = self.dir / "gateway.log"
        limits_toml = "\n".join(f"{k} = {v}" for k, v in (limits or {}).items())
        config = f"""
[server]
listen = "127.0.0.1:{self.port}"
admin_listen = "127.0.0.1:{self.admin_port}"
{extra}

[upstream]
endpoint_override = "{upstream_url}"
access_key_id = "{access_key_id}"
secret_access_key = "{secret_access_key}"

[[principal]]
name = "e2e-workload"
access_keys = [{{ id = "{GATEWAY_KEY_ID}", secret = "{GATEWAY_SECRET}" }}]
policies = ["allow-all"]

[[principal]]
name = "e2e-readonly"
access_keys = [{{ id = "{READONLY_KEY_ID}", secret = "{READONLY_SECRET}" }}]
policies = ["read-reports"]

[policy.allow-all]
document = '''{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}}]}}'''

[policy.read-reports]
document = '''{{"Version":"2012-10-17","Statement":[
  {{"Sid":"WhoAmI","Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}},
  {{"Sid":"ReadReports","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::e2e-authz","arn:aws:s3:::e2e-authz/*"]}},
  {{"Sid":"NeverSecrets","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::e2e-authz/secret/*"}},
  {{"Sid":"OnlyFromLoopback","Effect":"Allow","Action":"dynamodb:ListTables","Resource":"*","Condition":{{"IpAddress":{{"aws:SourceIp":"127.0.0.0/8"}}}}}},
  {{"Sid":"NeverFromLoopback","Effect":"Allow","Action":"sqs:ListQueues","Resource":"*","Condition":{{"NotIpAddress":{{"aws:SourceIp":"127.0.0.0/8"}}}}}}
]}}'''

[audit]
sink = "file"
path = "{self.audit_path}"

[limits]
{limits_toml}
"""
        self.config_path = self.dir / "countersign.toml"
        self.config_path.write_text(config)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([countersign_binary(), "serve", "--config", str(self.config_path)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"

    def client(self, service, secret=GATEWAY_SECRET, key_id=GATEWAY_KEY_ID, verify=None, **config):
        cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}, **config)
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, aws_access_key_id=key_id,
                            aws_secret_access_key=secret, config=cfg, verify=verify)

    def env(self):
        """Environment for the AWS CLI pointed at the gateway only."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ENDPOINT_URL=self.url, AWS_ACCESS_KEY_ID=GATEWAY_KEY_ID,
                   AWS_SECRET_ACCESS_KEY=GATEWAY_SECRET, AWS_DEFAULT_REGION=REGION,
                   AWS_CONFIG_FILE=str(self.dir / "aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(self.dir / "none"),
                   AWS_MAX_ATTEMPTS="1")
        (self.dir / "aws-config").write_text("[default]\ns3 =\n    addressing_style = path\n")
        return env

    def admin(self, path):
        with urllib.request.urlopen(self.admin_url + path, timeout=5) as r:
            return r.status, r.read().decode()

    def audit_events(self):
        if not self.audit_path.exists():
            return []
        return [json.loads(line) for line in self.audit_path.read_text().splitlines() if line.strip()]

    def logs(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


# -- Issued credentials and just-in-time grants -----------------------------

JIT_BUCKET = "jit-data"
ADMIN_TOKENS = {
    "alice": "alice-admin-token-0123456789abcdef",
    "bob": "bob-admin-token-0123456789abcdefgh",
    "carol": "carol-admin-token-0123456789abcdef",
    "dave": "dave-admin-token-0123456789abcdefg",
    "ops": "ops-operator-token-0123456789abcdef",
}
# moto's default account; the role is created by the test that uses it.
UPSTREAM_ROLE_ARN = "arn:aws:iam::123456789012:role/countersign-public-uploads"
KEY_1 = "MTExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTE="
KEY_2 = "MjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjIyMjI="


def credential_process_cli(tmp_path, endpoint_url, command, extra_env=None):
    """The AWS CLI pointed at `endpoint_url`, its default profile getting
    credentials from `command` (credential_process) and nothing else.
    Returns run(*args, input=None) -> CompletedProcess."""
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\ncredential_process = {command}\ns3 =\n    addressing_style = path\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COUNTERSIGN_ADMIN"))}
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_ENDPOINT_URL=endpoint_url, AWS_DEFAULT_REGION=REGION, AWS_MAX_ATTEMPTS="1",
               **(extra_env or {}))
    aws = str(Path(sys.executable).with_name("aws"))

    def run(*args, input=None):
        return subprocess.run([aws, *args], env=env, input=input, capture_output=True, text=True, timeout=120)
    return run


def key_ring(*entries):
    """Key ring TOML from (id, state, base64 secret) triples."""
    return "".join(f'[[key]]\nid = {i}\nstate = "{s}"\nsecret = "{k}"\n' for i, s, k in entries)


class JitGateway(Gateway):
    """A gateway whose principals hold no static keys: only issued
    credentials, standing policies and just-in-time grants.

    alice (group data) reads; she may request `uploads-writer` (writes under
    jit-data/uploads/, approved by one member of group sre: bob or dave) and
    `quick-writer` (same policy, automatic approval, for expiry tests) and
    `role-writer` (same policy, automatic approval, re-signed upstream as the
    IAM role UPSTREAM_ROLE_ARN, which the test creates in moto).
    carol is in no group. ops is an operator."""

    def __init__(self, upstream_url, access_key_id, secret_access_key, store, ring, state_dir=None,
                 max_staleness="60s", server_extra="", extra="", admin_scheme="http"):
        self.port = free_port()
        self.admin_port = free_port()
        self.dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="countersign-jit-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.audit_path = self.dir / f"audit-{self.port}.jsonl"
        self.log_path = self.dir / f"gateway-{self.port}.log"
        (self.dir / "keyring.toml").write_text(ring)
        tokens = "".join(
            f'[[admin_token]]\nprincipal = "{p}"\ntoken = "{t}"\noperator = {"true" if p == "ops" else "false"}\n'
            for p, t in ADMIN_TOKENS.items())
        config = f"""
[server]
listen = "127.0.0.1:{self.port}"
admin_listen = "127.0.0.1:{self.admin_port}"
{server_extra}

[upstream]
endpoint_override = "{upstream_url}"
access_key_id = "{access_key_id}"
secret_access_key = "{secret_access_key}"

[identity]
key_ring_file = "keyring.toml"
store = "{store}"
default_ttl = "15m"
max_staleness = "{max_staleness}"

[[principal]]
name = "alice"
kind = "person"
groups = ["data"]
tags = {{ team = "data" }}
policies = ["s3-read"]

[[principal]]
name = "bob"
kind = "person"
groups = ["sre"]
policies = ["s3-read"]

[[principal]]
name = "dave"
kind = "person"
policies = ["s3-read"]

[[principal]]
name = "carol"
kind = "person"
policies = ["s3-read"]

[[principal]]
name = "ops"
kind = "person"
policies = []

[[group]]
name = "sre"
members = ["dave"]

[[group]]
name = "data"

[[role]]
name = "uploads-writer"
policies = ["write-uploads"]
requesters = ["group:data", "group:sre"]
max_duration = "2h"
approver_group = "sre"
approvals = 1
require_reason = true

[[role]]
name = "quick-writer"
policies = ["write-uploads"]
requesters = ["group:data"]
max_duration = "10m"
require_reason = true

[[role]]
name = "role-writer"
policies = ["write-uploads"]
requesters = ["group:data"]
max_duration = "10m"
require_reason = true
upstream_role_arn = "{UPSTREAM_ROLE_ARN}"

{tokens}

[policy.s3-read]
document = '''{{"Version":"2012-10-17","Statement":[
  {{"Sid":"WhoAmI","Effect":"Allow","Action":"sts:GetCallerIdentity","Resource":"*"}},
  {{"Sid":"ReadData","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::{JIT_BUCKET}","arn:aws:s3:::{JIT_BUCKET}/*"]}}
]}}'''

[policy.write-uploads]
document = '''{{"Version":"2012-10-17","Statement":[
  {{"Sid":"WriteUploads","Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::{JIT_BUCKET}/uploads/*"}}
]}}'''

[audit]
sink = "file"
path = "{self.audit_path}"
{extra}
"""
        self.config_path = self.dir / f"countersign-{self.port}.toml"
        self.config_path.write_text(config)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([countersign_binary(), "serve", "--config", str(self.config_path)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        wait_for_port(self.admin_port)
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_url = f"{admin_scheme}://127.0.0.1:{self.admin_port}"

    def api(self, method, path, as_principal, body=None):
        """Calls the admin API as a principal; returns (status, json)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.admin_url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {ADMIN_TOKENS[as_principal]}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def cli(self, as_principal, *args):
        """Runs `countersign ARGS` against this gateway's admin API."""
        env = dict(os.environ, COUNTERSIGN_ADMIN_URL=self.admin_url,
                   COUNTERSIGN_ADMIN_TOKEN=ADMIN_TOKENS[as_principal])
        return subprocess.run([countersign_binary(), *args], env=env, capture_output=True, text=True, timeout=60)

    def issue(self, as_principal, **body):
        status, creds = self.api("POST", "/v1/credentials", as_principal, body)
        assert status == 200, creds
        return creds

    def issued_client(self, service, creds):
        cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"})
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=creds["AccessKeyId"],
                            aws_secret_access_key=creds["SecretAccessKey"],
                            aws_session_token=creds["SessionToken"], config=cfg)


class TcpRelay:
    """A loopback TCP relay to a server, which a test can cut (closing every
    connection and refusing new ones) and restore on the same port."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.conns = []
        self.lock = threading.Lock()
        self.listener = None
        self.restore()

    def restore(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        listener = self.listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.listener.close()
        with self.lock:
            conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def close(self):
        self.cut()
