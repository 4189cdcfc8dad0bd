//! Hand-written, hand-checked cases: expected operation, actions and ARNs
//! for the services with rules (S3 in both addressing styles with tricky
//! keys, DynamoDB batch/transact/PartiQL, SQS queue URLs, KMS aliases,
//! Lambda qualifiers, ...).

use countersign_catalog::{Catalog, Config, Outcome, RequestView, Unknown};

const ACCT: &str = "111122223333";

struct Case {
    scope: &'static str,
    method: &'static str,
    host: &'static str,
    path: &'static str,
    query: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    /// Expected operation, or "" for Unknown.
    op: &'static str,
    actions: &'static [(&'static str, &'static [&'static str])],
    conds: &'static [(&'static str, &'static str)],
}

const fn c(
    scope: &'static str,
    method: &'static str,
    host: &'static str,
    path: &'static str,
) -> Case {
    Case {
        scope,
        method,
        host,
        path,
        query: "",
        headers: &[],
        body: "",
        op: "",
        actions: &[],
        conds: &[],
    }
}

macro_rules! case {
    ($scope:expr, $m:expr, $host:expr, $path:expr $(, $f:ident = $v:expr)* ; $op:expr => [$(($a:expr, [$($r:expr),*])),*] $(, conds = [$(($ck:expr, $cv:expr)),*])?) => {
        Case {
            $($f: $v,)*
            op: $op,
            actions: &[$(($a, &[$($r),*])),*],
            $(conds: &[$(($ck, $cv)),*],)?
            ..c($scope, $m, $host, $path)
        }
    };
}

const JSON10: (&str, &str) = ("content-type", "application/x-amz-json-1.0");
const FORM: (&str, &str) = (
    "content-type",
    "application/x-www-form-urlencoded; charset=utf-8",
);

