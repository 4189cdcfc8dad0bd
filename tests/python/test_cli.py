"""The AWS CLI as a subprocess, pointed at the gateway only by environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


def aws(gateway, *args, check=True):
    cmd = [str(Path(sys.executable).with_name("aws")), *args]
    result = subprocess.run(cmd, env=gateway.env(), capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {result.stderr}")
    return result


@pytest.fixture(scope="module")
def cli_bucket(gateway):
    aws(gateway, "s3", "mb", "s3://e2e-cli")
    return "e2e-cli"


def test_s3_cp_up_and_down_50_mib(gateway, cli_bucket, tmp_path):
    src = tmp_path / "upload.bin"
    data = os.urandom(50 * 1024 * 1024)
    src.write_bytes(data)
    aws(gateway, "s3", "cp", str(src), f"s3://{cli_bucket}/big/upload.bin")
    dst = tmp_path / "download.bin"
    aws(gateway, "s3", "cp", f"s3://{cli_bucket}/big/upload.bin", str(dst))
    assert dst.read_bytes() == data


def test_s3_ls(gateway, cli_bucket):
    aws(gateway, "s3api", "put-object", "--bucket", cli_bucket, "--key", "listed/file.txt")
    out = aws(gateway, "s3", "ls", f"s3://{cli_bucket}/listed/").stdout
    assert "file.txt" in out
    assert cli_bucket in aws(gateway, "s3", "ls").stdout


def test_dynamodb_list_tables(gateway):
    aws(gateway, "dynamodb", "create-table", "--table-name", "e2e-cli-table",
        "--attribute-definitions", "AttributeName=id,AttributeType=S",
        "--key-schema", "AttributeName=id,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST")
    assert "e2e-cli-table" in aws(gateway, "dynamodb", "list-tables").stdout


def test_cli_wrong_secret_fails_with_signature_does_not_match(gateway):
    env = gateway.env()
    env["AWS_SECRET_ACCESS_KEY"] = "wrong-wrong-wrong-wrong-wrong-wrong"
    cmd = [str(Path(sys.executable).with_name("aws")), "sts", "get-caller-identity"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "SignatureDoesNotMatch" in result.stderr
