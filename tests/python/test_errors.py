"""Bad input: each failure is raised by the SDK as AWS would raise it, changes
nothing upstream, and leaks no secret into logs or audit events."""

import datetime
import hashlib
import urllib.error
import urllib.request
from unittest import mock

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from harness import GATEWAY_KEY_ID, GATEWAY_SECRET, REGION


def error_code(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"]


def test_wrong_secret_is_signature_does_not_match(gateway):
    sts = gateway.client("sts", secret="not-the-right-secret-at-all-0000")
    assert error_code(sts.get_caller_identity) == "SignatureDoesNotMatch"
    s3 = gateway.client("s3", secret="not-the-right-secret-at-all-0000")
    assert error_code(s3.list_buckets) == "SignatureDoesNotMatch"
    ddb = gateway.client("dynamodb", secret="not-the-right-secret-at-all-0000")
    assert error_code(ddb.list_tables) == "SignatureDoesNotMatch"


def test_unknown_key_is_invalid_access_key_id(gateway):
    s3 = gateway.client("s3", key_id="AKCSUNKNOWN000000000")
    assert error_code(s3.list_buckets) == "InvalidAccessKeyId"
    sqs = gateway.client("sqs", key_id="AKCSUNKNOWN000000000")
    assert error_code(sqs.list_queues) == "InvalidAccessKeyId"


def test_clock_twenty_minutes_off_is_request_time_too_skewed(gateway):
    skewed = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=20)

    class SkewedDatetime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return skewed

        @classmethod
        def now(cls, tz=None):
            return skewed if tz is None else skewed.replace(tzinfo=datetime.timezone.utc)

    with mock.patch.object(botocore.auth.datetime, "datetime", SkewedDatetime):
        assert error_code(gateway.client("sts").get_caller_identity) == "RequestTimeTooSkewed"
        assert error_code(gateway.client("s3").list_buckets) == "RequestTimeTooSkewed"


def signed_request(gateway, method, path, headers=None, body=b"", service="s3", extra_unsigned=None):
    request = AWSRequest(method=method, url=gateway.url + path, data=body, headers=headers or {})
    request.context["payload_signing_enabled"] = True
    auth = botocore.auth.S3SigV4Auth if service == "s3" else SigV4Auth
    auth(Credentials(GATEWAY_KEY_ID, GATEWAY_SECRET), service, REGION).add_auth(request)
    prepared = request.prepare()
    all_headers = dict(prepared.headers)
    all_headers.update(extra_unsigned or {})
    req = urllib.request.Request(prepared.url, data=body or None, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_unsigned_amz_header_is_refused_not_forwarded(gateway):
    gateway.client("s3").create_bucket(Bucket="e2e-errors")
    status, body = signed_request(gateway, "PUT", "/e2e-errors/injected", body=b"x",
                                  extra_unsigned={"x-amz-acl": "public-read-write"})
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert error_code(lambda: gateway.client("s3").head_object(Bucket="e2e-errors", Key="injected")) in ("404", "NoSuchKey")


def test_body_not_matching_its_signed_hash_never_lands(gateway):
    gateway.client("s3").create_bucket(Bucket="e2e-tamper")
    good = b"the body that was signed"
    request = AWSRequest(method="PUT", url=gateway.url + "/e2e-tamper/tampered", data=good)
    request.context["payload_signing_enabled"] = True
    botocore.auth.S3SigV4Auth(Credentials(GATEWAY_KEY_ID, GATEWAY_SECRET), "s3", REGION).add_auth(request)
    prepared = request.prepare()
    assert prepared.headers["X-Amz-Content-SHA256"] == hashlib.sha256(good).hexdigest()
    evil = b"the body that was SWAPPED"[: len(good)]
    req = urllib.request.Request(prepared.url, data=evil, method="PUT", headers=dict(prepared.headers))
    with pytest.raises((urllib.error.HTTPError, urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(req, timeout=10)
    s3 = gateway.client("s3")
    assert error_code(lambda: s3.head_object(Bucket="e2e-tamper", Key="tampered")) in ("404", "NoSuchKey")


def test_signed_streaming_payload_is_not_implemented_yet(gateway):
    headers = {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "content-encoding": "aws-chunked"}
    request = AWSRequest(method="PUT", url=gateway.url + "/e2e-errors/chunked", data=b"", headers=headers)
    # Plain SigV4Auth keeps (and signs) the x-amz-content-sha256 we set.
    SigV4Auth(Credentials(GATEWAY_KEY_ID, GATEWAY_SECRET), "s3", REGION).add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(prepared.url, data=b"0;chunk-signature=00\r\n\r\n", method="PUT", headers=dict(prepared.headers))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 501 and b"<Code>NotImplemented</Code>" in e.value.read()


def test_no_auth_at_all(gateway):
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(gateway.url + "/", timeout=5)
    assert e.value.code == 403 and b"MissingAuthenticationToken" in e.value.read()


def test_gateway_survives_garbage_and_still_serves(gateway):
    import socket
    for garbage in [b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 \xff\xfe\r\n\r\n",
                    b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n"]:
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as s:
            s.sendall(garbage)
            s.settimeout(5)
            try:
                s.recv(4096)
            except OSError:
                pass
    assert gateway.client("sts").get_caller_identity()["Arn"].endswith("countersign-upstream")


def test_no_secret_token_or_signature_in_logs_or_audit(gateway, moto):
    gateway.client("sts").get_caller_identity()
    text = gateway.logs() + gateway.audit_path.read_text()
    for secret in [GATEWAY_SECRET, moto.secret_access_key, "Signature=", "X-Amz-Signature"]:
        assert secret not in text
    events = gateway.audit_events()
    assert events, "one audit event per request"
    ok = [e for e in events if e["decision"] == "allow" and e["service"] == "sts"]
    assert ok and ok[-1]["principal"] == "e2e-workload" and ok[-1]["upstream_status"] == 200
    denied = [e for e in events if e["decision"] == "unauthenticated"]
    assert denied and all(e["error_code"] for e in denied)


def test_metrics_and_health(gateway):
    status, text = gateway.admin("/metrics")
    assert status == 200
    assert 'countersign_requests_total{decision="allow",service="sts",status="200"}' in text
    assert "countersign_phase_seconds_bucket" in text and 'phase="verify"' in text
    assert gateway.admin("/healthz")[0] == 200
    assert gateway.admin("/readyz")[0] == 200
