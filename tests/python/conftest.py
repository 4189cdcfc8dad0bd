"""Shared fixtures: one moto_server and one gateway for the session."""

import boto3
import pytest
from botocore.exceptions import ClientError

from harness import JIT_BUCKET, REGION, Gateway, Moto


@pytest.fixture(scope="session")
def moto():
    server = Moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway(moto):
    gw = Gateway(moto.url, moto.access_key_id, moto.secret_access_key)
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def upstream_s3(moto):
    """The bucket the identity tests read (reports/q3.csv) and write, made
    directly on moto_server."""
    s3 = boto3.client("s3", endpoint_url=moto.url, region_name=REGION,
                      aws_access_key_id=moto.access_key_id, aws_secret_access_key=moto.secret_access_key)
    try:
        s3.create_bucket(Bucket=JIT_BUCKET)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_object(Bucket=JIT_BUCKET, Key="reports/q3.csv", Body=b"a,b\n1,2\n")
    return s3