fn cases() -> Vec<Case> {
    vec![
        // ---------------------------------------------------------- S3, path style
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/my-bucket/photos/2024/cat.jpg";
            "GetObject" => [("s3:GetObject", ["arn:aws:s3:::my-bucket/photos/2024/cat.jpg"])]),
        case!("s3", "HEAD", "s3.us-east-1.amazonaws.com", "/my-bucket/a%20b%2Bc.txt";
            "HeadObject" => [("s3:GetObject", ["arn:aws:s3:::my-bucket/a b+c.txt"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/my-bucket/dir/", query = "versionId=v1";
            "GetObject" => [("s3:GetObjectVersion", ["arn:aws:s3:::my-bucket/dir/"])], conds = [("s3:versionid", "v1")]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/my-bucket/a//b/%3Fq=1";
            "GetObject" => [("s3:GetObject", ["arn:aws:s3:::my-bucket/a//b/?q=1"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/my-bucket", query = "list-type=2&prefix=logs%2F&delimiter=%2F&max-keys=10";
            "ListObjectsV2" => [("s3:ListBucket", ["arn:aws:s3:::my-bucket"])],
            conds = [("s3:prefix", "logs/"), ("s3:delimiter", "/"), ("s3:max-keys", "10")]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/my-bucket", query = "prefix=a";
            "ListObjects" => [("s3:ListBucket", ["arn:aws:s3:::my-bucket"])], conds = [("s3:prefix", "a")]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/my-bucket/";
            "ListObjects" => [("s3:ListBucket", ["arn:aws:s3:::my-bucket"])]),
        case!("s3", "HEAD", "s3.us-east-1.amazonaws.com", "/my-bucket";
            "HeadBucket" => [("s3:ListBucket", ["arn:aws:s3:::my-bucket"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/my-bucket", query = "versions&prefix=x";
            "ListObjectVersions" => [("s3:ListBucketVersions", ["arn:aws:s3:::my-bucket"])], conds = [("s3:prefix", "x")]),
        case!("s3", "GET", "s3.amazonaws.com", "/";
            "ListBuckets" => [("s3:ListAllMyBuckets", ["*"])]),
        case!("s3", "PUT", "s3.us-east-1.amazonaws.com", "/my-bucket/k", headers = &[("x-amz-server-side-encryption", "aws:kms")];
            "PutObject" => [("s3:PutObject", ["arn:aws:s3:::my-bucket/k"])],
            conds = [("s3:x-amz-server-side-encryption", "aws:kms")]),
        case!("s3", "PUT", "s3.us-east-1.amazonaws.com", "/my-bucket/k", headers = &[("x-amz-acl", "public-read")];
            "PutObject" => [("s3:PutObject", ["arn:aws:s3:::my-bucket/k"]), ("s3:PutObjectAcl", ["arn:aws:s3:::my-bucket/k"])],
            conds = [("s3:x-amz-acl", "public-read")]),
        case!("s3", "PUT", "s3.us-east-1.amazonaws.com", "/my-bucket/k", headers = &[("x-amz-tagging", "a=b")];
            "PutObject" => [("s3:PutObject", ["arn:aws:s3:::my-bucket/k"]), ("s3:PutObjectTagging", ["arn:aws:s3:::my-bucket/k"])]),
        case!("s3", "PUT", "s3.us-east-1.amazonaws.com", "/dst/new.txt", headers = &[("x-amz-copy-source", "/src-bucket/old%20name.txt")];
            "CopyObject" => [("s3:PutObject", ["arn:aws:s3:::dst/new.txt"]), ("s3:GetObject", ["arn:aws:s3:::src-bucket/old name.txt"])],
            conds = [("s3:x-amz-copy-source", "/src-bucket/old%20name.txt")]),
        case!("s3", "PUT", "s3.us-east-1.amazonaws.com", "/dst/new.txt", headers = &[("x-amz-copy-source", "src/o?versionId=3")];
            "CopyObject" => [("s3:PutObject", ["arn:aws:s3:::dst/new.txt"]), ("s3:GetObjectVersion", ["arn:aws:s3:::src/o"])]),
        case!("s3", "POST", "s3.us-east-1.amazonaws.com", "/b/big.bin", query = "uploads";
            "CreateMultipartUpload" => [("s3:PutObject", ["arn:aws:s3:::b/big.bin"])]),
        case!("s3", "PUT", "s3.us-east-1.amazonaws.com", "/b/big.bin", query = "partNumber=2&uploadId=abc";
            "UploadPart" => [("s3:PutObject", ["arn:aws:s3:::b/big.bin"])]),
        case!("s3", "PUT", "s3.us-east-1.amazonaws.com", "/b/big.bin", query = "partNumber=2&uploadId=abc", headers = &[("x-amz-copy-source", "other/part")];
            "UploadPartCopy" => [("s3:PutObject", ["arn:aws:s3:::b/big.bin"]), ("s3:GetObject", ["arn:aws:s3:::other/part"])]),
        case!("s3", "POST", "s3.us-east-1.amazonaws.com", "/b/big.bin", query = "uploadId=abc";
            "CompleteMultipartUpload" => [("s3:PutObject", ["arn:aws:s3:::b/big.bin"])]),
        case!("s3", "DELETE", "s3.us-east-1.amazonaws.com", "/b/big.bin", query = "uploadId=abc";
            "AbortMultipartUpload" => [("s3:AbortMultipartUpload", ["arn:aws:s3:::b/big.bin"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/b/big.bin", query = "uploadId=abc";
            "ListParts" => [("s3:ListMultipartUploadParts", ["arn:aws:s3:::b/big.bin"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/b", query = "uploads";
            "ListMultipartUploads" => [("s3:ListBucketMultipartUploads", ["arn:aws:s3:::b"])]),
        case!("s3", "DELETE", "s3.us-east-1.amazonaws.com", "/b/k";
            "DeleteObject" => [("s3:DeleteObject", ["arn:aws:s3:::b/k"])]),
        case!("s3", "DELETE", "s3.us-east-1.amazonaws.com", "/b/k", query = "versionId=7";
            "DeleteObject" => [("s3:DeleteObjectVersion", ["arn:aws:s3:::b/k"])]),
        case!("s3", "POST", "s3.us-east-1.amazonaws.com", "/b", query = "delete",
            body = "<Delete><Object><Key>a&amp;b</Key></Object><Object><Key>c/d</Key><VersionId>v9</VersionId></Object></Delete>";
            "DeleteObjects" => [("s3:DeleteObject", ["arn:aws:s3:::b/a&b"]), ("s3:DeleteObjectVersion", ["arn:aws:s3:::b/c/d"])]),
        case!("s3", "POST", "s3.us-east-1.amazonaws.com", "/b", query = "delete";
            "DeleteObjects" => [("s3:DeleteObject", ["arn:aws:s3:::b/*"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/b/k", query = "acl";
            "GetObjectAcl" => [("s3:GetObjectAcl", ["arn:aws:s3:::b/k"])]),
        case!("s3", "PUT", "s3.us-east-1.amazonaws.com", "/b/k", query = "acl&versionId=2";
            "PutObjectAcl" => [("s3:PutObjectVersionAcl", ["arn:aws:s3:::b/k"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/b", query = "acl";
            "GetBucketAcl" => [("s3:GetBucketAcl", ["arn:aws:s3:::b"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/b/k", query = "tagging";
            "GetObjectTagging" => [("s3:GetObjectTagging", ["arn:aws:s3:::b/k"])]),
        case!("s3", "PUT", "s3.us-east-1.amazonaws.com", "/b", query = "tagging";
            "PutBucketTagging" => [("s3:PutBucketTagging", ["arn:aws:s3:::b"])]),
        case!("s3", "DELETE", "s3.us-east-1.amazonaws.com", "/b", query = "tagging";
            "DeleteBucketTagging" => [("s3:PutBucketTagging", ["arn:aws:s3:::b"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/b", query = "policy";
            "GetBucketPolicy" => [("s3:GetBucketPolicy", ["arn:aws:s3:::b"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/b", query = "lifecycle";
            "GetBucketLifecycleConfiguration" => [("s3:GetLifecycleConfiguration", ["arn:aws:s3:::b"])]),
        case!("s3", "PUT", "s3.us-east-1.amazonaws.com", "/b", query = "encryption";
            "PutBucketEncryption" => [("s3:PutEncryptionConfiguration", ["arn:aws:s3:::b"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/b", query = "cors";
            "GetBucketCors" => [("s3:GetBucketCORS", ["arn:aws:s3:::b"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/b", query = "publicAccessBlock";
            "GetPublicAccessBlock" => [("s3:GetBucketPublicAccessBlock", ["arn:aws:s3:::b"])]),
        case!("s3", "PUT", "s3.us-east-1.amazonaws.com", "/new-bucket";
            "CreateBucket" => [("s3:CreateBucket", ["arn:aws:s3:::new-bucket"])]),
        case!("s3", "DELETE", "s3.us-east-1.amazonaws.com", "/old-bucket";
            "DeleteBucket" => [("s3:DeleteBucket", ["arn:aws:s3:::old-bucket"])]),
        case!("s3", "POST", "s3.us-east-1.amazonaws.com", "/b/k", query = "restore";
            "RestoreObject" => [("s3:RestoreObject", ["arn:aws:s3:::b/k"])]),
        case!("s3", "GET", "s3.us-east-1.amazonaws.com", "/b/k", query = "attributes", headers = &[("x-amz-object-attributes", "ETag")];
            "GetObjectAttributes" => [("s3:GetObjectAttributes", ["arn:aws:s3:::b/k"])]),
        // ---------------------------------------------------------- S3, virtual host
        case!("s3", "GET", "my-bucket.s3.us-east-1.amazonaws.com", "/photos/cat.jpg";
            "GetObject" => [("s3:GetObject", ["arn:aws:s3:::my-bucket/photos/cat.jpg"])]),
        case!("s3", "GET", "my.dotted.bucket.s3.amazonaws.com", "/k%E2%82%AC";
            "GetObject" => [("s3:GetObject", ["arn:aws:s3:::my.dotted.bucket/k€"])]),
        case!("s3", "GET", "b.s3.dualstack.eu-west-1.amazonaws.com:443", "/", query = "list-type=2&prefix=p";
            "ListObjectsV2" => [("s3:ListBucket", ["arn:aws:s3:::b"])], conds = [("s3:prefix", "p")]),
        case!("s3", "HEAD", "b.s3-us-west-2.amazonaws.com", "/";
            "HeadBucket" => [("s3:ListBucket", ["arn:aws:s3:::b"])]),
        case!("s3", "GET", "bucket.s3.gateway.internal:8443", "/a/b";
            "GetObject" => [("s3:GetObject", ["arn:aws:s3:::bucket/a/b"])]),
        case!("s3", "PUT", "b.s3.us-east-1.amazonaws.com", "/k", query = "tagging";
            "PutObjectTagging" => [("s3:PutObjectTagging", ["arn:aws:s3:::b/k"])]),
        case!("s3", "GET", "reports-111122223333.s3-accesspoint.us-west-2.amazonaws.com", "/q1/sales.csv";
            "GetObject" => [("s3:GetObject", ["arn:aws:s3:us-west-2:111122223333:accesspoint/reports/object/q1/sales.csv"])]),
        case!("s3", "GET", "s3.us-west-2.amazonaws.com", "/arn%3Aaws%3As3%3Aus-west-2%3A111122223333%3Aaccesspoint%2Fap1/k";
            "GetObject" => [("s3:GetObject", ["arn:aws:s3:us-west-2:111122223333:accesspoint/ap1/object/k"])]),
        // ---------------------------------------------------------- DynamoDB
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.GetItem"), JSON10],
            body = r#"{"TableName":"Orders","Key":{"id":{"S":"1"}},"ReturnConsumedCapacity":"TOTAL"}"#;
            "GetItem" => [("dynamodb:GetItem", ["arn:aws:dynamodb:us-east-1:111122223333:table/Orders"])],
            conds = [("dynamodb:ReturnConsumedCapacity", "TOTAL")]),
        case!("dynamodb", "POST", "localhost:8080", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.Query")],
            body = r#"{"TableName":"Orders","IndexName":"byCustomer","Select":"COUNT"}"#;
            "Query" => [("dynamodb:Query", ["arn:aws:dynamodb:us-east-1:111122223333:table/Orders/index/byCustomer"])],
            conds = [("dynamodb:Select", "COUNT")]),
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.PutItem")],
            body = r#"{"TableName":"arn:aws:dynamodb:us-east-1:444455556666:table/Shared","Item":{}}"#;
            "PutItem" => [("dynamodb:PutItem", ["arn:aws:dynamodb:us-east-1:444455556666:table/Shared"])]),
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.BatchGetItem")],
            body = r#"{"RequestItems":{"A":{"Keys":[]},"B":{"Keys":[]}}}"#;
            "BatchGetItem" => [("dynamodb:BatchGetItem", ["arn:aws:dynamodb:us-east-1:111122223333:table/A", "arn:aws:dynamodb:us-east-1:111122223333:table/B"])]),
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.BatchWriteItem")],
            body = r#"{"RequestItems":{"Logs":[{"PutRequest":{"Item":{}}}]}}"#;
            "BatchWriteItem" => [("dynamodb:BatchWriteItem", ["arn:aws:dynamodb:us-east-1:111122223333:table/Logs"])]),
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.TransactWriteItems")],
            body = r#"{"TransactItems":[{"Put":{"TableName":"A","Item":{}}},{"Update":{"TableName":"B","Key":{}}},{"ConditionCheck":{"TableName":"A","Key":{}}},{"Delete":{"TableName":"C","Key":{}}}]}"#;
            "TransactWriteItems" => [
                ("dynamodb:PutItem", ["arn:aws:dynamodb:us-east-1:111122223333:table/A"]),
                ("dynamodb:UpdateItem", ["arn:aws:dynamodb:us-east-1:111122223333:table/B"]),
                ("dynamodb:ConditionCheckItem", ["arn:aws:dynamodb:us-east-1:111122223333:table/A"]),
                ("dynamodb:DeleteItem", ["arn:aws:dynamodb:us-east-1:111122223333:table/C"])]),
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.TransactGetItems")],
            body = r#"{"TransactItems":[{"Get":{"TableName":"A","Key":{}}},{"Get":{"TableName":"B","Key":{}}}]}"#;
            "TransactGetItems" => [("dynamodb:GetItem", ["arn:aws:dynamodb:us-east-1:111122223333:table/A", "arn:aws:dynamodb:us-east-1:111122223333:table/B"])]),
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.ExecuteStatement")],
            body = r#"{"Statement":"SELECT * FROM \"Orders\".\"byDate\" WHERE pk = ?"}"#;
            "ExecuteStatement" => [("dynamodb:PartiQLSelect", ["arn:aws:dynamodb:us-east-1:111122223333:table/Orders/index/byDate"])]),
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.ExecuteStatement")],
            body = r#"{"Statement":"insert into Orders value {'id': 1}"}"#;
            "ExecuteStatement" => [("dynamodb:PartiQLInsert", ["arn:aws:dynamodb:us-east-1:111122223333:table/Orders"])]),
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.BatchExecuteStatement")],
            body = r#"{"Statements":[{"Statement":"UPDATE \"T1\" SET a=1 WHERE pk='x'"},{"Statement":"DELETE FROM T2 WHERE pk='y'"}]}"#;
            "BatchExecuteStatement" => [
                ("dynamodb:PartiQLUpdate", ["arn:aws:dynamodb:us-east-1:111122223333:table/T1"]),
                ("dynamodb:PartiQLDelete", ["arn:aws:dynamodb:us-east-1:111122223333:table/T2"])]),
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.ListTables")], body = "{}";
            "ListTables" => [("dynamodb:ListTables", ["*"])]),
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.GetItem")],
            body = r#"{"TableName":"Public","Key":{},"TableName":"Secret"}"#;
            "" => []),
        case!("dynamodb", "POST", "dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDB_20120810.NoSuchOp")], body = "{}";
            "" => []),
        case!("dynamodb", "POST", "streams.dynamodb.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "DynamoDBStreams_20120810.GetShardIterator")],
            body = r#"{"StreamArn":"arn:aws:dynamodb:us-east-1:111122223333:table/T/stream/2024","ShardId":"s","ShardIteratorType":"LATEST"}"#;
            "GetShardIterator" => [("dynamodb:GetShardIterator", ["arn:aws:dynamodb:us-east-1:111122223333:table/T/stream/2024"])]),
        // ---------------------------------------------------------- SQS
        case!("sqs", "POST", "sqs.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AmazonSQS.SendMessage"), JSON10],
            body = r#"{"QueueUrl":"https://sqs.eu-west-1.amazonaws.com/444455556666/jobs","MessageBody":"x"}"#;
            "SendMessage" => [("sqs:SendMessage", ["arn:aws:sqs:eu-west-1:444455556666:jobs"])]),
        case!("sqs", "POST", "sqs.us-east-1.amazonaws.com", "/", headers = &[FORM],
            body = "Action=ReceiveMessage&Version=2012-11-05&QueueUrl=https%3A%2F%2Fsqs.us-east-1.amazonaws.com%2F111122223333%2Fq1";
            "ReceiveMessage" => [("sqs:ReceiveMessage", ["arn:aws:sqs:us-east-1:111122223333:q1"])]),
        case!("sqs", "POST", "queue.amazonaws.com", "/111122223333/legacy", headers = &[FORM],
            body = "Action=DeleteMessage&Version=2012-11-05&ReceiptHandle=r";
            "DeleteMessage" => [("sqs:DeleteMessage", ["arn:aws:sqs:us-east-1:111122223333:legacy"])]),
        case!("sqs", "POST", "sqs.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AmazonSQS.SendMessageBatch")],
            body = r#"{"QueueUrl":"http://localhost:4566/111122223333/local-q","Entries":[]}"#;
            "SendMessageBatch" => [("sqs:SendMessage", ["arn:aws:sqs:us-east-1:111122223333:local-q"])]),
        case!("sqs", "POST", "sqs.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AmazonSQS.CreateQueue")], body = r#"{"QueueName":"new.fifo"}"#;
            "CreateQueue" => [("sqs:CreateQueue", ["arn:aws:sqs:us-east-1:111122223333:new.fifo"])]),
        case!("sqs", "GET", "sqs.us-east-1.amazonaws.com", "/", query = "Action=ListQueues&Version=2012-11-05";
            "ListQueues" => [("sqs:ListQueues", ["*"])]),
        case!("sqs", "POST", "sqs.us-east-1.amazonaws.com", "/", query = "Action=ListQueues", headers = &[FORM],
            body = "Action=DeleteQueue&QueueUrl=x";
            "" => []),
        // ---------------------------------------------------------- KMS
        case!("kms", "POST", "kms.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "TrentService.Encrypt")],
            body = r#"{"KeyId":"alias/app-key","Plaintext":"eA==","EncryptionContext":{"tenant":"t1"}}"#;
            "Encrypt" => [("kms:Encrypt", ["arn:aws:kms:us-east-1:111122223333:alias/app-key"])],
            conds = [("kms:RequestAlias", "alias/app-key"), ("kms:EncryptionContextKeys", "tenant")]),
        case!("kms", "POST", "kms.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "TrentService.Decrypt")],
            body = r#"{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","CiphertextBlob":"eA=="}"#;
            "Decrypt" => [("kms:Decrypt", ["arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"])]),
        case!("kms", "POST", "kms.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "TrentService.Sign")],
            body = r#"{"KeyId":"arn:aws:kms:us-west-2:444455556666:alias/signer","Message":"eA==","SigningAlgorithm":"ECDSA_SHA_256"}"#;
            "Sign" => [("kms:Sign", ["arn:aws:kms:us-west-2:444455556666:alias/signer"])],
            conds = [("kms:SigningAlgorithm", "ECDSA_SHA_256"), ("kms:RequestAlias", "alias/signer")]),
        case!("kms", "POST", "kms.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "TrentService.CreateAlias")],
            body = r#"{"AliasName":"alias/new","TargetKeyId":"k1"}"#;
            "CreateAlias" => [("kms:CreateAlias", ["arn:aws:kms:us-east-1:111122223333:alias/new", "arn:aws:kms:us-east-1:111122223333:key/k1"])]),
        case!("kms", "POST", "kms.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "TrentService.ReEncrypt")],
            body = r#"{"CiphertextBlob":"eA==","SourceKeyId":"k1","DestinationKeyId":"alias/dst"}"#;
            "ReEncrypt" => [("kms:ReEncryptFrom", ["arn:aws:kms:us-east-1:111122223333:key/k1"]), ("kms:ReEncryptTo", ["arn:aws:kms:us-east-1:111122223333:alias/dst"])]),
        case!("kms", "POST", "kms.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "TrentService.ListKeys")], body = "{}";
            "ListKeys" => [("kms:ListKeys", ["*"])]),
        // ---------------------------------------------------------- Lambda
        case!("lambda", "POST", "lambda.us-east-1.amazonaws.com", "/2015-03-31/functions/my-fn/invocations";
            "Invoke" => [("lambda:InvokeFunction", ["arn:aws:lambda:us-east-1:111122223333:function:my-fn"])]),
        case!("lambda", "POST", "lambda.us-east-1.amazonaws.com", "/2015-03-31/functions/my-fn/invocations", query = "Qualifier=prod";
            "Invoke" => [("lambda:InvokeFunction", ["arn:aws:lambda:us-east-1:111122223333:function:my-fn:prod"])]),
        case!("lambda", "POST", "lambda.us-east-1.amazonaws.com", "/2015-03-31/functions/my-fn%3A7/invocations";
            "Invoke" => [("lambda:InvokeFunction", ["arn:aws:lambda:us-east-1:111122223333:function:my-fn:7"])]),
        case!("lambda", "POST", "lambda.us-east-1.amazonaws.com", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A444455556666%3Afunction%3Ashared%3A%24LATEST/invocations";
            "Invoke" => [("lambda:InvokeFunction", ["arn:aws:lambda:eu-west-1:444455556666:function:shared:$LATEST"])]),
        case!("lambda", "POST", "lambda.us-east-1.amazonaws.com", "/2015-03-31/functions/444455556666%3Afunction%3Apartial/invocations";
            "Invoke" => [("lambda:InvokeFunction", ["arn:aws:lambda:us-east-1:444455556666:function:partial"])]),
        case!("lambda", "GET", "lambda.us-east-1.amazonaws.com", "/2015-03-31/functions/my-fn", query = "Qualifier=3";
            "GetFunction" => [("lambda:GetFunction", ["arn:aws:lambda:us-east-1:111122223333:function:my-fn:3"])]),
        case!("lambda", "GET", "lambda.us-east-1.amazonaws.com", "/2015-03-31/functions/";
            "ListFunctions" => [("lambda:ListFunctions", ["*"])]),
        case!("lambda", "GET", "lambda.us-east-1.amazonaws.com", "/2018-10-31/layers/deps/versions/4";
            "GetLayerVersion" => [("lambda:GetLayerVersion", ["arn:aws:lambda:us-east-1:111122223333:layer:deps:4"])]),
        // ---------------------------------------------------------- STS, IAM
        case!("sts", "POST", "sts.amazonaws.com", "/", headers = &[FORM],
            body = "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A444455556666%3Arole%2FDeploy&RoleSessionName=alice&ExternalId=ext-1";
            "AssumeRole" => [("sts:AssumeRole", ["arn:aws:iam::444455556666:role/Deploy"])],
            conds = [("sts:ExternalId", "ext-1"), ("sts:RoleSessionName", "alice")]),
        case!("sts", "POST", "sts.amazonaws.com", "/", headers = &[FORM],
            body = "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2FR&RoleSessionName=s&SourceIdentity=bob&Tags.member.1.Key=team&Tags.member.1.Value=x";
            "AssumeRole" => [("sts:AssumeRole", ["arn:aws:iam::1:role/R"]), ("sts:TagSession", ["arn:aws:iam::1:role/R"]), ("sts:SetSourceIdentity", ["arn:aws:iam::1:role/R"])],
            conds = [("sts:SourceIdentity", "bob")]),
        case!("sts", "POST", "sts.amazonaws.com", "/", headers = &[FORM], body = "Action=GetCallerIdentity&Version=2011-06-15";
            "GetCallerIdentity" => [("sts:GetCallerIdentity", ["*"])]),
        case!("sts", "GET", "sts.amazonaws.com", "/", query = "Action=GetFederationToken&Version=2011-06-15&Name=fed";
            "GetFederationToken" => [("sts:GetFederationToken", ["arn:aws:sts::111122223333:federated-user/fed"])]),
        case!("sts", "POST", "sts.amazonaws.com", "/", query = "Action=GetCallerIdentity", headers = &[FORM],
            body = "Action=AssumeRole&RoleArn=x";
            "" => []),
        case!("iam", "POST", "iam.amazonaws.com", "/", headers = &[FORM], body = "Action=GetUser&Version=2010-05-08&UserName=alice";
            "GetUser" => [("iam:GetUser", ["arn:aws:iam::111122223333:user/alice"])]),
        case!("iam", "POST", "iam.amazonaws.com", "/", headers = &[FORM],
            body = "Action=AttachRolePolicy&Version=2010-05-08&RoleName=App&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess";
            "AttachRolePolicy" => [("iam:AttachRolePolicy", ["arn:aws:iam::111122223333:role/App"])],
            conds = [("iam:PolicyARN", "arn:aws:iam::aws:policy/ReadOnlyAccess")]),
        case!("iam", "POST", "iam.amazonaws.com", "/", headers = &[FORM],
            body = "Action=AddUserToGroup&Version=2010-05-08&UserName=bob&GroupName=admins";
            "AddUserToGroup" => [("iam:AddUserToGroup", ["arn:aws:iam::111122223333:group/admins"])]),
        case!("iam", "POST", "iam.amazonaws.com", "/", headers = &[FORM],
            body = "Action=CreatePolicyVersion&Version=2010-05-08&PolicyArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Apolicy%2Fp&PolicyDocument=%7B%7D";
            "CreatePolicyVersion" => [("iam:CreatePolicyVersion", ["arn:aws:iam::111122223333:policy/p"])]),
        // ---------------------------------------------------------- SNS
        case!("sns", "POST", "sns.us-east-1.amazonaws.com", "/", headers = &[FORM],
            body = "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A111122223333%3Aalerts&Message=hi";
            "Publish" => [("sns:Publish", ["arn:aws:sns:us-east-1:111122223333:alerts"])]),
        case!("sns", "POST", "sns.us-east-1.amazonaws.com", "/", headers = &[FORM],
            body = "Action=Subscribe&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A111122223333%3Aalerts&Protocol=email&Endpoint=a%40b.c";
            "Subscribe" => [("sns:Subscribe", ["arn:aws:sns:us-east-1:111122223333:alerts"])],
            conds = [("sns:Protocol", "email"), ("sns:Endpoint", "a@b.c")]),
        case!("sns", "POST", "sns.us-east-1.amazonaws.com", "/", headers = &[FORM],
            body = "Action=Unsubscribe&Version=2010-03-31&SubscriptionArn=arn%3Aaws%3Asns%3Aus-east-1%3A111122223333%3Aalerts%3A8a21d249";
            "Unsubscribe" => [("sns:Unsubscribe", ["arn:aws:sns:us-east-1:111122223333:alerts"])]),
        case!("sns", "POST", "sns.us-east-1.amazonaws.com", "/", headers = &[FORM],
            body = "Action=CreateTopic&Version=2010-03-31&Name=new-topic";
            "CreateTopic" => [("sns:CreateTopic", ["arn:aws:sns:us-east-1:111122223333:new-topic"])]),
        // ---------------------------------------------------------- Secrets Manager, SSM
        case!("secretsmanager", "POST", "secretsmanager.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "secretsmanager.GetSecretValue")], body = r#"{"SecretId":"prod/db"}"#;
            "GetSecretValue" => [("secretsmanager:GetSecretValue", ["arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db"])],
            conds = [("secretsmanager:SecretId", "prod/db")]),
        case!("secretsmanager", "POST", "secretsmanager.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "secretsmanager.BatchGetSecretValue")], body = r#"{"SecretIdList":["a","arn:aws:secretsmanager:us-east-1:1:secret:b-AbCdEf"]}"#;
            "BatchGetSecretValue" => [("secretsmanager:BatchGetSecretValue", ["*"]),
                ("secretsmanager:GetSecretValue", ["arn:aws:secretsmanager:us-east-1:111122223333:secret:a", "arn:aws:secretsmanager:us-east-1:1:secret:b-AbCdEf"])]),
        case!("ssm", "POST", "ssm.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AmazonSSM.GetParameter")], body = r#"{"Name":"/app/prod/db-url","WithDecryption":true}"#;
            "GetParameter" => [("ssm:GetParameter", ["arn:aws:ssm:us-east-1:111122223333:parameter/app/prod/db-url"])]),
        case!("ssm", "POST", "ssm.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AmazonSSM.GetParameters")], body = r#"{"Names":["plain","/a/b"]}"#;
            "GetParameters" => [("ssm:GetParameters", ["arn:aws:ssm:us-east-1:111122223333:parameter/plain", "arn:aws:ssm:us-east-1:111122223333:parameter/a/b"])]),
        case!("ssm", "POST", "ssm.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AmazonSSM.GetParametersByPath")], body = r#"{"Path":"/app/","Recursive":true}"#;
            "GetParametersByPath" => [("ssm:GetParametersByPath", ["arn:aws:ssm:us-east-1:111122223333:parameter/app/"])],
            conds = [("ssm:Recursive", "true")]),
        case!("ssm", "POST", "ssm.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AmazonSSM.StartSession")], body = r#"{"Target":"i-0123456789abcdef0"}"#;
            "StartSession" => [("ssm:StartSession", ["arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0"])]),
        // ---------------------------------------------------------- Logs, EventBridge, Kinesis, ECR, Step Functions
        case!("logs", "POST", "logs.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "Logs_20140328.PutLogEvents")],
            body = r#"{"logGroupName":"/aws/app","logStreamName":"s1","logEvents":[]}"#;
            "PutLogEvents" => [("logs:PutLogEvents", ["arn:aws:logs:us-east-1:111122223333:log-group:/aws/app:log-stream:s1"])]),
        case!("logs", "POST", "logs.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "Logs_20140328.FilterLogEvents")], body = r#"{"logGroupName":"/aws/app"}"#;
            "FilterLogEvents" => [("logs:FilterLogEvents", ["arn:aws:logs:us-east-1:111122223333:log-group:/aws/app"])]),
        case!("events", "POST", "events.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AWSEvents.PutEvents")],
            body = r#"{"Entries":[{"Source":"app.orders","DetailType":"created","Detail":"{}"},{"Source":"app.orders","EventBusName":"audit","Detail":"{}","DetailType":"x"}]}"#;
            "PutEvents" => [("events:PutEvents", ["arn:aws:events:us-east-1:111122223333:event-bus/default", "arn:aws:events:us-east-1:111122223333:event-bus/audit"])],
            conds = [("events:source", "app.orders"), ("events:detail-type", "created")]),
        case!("events", "POST", "events.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AWSEvents.PutRule")], body = r#"{"Name":"nightly","EventBusName":"audit"}"#;
            "PutRule" => [("events:PutRule", ["arn:aws:events:us-east-1:111122223333:rule/audit/nightly"])]),
        case!("kinesis", "POST", "kinesis.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "Kinesis_20131202.PutRecord")], body = r#"{"StreamName":"clicks","Data":"eA==","PartitionKey":"p"}"#;
            "PutRecord" => [("kinesis:PutRecord", ["arn:aws:kinesis:us-east-1:111122223333:stream/clicks"])]),
        case!("ecr", "POST", "api.ecr.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.BatchGetImage")],
            body = r#"{"repositoryName":"team/api","imageIds":[],"registryId":"444455556666"}"#;
            "BatchGetImage" => [("ecr:BatchGetImage", ["arn:aws:ecr:us-east-1:444455556666:repository/team/api"])]),
        case!("ecr", "POST", "api.ecr.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")], body = "{}";
            "GetAuthorizationToken" => [("ecr:GetAuthorizationToken", ["*"])]),
        case!("states", "POST", "states.us-east-1.amazonaws.com", "/",
            headers = &[("x-amz-target", "AWSStepFunctions.StartExecution")],
            body = r#"{"stateMachineArn":"arn:aws:states:us-east-1:111122223333:stateMachine:Flow","input":"{}"}"#;
            "StartExecution" => [("states:StartExecution", ["arn:aws:states:us-east-1:111122223333:stateMachine:Flow"])]),
        // ---------------------------------------------------------- other protocols and shared signing names
        case!("elasticloadbalancing", "POST", "elasticloadbalancing.us-east-1.amazonaws.com", "/", headers = &[FORM],
            body = "Action=DescribeLoadBalancers&Version=2015-12-01";
            "DescribeLoadBalancers" => [("elasticloadbalancing:DescribeLoadBalancers", ["*"])]),
        case!("monitoring", "POST", "monitoring.us-east-1.amazonaws.com", "/", headers = &[FORM],
            body = "Action=PutMetricData&Version=2010-08-01&Namespace=App";
            "PutMetricData" => [("cloudwatch:PutMetricData", ["*"])]),
        case!("monitoring", "POST", "monitoring.us-east-1.amazonaws.com", "/service/GraniteServiceVersion20100801/operation/GetMetricData",
            headers = &[("smithy-protocol", "rpc-v2-cbor")];
            "GetMetricData" => [("cloudwatch:GetMetricData", ["*"])]),
        case!("ec2", "POST", "ec2.us-east-1.amazonaws.com", "/", headers = &[FORM],
            body = "Action=DescribeInstances&Version=2016-11-15";
            "DescribeInstances" => [("ec2:DescribeInstances", ["*"])]),
        case!("apigateway", "GET", "apigateway.us-east-1.amazonaws.com", "/restapis/a1b2/stages";
            "GetStages" => [("apigateway:GET", ["arn:aws:apigateway:us-east-1::/restapis/a1b2/stages"])]),
        case!("nosuchservice", "GET", "x.amazonaws.com", "/";
            "" => []),
        case!("s3", "PATCH", "s3.us-east-1.amazonaws.com", "/b/k";
            "" => []),
    ]
}

