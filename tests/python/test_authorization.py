"""Per-call authorization: the catalog names each call's IAM action and
resources, the principal's compiled policy decides, and a denial is raised
by the SDK as AWS raises it. Nothing denied reaches moto."""

import pytest
from botocore.exceptions import ClientError

from harness import READONLY_KEY_ID, READONLY_SECRET


@pytest.fixture(scope="module")
def readonly(gateway):
    def client(service):
        return gateway.client(service, key_id=READONLY_KEY_ID, secret=READONLY_SECRET)
    admin = gateway.client("s3")
    admin.create_bucket(Bucket="e2e-authz")
    admin.put_object(Bucket="e2e-authz", Key="reports/q1.csv", Body=b"q1")
    admin.put_object(Bucket="e2e-authz", Key="secret/keys.txt", Body=b"nope")
    return client


def denied(call):
    with pytest.raises(ClientError) as e:
        call()
    return e.value.response["Error"]["Code"], e.value.response["Error"].get("Message", "")


def test_allowed_calls_go_through(readonly):
    assert readonly("s3").get_object(Bucket="e2e-authz", Key="reports/q1.csv")["Body"].read() == b"q1"
    keys = [o["Key"] for o in readonly("s3").list_objects_v2(Bucket="e2e-authz", Prefix="reports/")["Contents"]]
    assert keys == ["reports/q1.csv"]
    assert readonly("sts").get_caller_identity()["Arn"].endswith("countersign-upstream")


def test_not_allowed_is_access_denied_and_changes_nothing(readonly, gateway):
    code, message = denied(lambda: readonly("s3").put_object(Bucket="e2e-authz", Key="reports/q2.csv", Body=b"x"))
    assert code == "AccessDenied"
    assert "s3:PutObject" in message and "arn:aws:s3:::e2e-authz/reports/q2.csv" in message
    code, _ = denied(lambda: gateway.client("s3").head_object(Bucket="e2e-authz", Key="reports/q2.csv"))
    assert code in ("404", "NoSuchKey")
    code, _ = denied(lambda: readonly("s3").delete_object(Bucket="e2e-authz", Key="reports/q1.csv"))
    assert code == "AccessDenied"
    assert gateway.client("s3").get_object(Bucket="e2e-authz", Key="reports/q1.csv")["Body"].read() == b"q1"


def test_explicit_deny_wins(readonly):
    code, message = denied(lambda: readonly("s3").get_object(Bucket="e2e-authz", Key="secret/keys.txt"))
    assert code == "AccessDenied" and "explicit deny" in message and "NeverSecrets" in message


def test_json_protocol_denial_is_access_denied_exception(readonly):
    code, _ = denied(lambda: readonly("dynamodb").create_table(
        TableName="nope", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST"))
    assert code == "AccessDeniedException"


def test_conditions_see_the_source_ip(readonly):
    assert "TableNames" in readonly("dynamodb").list_tables()
    code, _ = denied(lambda: readonly("sqs").list_queues())
    assert code in ("AccessDenied", "AccessDeniedException")


def test_query_protocol_denial(readonly):
    code, _ = denied(lambda: readonly("iam").list_users())
    assert code == "AccessDenied"


def test_unknown_operation_is_denied(gateway):
    import urllib.error
    import urllib.request

    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from harness import GATEWAY_KEY_ID, GATEWAY_SECRET, REGION
    request = AWSRequest(method="POST", url=gateway.url + "/", data=b"{}",
                         headers={"X-Amz-Target": "DynamoDB_20120810.NoSuchOperation",
                                  "Content-Type": "application/x-amz-json-1.0"})
    botocore.auth.SigV4Auth(Credentials(GATEWAY_KEY_ID, GATEWAY_SECRET), "dynamodb", REGION).add_auth(request)
    prepared = request.prepare()
    req = urllib.request.Request(prepared.url, data=b"{}", method="POST", headers=dict(prepared.headers))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 403 and b"AccessDeniedException" in e.value.read()


def test_every_decision_is_audited_with_its_reason(gateway, readonly):
    denied(lambda: readonly("s3").get_object(Bucket="e2e-authz", Key="secret/keys.txt"))
    events = [e for e in gateway.audit_events() if e["principal"] == "e2e-readonly"]
    deny = [e for e in events if e["decision"] == "deny"]
    allow = [e for e in events if e["decision"] == "allow"]
    assert deny and "NeverSecrets" in deny[-1]["reason"] and deny[-1]["upstream_status"] is None
    assert allow and any("ReadReports" in e["reason"] for e in allow)
