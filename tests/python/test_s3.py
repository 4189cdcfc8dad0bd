"""S3 through the gateway with boto3: every success was re-signed by the
gateway and verified by moto_server with authentication on."""

import hashlib
import os
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

TRICKY_KEYS = [
    "plain.txt",
    "with space.txt",
    "unicodé/ሴ/文件.bin",
    "plus+sign",
    "percent%20literal",
    "equals=and&ampersand",
    "double//slash",
    "trailing/",
    "dots/./and/../kept",
    "semi;colon,comma",
]


@pytest.fixture(scope="module")
def s3(gateway):
    return gateway.client("s3")


@pytest.fixture(scope="module")
def bucket(s3):
    s3.create_bucket(Bucket="e2e-bucket")
    return "e2e-bucket"


@pytest.mark.parametrize("key", TRICKY_KEYS)
def test_put_get_head_delete_tricky_keys(s3, bucket, key):
    body = f"content of {key}".encode()
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)
    s3.delete_object(Bucket=bucket, Key=key)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key=key)
    assert e.value.response["Error"]["Code"] in ("404", "NoSuchKey")


def test_list_objects_v2_prefix_and_delimiter(s3, bucket):
    for key in ["logs/2024/a", "logs/2024/b", "logs/2025/c", "other/d"]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="logs/", Delimiter="/")
    assert sorted(p["Prefix"] for p in listing["CommonPrefixes"]) == ["logs/2024/", "logs/2025/"]
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="logs/2024/")
    assert [o["Key"] for o in listing["Contents"]] == ["logs/2024/a", "logs/2024/b"]


def test_multipart_upload_of_20_mib(s3, bucket):
    part = os.urandom(5 * 1024 * 1024)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big/multipart.bin")
    parts = []
    for n in range(1, 5):
        r = s3.upload_part(Bucket=bucket, Key="big/multipart.bin", UploadId=upload["UploadId"], PartNumber=n, Body=part)
        parts.append({"ETag": r["ETag"], "PartNumber": n})
    s3.complete_multipart_upload(Bucket=bucket, Key="big/multipart.bin", UploadId=upload["UploadId"],
                                 MultipartUpload={"Parts": parts})
    got = s3.get_object(Bucket=bucket, Key="big/multipart.bin")["Body"].read()
    assert len(got) == 20 * 1024 * 1024
    assert hashlib.sha256(got).digest() == hashlib.sha256(part * 4).digest()


def test_presigned_get_url(gateway, s3, bucket):
    s3.put_object(Bucket=bucket, Key="presigned/object", Body=b"presigned body")
    s3v4 = gateway.client("s3", signature_version="s3v4")
    url = s3v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presigned/object"}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.read() == b"presigned body"
    tampered = url.replace("presigned/object", "presigned/other")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=10)
    assert e.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()