#[test]
fn hand_cases() {
    let catalog = Catalog::load().unwrap().with_config(Config {
        s3_virtual_host_suffixes: vec!["s3.gateway.internal".into()],
    });
    let cases = cases();
    let mut bad = Vec::new();
    for (i, k) in cases.iter().enumerate() {
        let view = RequestView {
            method: k.method,
            host: k.host,
            path: k.path,
            query: k.query,
            headers: k.headers,
            body: k.body.as_bytes(),
            body_complete: true,
            service: k.scope,
            region: "us-east-1",
            account: ACCT,
        };
        let got = catalog.classify(&view);
        let ok = match (&got, k.op) {
            (Outcome::Unknown(_), "") => true,
            (Outcome::Known(c), op) if c.operation == op => {
                let acts: Vec<(&str, Vec<&str>)> = c
                    .actions
                    .iter()
                    .map(|a| {
                        (
                            a.name.as_ref(),
                            a.resources.iter().map(String::as_str).collect(),
                        )
                    })
                    .collect();
                let want: Vec<(&str, Vec<&str>)> =
                    k.actions.iter().map(|(a, r)| (*a, r.to_vec())).collect();
                acts == want
                    && k.conds.iter().all(|(ck, cv)| {
                        c.condition_keys
                            .iter()
                            .any(|x| x.key == *ck && x.value == *cv)
                    })
            }
            _ => false,
        };
        if !ok {
            bad.push(format!(
                "case {i} ({} {} {}{}?{}): {got:?}",
                k.scope, k.method, k.host, k.path, k.query
            ));
        }
    }
    println!("{} hand-written cases", cases.len());
    for b in &bad {
        println!("MISMATCH {b}");
    }
    assert!(cases.len() >= 80);
    assert!(
        bad.is_empty(),
        "{} of {} cases differ",
        bad.len(),
        cases.len()
    );
}

#[test]
fn unknown_reasons() {
    let catalog = Catalog::global();
    let view = RequestView {
        method: "POST",
        host: "h",
        path: "/",
        query: "",
        headers: &[("x-amz-target", "a"), ("X-Amz-Target", "b")],
        body: b"",
        body_complete: true,
        service: "dynamodb",
        region: "us-east-1",
        account: ACCT,
    };
    assert_eq!(
        catalog.classify(&view),
        Outcome::Unknown(Unknown::Ambiguous)
    );
    let view = RequestView {
        service: "nope",
        ..view
    };
    assert_eq!(
        catalog.classify(&view),
        Outcome::Unknown(Unknown::UnknownService)
    );
}
