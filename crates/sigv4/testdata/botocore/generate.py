#!/usr/bin/env python3
"""Regenerates vectors.json: requests signed by a pinned botocore.

botocore is AWS's reference SigV4 signer (the AWS CLI and boto3 use it). This
script builds varied requests with real botocore clients (S3 with its SigV4
variant, header-signed and presigned; query-protocol STS and EC2; JSON
DynamoDB and SQS; REST-JSON Lambda and API Gateway with tricky path labels),
captures each one exactly as botocore would put it on the wire, and writes
method, raw path, raw query, headers in order, body, time, credentials and the
expected signing scope. Nothing is sent: a `before-send` hook captures the
request and stops it. `crates/sigv4/tests/botocore_vectors.rs` verifies every
vector and checks that mutations fail; CI never runs Python.

Usage, from the repository root:

    python3 -m venv .venv-sigv4
    .venv-sigv4/bin/pip install botocore==$(cat crates/sigv4/testdata/botocore/BOTOCORE_VERSION)
    .venv-sigv4/bin/python crates/sigv4/testdata/botocore/generate.py
"""

import datetime
import hashlib
import json
import os
import sys
from urllib.parse import urlsplit

import botocore
import botocore.auth
import botocore.session
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
PINNED = open(os.path.join(HERE, "BOTOCORE_VERSION")).read().strip()
if botocore.__version__ != PINNED:
    sys.exit(f"botocore {botocore.__version__} installed, {PINNED} pinned")

# A fixed signing time, so regenerating gives the same file.
NOW = datetime.datetime(2026, 1, 15, 12, 34, 56)
botocore.auth.get_current_datetime = lambda remove_tzinfo=True: NOW

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = (
    "IQoJb3JpZ2luX2VjEMr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDexample+token/with"
    "=padding+and/slashes" * 4
)


class Captured(Exception):
    def __init__(self, request):
        self.request = request


def capture(request, **kwargs):
    raise Captured(request)


def client(service, token=None, region="us-east-1", **config):
    session = botocore.session.get_session()
    c = session.create_client(
        service,
        region_name=region,
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
        config=Config(**config) if config else None,
    )
    c.meta.events.register_first("before-send", capture)
    return c


def body_bytes(body):
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    data = body.read()
    return data.encode("utf-8") if isinstance(data, str) else data


def text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def record(name, service, token, method, url, headers, body, auth):
    parts = urlsplit(url)
    host = parts.netloc
    if (parts.scheme, parts.port) in (("https", 443), ("http", 80)):
        host = parts.hostname
    pairs = [[k, text(v)] for k, v in headers.items()]
    if not any(k.lower() == "host" for k, _ in pairs):
        # What urllib3 sends: Host first.
        pairs.insert(0, ["Host", host])
    return {
        "name": name,
        "auth": auth,
        "service": service,
        "region": "us-east-1",
        "method": method,
        "path": parts.path or "/",
        "query": parts.query,
        "headers": pairs,
        "body_hex": body.hex(),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "timestamp": NOW.strftime("%Y%m%dT%H%M%SZ"),
        "credentials": {
            "access_key_id": AKID,
            "secret_access_key": SECRET,
            "session_token": token,
        },
    }


def call(name, service, op, params, token=None, **config):
    c = client(service, token=token, **config)
    try:
        getattr(c, op)(**params)
    except Captured as e:
        r = e.request
        return record(
            name,
            c.meta.service_model.signing_name,
            token,
            r.method,
            r.url,
            r.headers,
            body_bytes(r.body),
            "header",
        )
    raise RuntimeError(f"{name}: request was not captured")


def presign(name, service, op, params, token=None, expires=3600, **config):
    c = client(service, token=token, signature_version=f"{service}v4" if service == "s3" else "v4", **config)
    url = c.generate_presigned_url(op, Params=params, ExpiresIn=expires, HttpMethod="GET")
    return record(
        name, c.meta.service_model.signing_name, token, "GET", url, {}, b"", "query"
    )


TRICKY_KEY = "photos/2026/a b+c=d&e$f@g:h,i;j!k*l'm(n)o~p%q.txt"
UNICODE_KEY = "ሴ/ünïcödé//./x/../y"

