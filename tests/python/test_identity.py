"""Issued credentials and just-in-time grants, end to end: boto3 and the
countersign CLI through the gateway to moto_server (authentication on),
with gateway-issued credentials only. SQLite for one replica, PostgreSQL
(started by tests/run.sh) for two."""

import json
import subprocess
import sys
import os
import shutil
import urllib.error
import urllib.request
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import JIT_BUCKET, KEY_1, KEY_2, REGION, JitGateway, key_ring


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def jit(moto, upstream_s3):
    directory = f"/tmp/countersign-jit-{uuid.uuid4().hex[:8]}"
    gw = JitGateway(moto.url, moto.access_key_id, moto.secret_access_key,
                    store=f"sqlite:{directory}/state.db", ring=key_ring((1, "active", KEY_1)),
                    state_dir=directory)
    yield gw
    gw.stop()
    shutil.rmtree(directory, ignore_errors=True)


def request_grant(gw, who, role="uploads-writer", duration="2m", reason="ship the Q3 report"):
    status, grant = gw.api("POST", "/v1/grants", who, {"role": role, "duration": duration, "reason": reason})
    assert status == 201, grant
    return grant


def test_standing_read_only_principal_reads_but_cannot_write(jit):
    creds = jit.issue("alice")
    assert creds["AccessKeyId"].startswith("CSGW") and creds["Grants"] == []
    s3 = jit.issued_client("s3", creds)
    assert s3.get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")["Body"].read() == b"a,b\n1,2\n"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=JIT_BUCKET, Key="uploads/nope.txt", Body=b"x")
    assert error_code(e) == "AccessDenied"
    assert "alice" in e.value.response["Error"]["Message"]
    sts = jit.issued_client("sts", creds)
    # The upstream identity answers; the gateway's principal is in the audit.
    assert sts.get_caller_identity()["Arn"].endswith("user/countersign-upstream")


def test_jit_grant_request_approve_write_revoke_with_the_cli(jit):
    # alice asks with the CLI; bob (group sre) approves with the CLI.
    out = jit.cli("alice", "grant", "request", "--role", "uploads-writer", "--duration", "2m",
                  "--reason", "upload the Q3 report", "--json")
    assert out.returncode == 0, out.stderr
    grant = json.loads(out.stdout)
    assert grant["state"] == "requested" and grant["principal"] == "alice"
    # Before approval, credentials carry nothing and writes fail.
    assert jit.issue("alice")["Grants"] == []
    out = jit.cli("bob", "grant", "approve", grant["id"], "--comment", "ok for today", "--json")
    assert out.returncode == 0, out.stderr
    approved = json.loads(out.stdout)
    assert approved["state"] == "active" and approved["approvals"] == ["bob"]
    assert approved["ends_at"] - approved["starts_at"] == 120

    out = jit.cli("alice", "creds", "issue", "--format", "json")
    assert out.returncode == 0, out.stderr
    creds = json.loads(out.stdout)
    assert creds["Grants"] == [grant["id"]]
    s3 = jit.issued_client("s3", creds)
    s3.put_object(Bucket=JIT_BUCKET, Key="uploads/q3.csv", Body=b"report")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=JIT_BUCKET, Key="reports/q3.csv", Body=b"overwrite")
    assert error_code(e) == "AccessDenied"

    # The audit event names the principal, the grant, the action and resource.
    allowed = [ev for ev in jit.audit_events() if ev.get("operation") == "s3:PutObject" and ev.get("decision") == "allow"]
    assert allowed and allowed[-1]["principal"] == "alice" and allowed[-1]["grant"] == grant["id"]
    assert allowed[-1]["actions"] == ["s3:PutObject"]
    assert allowed[-1]["resources"] == [f"arn:aws:s3:::{JIT_BUCKET}/uploads/q3.csv"]
    assert "uploads-writer/write-uploads" in allowed[-1]["statement"]
    denied = [ev for ev in jit.audit_events() if ev.get("operation") == "s3:PutObject" and ev.get("decision") == "deny"]
    assert denied and denied[-1]["resources"] == [f"arn:aws:s3:::{JIT_BUCKET}/reports/q3.csv"]

    # Revoke: the very next write fails, well within a second.
    out = jit.cli("bob", "grant", "revoke", grant["id"], "--reason", "done")
    assert out.returncode == 0, out.stderr
    revoked_at = time.monotonic()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=JIT_BUCKET, Key="uploads/q3-again.csv", Body=b"late")
    assert error_code(e) == "AccessDenied"
    assert time.monotonic() - revoked_at < 1.0
    # Reads (standing policy) still work with the same credentials.
    s3.get_object(Bucket=JIT_BUCKET, Key="uploads/q3.csv")

    # Every transition is in the audit log: who, when, why.
    transitions = [(ev["action"], ev["actor"]) for ev in jit.audit_events()
                   if ev.get("event") == "grant" and ev["grant_id"] == grant["id"]]
    assert transitions == [("requested", "alice"), ("approved", "bob"), ("activated", "countersign"),
                           ("revoked", "bob")]
    out = jit.cli("alice", "grant", "list", "--state", "revoked")
    assert out.returncode == 0 and grant["id"] in out.stdout


