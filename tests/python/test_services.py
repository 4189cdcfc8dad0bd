"""DynamoDB, SQS, STS and IAM (a global service) through the gateway."""

import time


def test_dynamodb_table_put_get_query(gateway):
    ddb = gateway.client("dynamodb")
    ddb.create_table(
        TableName="e2e-table",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for sk in ["a", "b", "c"]:
        ddb.put_item(TableName="e2e-table", Item={"pk": {"S": "user#1"}, "sk": {"S": sk}, "v": {"N": "1"}})
    item = ddb.get_item(TableName="e2e-table", Key={"pk": {"S": "user#1"}, "sk": {"S": "b"}})["Item"]
    assert item["sk"]["S"] == "b"
    q = ddb.query(TableName="e2e-table", KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "user#1"}})
    assert [i["sk"]["S"] for i in q["Items"]] == ["a", "b", "c"]
    assert "e2e-table" in ddb.list_tables()["TableNames"]


def test_sqs_send_and_receive(gateway):
    sqs = gateway.client("sqs")
    url = sqs.create_queue(QueueName="e2e-queue")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello through countersign")
    messages = []
    deadline = time.monotonic() + 10
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1).get("Messages", [])
    assert messages and messages[0]["Body"] == "hello through countersign"


def test_sts_get_caller_identity_is_the_upstream_user(gateway):
    identity = gateway.client("sts").get_caller_identity()
    # The workload signed with gateway keys; AWS (moto) saw the upstream user.
    assert identity["Arn"].endswith(":user/countersign-upstream")


def test_iam_list_users_global_service(gateway):
    users = gateway.client("iam").list_users()["Users"]
    assert "countersign-upstream" in [u["UserName"] for u in users]