vectors = [
    call("s3-get-object-range", "s3", "get_object",
         {"Bucket": "examplebucket", "Key": "test.txt", "Range": "bytes=0-9"}),
    call("s3-get-object-tricky-key", "s3", "get_object",
         {"Bucket": "examplebucket", "Key": TRICKY_KEY}),
    call("s3-get-object-unicode-dot-segments", "s3", "get_object",
         {"Bucket": "examplebucket", "Key": UNICODE_KEY}, token=TOKEN),
    call("s3-path-style-get-object", "s3", "get_object",
         {"Bucket": "examplebucket", "Key": "dir/a b.txt"},
         s3={"addressing_style": "path"}),
    call("s3-put-object-metadata-tabs", "s3", "put_object",
         {"Bucket": "examplebucket", "Key": "up load.bin", "Body": b"hello world",
          "Metadata": {"color": "red \t and  blue", "Note": " padded "},
          "ContentType": "application/octet-stream"}),
    call("s3-put-object-signed-payload", "s3", "put_object",
         {"Bucket": "examplebucket", "Key": "signed.bin", "Body": b"x" * 100},
         token=TOKEN, s3={"payload_signing_enabled": True},
         request_checksum_calculation="when_required"),
    call("s3-list-objects-v2-query", "s3", "list_objects_v2",
         {"Bucket": "examplebucket", "Prefix": "a b+c/ሴ", "Delimiter": "/",
          "StartAfter": "x=y&z", "MaxKeys": 10}),
    call("s3-delete-objects-post", "s3", "delete_objects",
         {"Bucket": "examplebucket",
          "Delete": {"Objects": [{"Key": "a"}, {"Key": "b c"}], "Quiet": True}}),
    presign("s3-presigned-get", "s3", "get_object",
            {"Bucket": "examplebucket", "Key": TRICKY_KEY,
             "ResponseContentDisposition": 'attachment; filename="a b+c.txt"'}),
    presign("s3-presigned-get-token", "s3", "get_object",
            {"Bucket": "examplebucket", "Key": UNICODE_KEY}, token=TOKEN,
            expires=604800),
    presign("s3-presigned-put", "s3", "put_object",
            {"Bucket": "examplebucket", "Key": "upload/x y.txt"}, expires=60),
    call("sts-get-caller-identity", "sts", "get_caller_identity", {}),
    presign("sts-presigned-get-caller-identity", "sts", "get_caller_identity", {},
            token=TOKEN, expires=60),
    call("sts-assume-role-tags", "sts", "assume_role",
         {"RoleArn": "arn:aws:iam::123456789012:role/demo",
          "RoleSessionName": "alice+bob=@carol",
          "Tags": [{"Key": "team name", "Value": "a/b c+d~e"}]}, token=TOKEN),
    call("ec2-describe-instances-filters", "ec2", "describe_instances",
         {"Filters": [{"Name": "tag:Name", "Values": ["web server", "c+d", "ሴ"]}],
          "MaxResults": 5}),
    call("dynamodb-get-item", "dynamodb", "get_item",
         {"TableName": "Orders", "Key": {"pk": {"S": "order#1 ሴ"}},
          "ConsistentRead": True}),
    call("dynamodb-put-item-token", "dynamodb", "put_item",
         {"TableName": "Orders", "Item": {"pk": {"S": "x"}, "n": {"N": "1"}}},
         token=TOKEN),
    call("sqs-send-message", "sqs", "send_message",
         {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs",
          "MessageBody": "hello \t world"}),
    call("lambda-invoke-arn-qualifier", "lambda", "invoke",
         {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:fn",
          "Qualifier": "v1", "Payload": b'{"a": 1}'}),
    call("apigateway-get-resource-tricky-labels", "apigateway", "get_resource",
         {"restApiId": "a b", "resourceId": "c+d=e/é", "embed": ["x y", "z"]}),
]

out = os.path.join(HERE, "vectors.json")
with open(out, "w", encoding="utf-8") as f:
    json.dump({"botocore": botocore.__version__, "vectors": vectors}, f,
              indent=1, ensure_ascii=False)
    f.write("\n")
print(f"wrote {len(vectors)} vectors to {out}")