def test_an_expired_grant_stops_writes(jit):
    grant = request_grant(jit, "alice", role="quick-writer", duration="3s")
    assert grant["state"] == "active"  # automatic approval
    creds = jit.issue("alice", grants=[grant["id"]])
    # Credentials never outlive the grants they carry.
    assert creds["Grants"] == [grant["id"]]
    s3 = jit.issued_client("s3", creds)
    s3.put_object(Bucket=JIT_BUCKET, Key="uploads/quick.txt", Body=b"quick")
    time.sleep(4)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=JIT_BUCKET, Key="uploads/quick-late.txt", Body=b"late")
    assert error_code(e) in ("ExpiredToken", "AccessDenied")
    # The sweeper records the expiry as a transition.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if any(ev.get("event") == "grant" and ev["grant_id"] == grant["id"] and ev["action"] == "expired"
               for ev in jit.audit_events()):
            break
        time.sleep(0.2)
    else:
        pytest.fail("no expired event for the grant")
    status, listed = jit.api("GET", f"/v1/grants/{grant['id']}", "alice")
    assert status == 200 and listed["state"] == "expired"


def test_credentials_past_their_ttl_fail_with_expired_token(jit):
    creds = jit.issue("alice", ttl="2s")
    s3 = jit.issued_client("s3", creds)
    s3.head_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
    time.sleep(3)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
    assert error_code(e) == "ExpiredToken"


def test_a_tampered_session_token_fails(jit):
    creds = jit.issue("alice")
    token = creds["SessionToken"]
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    s3 = jit.issued_client("s3", dict(creds, SessionToken=flipped))
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
    assert error_code(e) == "InvalidToken"
    # Another credential's (valid) token does not fit this access key either.
    other = jit.issue("alice")
    s3 = jit.issued_client("s3", dict(creds, SessionToken=other["SessionToken"]))
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
    assert error_code(e) == "InvalidToken"
    # And a wrong secret is a signature mismatch.
    s3 = jit.issued_client("s3", dict(creds, SecretAccessKey="x" * 40))
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
    assert error_code(e) == "SignatureDoesNotMatch"


