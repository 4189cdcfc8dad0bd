"""Process harness for the end-to-end tests: free ports, moto_server with
authentication on, and the countersign binary with a generated config."""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
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