def test_credential_revocation(jit):
    creds = jit.issue("alice")
    s3 = jit.issued_client("s3", creds)
    s3.head_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
    # Only operators revoke credentials.
    status, body = jit.api("POST", f"/v1/credentials/{creds['AccessKeyId']}/revoke", "alice", {})
    assert status == 403, body
    out = jit.cli("ops", "creds", "revoke", creds["AccessKeyId"], "--reason", "laptop lost")
    assert out.returncode == 0, out.stderr
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Revoking every session of a principal.
    a, b = jit.issue("alice"), jit.issue("alice")
    out = jit.cli("ops", "creds", "revoke", "--principal", "alice")
    assert out.returncode == 0, out.stderr
    for c in (a, b):
        with pytest.raises(ClientError) as e:
            jit.issued_client("s3", c).get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
        assert error_code(e) == "InvalidAccessKeyId"
    jit.issued_client("s3", jit.issue("alice")).get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")


def test_self_approval_and_outsiders_are_refused(jit):
    # bob (sre) may request the role, but not approve his own request.
    grant = request_grant(jit, "bob")
    status, body = jit.api("POST", f"/v1/grants/{grant['id']}/approve", "bob", {})
    assert status == 403 and "own request" in body["error"]["message"], body
    # carol is not in sre.
    grant = request_grant(jit, "alice")
    out = jit.cli("carol", "grant", "approve", grant["id"])
    assert out.returncode != 0 and "not in group sre" in out.stderr, out.stderr
    # carol may not request it either, and alice may not issue for bob.
    status, body = jit.api("POST", "/v1/grants", "carol", {"role": "uploads-writer", "duration": "1h", "reason": "x"})
    assert status == 403, body
    status, body = jit.api("POST", "/v1/credentials", "alice", {"principal": "bob"})
    assert status == 403, body
    # A reason is required; the duration is bounded by the role.
    status, body = jit.api("POST", "/v1/grants", "alice", {"role": "uploads-writer", "duration": "1h"})
    assert status == 400 and "reason" in body["error"]["message"], body
    status, body = jit.api("POST", "/v1/grants", "alice", {"role": "uploads-writer", "duration": "3h", "reason": "x"})
    assert status == 400, body
    # dave (sre by the group's member list) approves; the request is still pending until then.
    status, body = jit.api("POST", f"/v1/grants/{grant['id']}/approve", "dave", {"comment": "fine"})
    assert status == 200 and body["state"] == "active", body
    # A second approval of an active grant is a conflict, not a change.
    status, body = jit.api("POST", f"/v1/grants/{grant['id']}/approve", "bob", {})
    assert status == 409, body
    # Without a token there is no admin API.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(jit.admin_url + "/v1/grants", timeout=5)
    assert e.value.code == 401


def test_explain_shows_the_deciding_grant(jit, tmp_path):
    grant = request_grant(jit, "alice")
    jit.api("POST", f"/v1/grants/{grant['id']}/approve", "bob", {})
    creds = jit.issue("alice", grants=[grant["id"]])
    session = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                    aws_secret_access_key=creds["SecretAccessKey"],
                                    aws_session_token=creds["SessionToken"], region_name=REGION)
    # Capture a signed PutObject as raw HTTP with botocore's own signer.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    req = AWSRequest(method="PUT", url=f"https://s3.amazonaws.com/{JIT_BUCKET}/uploads/x.csv", data=b"x",
                     headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    SigV4Auth(session.get_credentials(), "s3", REGION).add_auth(req)
    raw = f"PUT /{JIT_BUCKET}/uploads/x.csv HTTP/1.1\r\nhost: s3.amazonaws.com\r\n"
    raw += "".join(f"{k}: {v}\r\n" for k, v in req.headers.items() if k.lower() != "host")
    raw += "\r\nx"
    path = tmp_path / "put.http"
    path.write_text(raw)
    out = jit.cli("alice", "explain", "--config", str(jit.config_path), "--request", str(path), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    explained = json.loads(out.stdout)
    assert explained["principal"] == "alice" and explained["operation"] == "PutObject"
    assert explained["decision"] == "allow" and explained["grant"] == grant["id"]
    out = jit.cli("alice", "explain", "--config", str(jit.config_path), "--request", str(path),
                  "--principal", "carol")
    assert out.returncode == 1 and "implicit_deny" in out.stdout, out.stdout


def test_key_rotation_verify_only_works_retired_fails(moto, upstream_s3):
    directory = f"/tmp/countersign-jit-rot-{uuid.uuid4().hex[:8]}"
    store = f"sqlite:{directory}/state.db"
    args = (moto.url, moto.access_key_id, moto.secret_access_key)
    gw = JitGateway(*args, store=store, ring=key_ring((1, "active", KEY_1)), state_dir=directory)
    try:
        old = gw.issue("alice")
    finally:
        gw.stop()
    # Rotate: key 2 mints, key 1 only verifies; old sessions keep working.
    gw = JitGateway(*args, store=store, ring=key_ring((1, "verify-only", KEY_1), (2, "active", KEY_2)),
                    state_dir=directory)
    try:
        gw.issued_client("s3", old).get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
        new = gw.issue("alice")
        assert new["AccessKeyId"] != old["AccessKeyId"]
        gw.issued_client("s3", new).get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
    finally:
        gw.stop()
    # Retire key 1: what it minted is refused; key 2's credentials still work.
    gw = JitGateway(*args, store=store, ring=key_ring((1, "retired", KEY_1), (2, "active", KEY_2)),
                    state_dir=directory)
    try:
        with pytest.raises(ClientError) as e:
            gw.issued_client("s3", old).get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
        assert error_code(e) == "InvalidAccessKeyId"
        gw.issued_client("s3", new).get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
    finally:
        gw.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def postgres_url():
    url = os.environ.get("COUNTERSIGN_TEST_POSTGRES_URL")
    if not url:
        pytest.fail("COUNTERSIGN_TEST_POSTGRES_URL is not set: run ./tests/run.sh, which starts PostgreSQL")
    return url


def test_two_replicas_on_postgres_enforce_a_revocation_within_a_second(moto, upstream_s3, postgres_url):
    args = (moto.url, moto.access_key_id, moto.secret_access_key)
    ring = key_ring((1, "active", KEY_1))
    tls_dir = os.environ.get("COUNTERSIGN_TEST_POSTGRES_TLS_DIR")
    if not tls_dir:
        pytest.fail("COUNTERSIGN_TEST_POSTGRES_TLS_DIR is not set: run ./tests/run.sh, which starts PostgreSQL")
    a = JitGateway(*args, store=postgres_url, ring=ring)
    # Replica B reaches the same server over verified TLS.
    b = JitGateway(*args, store=f"{postgres_url}?sslmode=verify-full&sslrootcert={tls_dir}/ca.pem", ring=ring)
    try:
        assert '"tls":true' in b.logs() and '"tls":false' in a.logs(), (a.logs(), b.logs())
        grant = request_grant(a, "alice")
        status, body = a.api("POST", f"/v1/grants/{grant['id']}/approve", "bob", {})
        assert status == 200, body
        # Issued by replica A, used on replica B: stateless credentials, shared grants.
        creds = a.issue("alice")
        assert creds["Grants"] == [grant["id"]]
        s3_b = b.issued_client("s3", creds)
        deadline = time.monotonic() + 5
        while True:  # B learns of the approval through LISTEN/NOTIFY
            try:
                s3_b.put_object(Bucket=JIT_BUCKET, Key="uploads/replica.txt", Body=b"via b")
                break
            except ClientError:
                assert time.monotonic() < deadline, "replica B never saw the approval"
                time.sleep(0.05)
        # Revoke on A; B refuses within one second.
        status, body = a.api("POST", f"/v1/grants/{grant['id']}/revoke", "alice", {"reason": "done"})
        assert status == 200, body
        revoked_at = time.monotonic()
        while True:
            try:
                s3_b.put_object(Bucket=JIT_BUCKET, Key="uploads/replica.txt", Body=b"again")
            except ClientError as e:
                assert e.response["Error"]["Code"] == "AccessDenied"
                break
            assert time.monotonic() - revoked_at < 1.0, "replica B still allowed the write after 1 s"
            time.sleep(0.02)
        assert time.monotonic() - revoked_at < 1.0

        def metric(gw, name):
            _, text = gw.admin("/metrics")
            return [float(line.split()[-1]) for line in text.splitlines() if line.startswith(name)]
        # Both replicas enforce the same store version; A recorded the transitions.
        assert metric(a, "countersign_identity_snapshot_version") == metric(b, "countersign_identity_snapshot_version")
        assert metric(a, 'countersign_grant_transitions_total{action="revoked"}') == [1.0]
        # Same for revoking a credential on B: A refuses it within a second.
        status, _ = b.api("POST", f"/v1/credentials/{creds['AccessKeyId']}/revoke", "ops", {})
        assert status == 200
        revoked_at = time.monotonic()
        s3_a = a.issued_client("s3", creds)
        while True:
            try:
                s3_a.get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
            except ClientError as e:
                assert e.response["Error"]["Code"] == "InvalidAccessKeyId"
                break
            assert time.monotonic() - revoked_at < 1.0, "replica A still accepted the credential after 1 s"
            time.sleep(0.02)
    finally:
        a.stop()
        b.stop()
        shutil.rmtree(a.dir, ignore_errors=True)
        shutil.rmtree(b.dir, ignore_errors=True)


def test_presigned_urls_with_issued_credentials(jit):
    creds = jit.issue("alice")
    signer = boto3.client("s3", endpoint_url=jit.url, region_name=REGION,
                          aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"],
                          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = signer.generate_presigned_url("get_object", Params={"Bucket": JIT_BUCKET, "Key": "reports/q3.csv"},
                                        ExpiresIn=300)
    assert "X-Amz-Security-Token=" in url
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"a,b\n1,2\n"
    # Without the token the presigned URL is refused.
    stripped = "&".join(p for p in url.split("&") if not p.startswith("X-Amz-Security-Token="))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(stripped, timeout=10)
    assert e.value.code in (400, 403)


def test_grants_of_a_role_with_an_upstream_role_are_re_signed_as_that_iam_role(jit, moto, upstream_s3):
    """role-writer lets alice write under uploads/ (gateway policy), but its
    upstream IAM role may only write under uploads/public/: a write the
    gateway allows elsewhere is refused by AWS (moto) itself, so it really
    went out as the role; standing reads still use the gateway's identity."""
    from harness import UPSTREAM_ROLE_ARN
    iam = boto3.client("iam", endpoint_url=moto.url, region_name=REGION,
                       aws_access_key_id=moto.access_key_id, aws_secret_access_key=moto.secret_access_key)
    role_name = UPSTREAM_ROLE_ARN.rsplit("/", 1)[1]
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/countersign-upstream"},
                       "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}]}))
    iam.put_role_policy(RoleName=role_name, PolicyName="public-uploads", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",
                       "Resource": f"arn:aws:s3:::{JIT_BUCKET}/uploads/public/*"}]}))
    grant = request_grant(jit, "alice", role="role-writer", duration="5m")
    assert grant["state"] == "active", grant
    # Credentials carrying only this grant.
    creds = jit.issue("alice", grants=[grant["id"]])
    assert creds["Grants"] == [grant["id"]], creds
    s3 = jit.issued_client("s3", creds)
    s3.put_object(Bucket=JIT_BUCKET, Key="uploads/public/by-role.txt", Body=b"as the role")
    assert upstream_s3.get_object(Bucket=JIT_BUCKET, Key="uploads/public/by-role.txt")["Body"].read() == b"as the role"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=JIT_BUCKET, Key="uploads/private/by-role.txt", Body=b"x")
    assert error_code(e) == "AccessDenied"
    s3.get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
    events = {(ev.get("operation"), tuple(ev.get("resources", []))): ev for ev in jit.audit_events()
              if ev.get("access_key_id") == creds["AccessKeyId"]}
    public = events[("s3:PutObject", (f"arn:aws:s3:::{JIT_BUCKET}/uploads/public/by-role.txt",))]
    private = events[("s3:PutObject", (f"arn:aws:s3:::{JIT_BUCKET}/uploads/private/by-role.txt",))]
    read = events[("s3:GetObject", (f"arn:aws:s3:::{JIT_BUCKET}/reports/q3.csv",))]
    assert (public["decision"], public["upstream_status"], public["upstream_role"]) == ("allow", 200, UPSTREAM_ROLE_ARN)
    # The gateway allowed it; the role's own policy in AWS refused it.
    assert (private["decision"], private["upstream_status"], private["upstream_role"]) == ("allow", 403, UPSTREAM_ROLE_ARN)
    assert public["grant"] == private["grant"] == grant["id"]
    assert read["upstream_role"] is None and read["upstream_status"] == 200


def test_the_aws_cli_with_credential_process(jit, tmp_path):
    """An unmodified AWS CLI whose profile runs `countersign creds issue
    --format credential-process`: it never sees a long-lived key."""
    from harness import ADMIN_TOKENS, countersign_binary, credential_process_cli
    aws = credential_process_cli(
        tmp_path, jit.url, f"{countersign_binary()} creds issue --format credential-process --ttl 10m",
        {"COUNTERSIGN_ADMIN_URL": jit.admin_url, "COUNTERSIGN_ADMIN_TOKEN": ADMIN_TOKENS["alice"]})
    out = aws("s3", "ls", f"s3://{JIT_BUCKET}/reports/")
    assert out.returncode == 0, out.stderr
    assert "q3.csv" in out.stdout
    out = aws("s3", "cp", "-", f"s3://{JIT_BUCKET}/reports/cli.txt", input="x")
    assert out.returncode != 0 and "AccessDenied" in out.stderr, out.stderr


def test_an_unreachable_store_fails_closed_and_recovers(moto, upstream_s3, postgres_url):
    """With PostgreSQL out of reach, a replica cannot learn of revocations:
    after identity.max_staleness it refuses issued credentials (503), and
    serves them again once the store answers."""
    from urllib.parse import urlsplit, urlunsplit
    from harness import TcpRelay
    parts = urlsplit(postgres_url)
    relay = TcpRelay(parts.hostname, parts.port)
    relayed = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{relay.port}"))
    gw = JitGateway(moto.url, moto.access_key_id, moto.secret_access_key, store=relayed,
                    ring=key_ring((1, "active", KEY_1)), max_staleness="3s")
    try:
        creds = gw.issue("alice")
        s3 = gw.issued_client("s3", creds)
        s3.get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
        relay.cut()
        deadline = time.monotonic() + 20
        while True:
            try:
                s3.get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
            except ClientError as e:
                assert e.response["Error"]["Code"] == "ServiceUnavailable", e.response
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 503
                break
            assert time.monotonic() < deadline, "still serving issued credentials with the store gone"
            time.sleep(0.2)
        # The admin API says the store is unavailable rather than pretending.
        status, body = gw.api("POST", "/v1/grants", "alice",
                              {"role": "uploads-writer", "duration": "5m", "reason": "outage"})
        assert status == 503 and body["error"]["code"] == "StoreUnavailable", body
        relay.restore()
        deadline = time.monotonic() + 20
        while True:
            try:
                s3.get_object(Bucket=JIT_BUCKET, Key="reports/q3.csv")
                break
            except ClientError as e:
                assert e.response["Error"]["Code"] == "ServiceUnavailable", e.response
                assert time.monotonic() < deadline, "never recovered after the store came back"
                time.sleep(0.2)
    finally:
        gw.stop()
        relay.close()
        shutil.rmtree(gw.dir, ignore_errors=True)
