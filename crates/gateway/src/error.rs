//! Errors answered in the shape the client's protocol expects, so each SDK
//! raises its usual exception.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::body::{full, GatewayBody};

/// The wire shape of an error, inferred from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorShape {
    /// REST-XML (S3): `<Error><Code>…</Code>…</Error>`.
    RestXml,
    /// Query and EC2 protocols: `<ErrorResponse><Error>…</Error>…</ErrorResponse>`.
    Query,
    /// JSON 1.0/1.1 and REST-JSON: `{"__type": …}` with `x-amzn-ErrorType`.
    Json,
}

impl ErrorShape {
    /// Chooses the shape from the (claimed or verified) service and headers.
    pub fn infer(service: Option<&str>, headers: &HeaderMap) -> Self {
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if headers.contains_key("x-amz-target")
            || content_type.starts_with("application/x-amz-json")
        {
            return Self::Json;
        }
        match service {
            Some("s3" | "s3-object-lambda" | "s3express") => Self::RestXml,
            Some(
                "sts"
                | "iam"
                | "sqs"
                | "sns"
                | "ec2"
                | "autoscaling"
                | "cloudformation"
                | "elasticloadbalancing"
                | "rds"
                | "elasticache"
                | "ses"
                | "monitoring"
                | "redshift"
                | "elasticbeanstalk"
                | "cloudsearch"
                | "importexport"
                | "docdb"
                | "neptune",
            ) => Self::Query,
            Some(_) if content_type.starts_with("application/json") => Self::Json,
            Some(_) => Self::Json,
            None => Self::RestXml,
        }
    }
}

/// An error the gateway answers itself.
#[derive(Clone, Debug)]
pub struct GatewayError {
    /// HTTP status.
    pub status: StatusCode,
    /// AWS error code, e.g. `SignatureDoesNotMatch`.
    pub code: &'static str,
    /// Human-readable message; never a secret, token or signature.
    pub message: String,
}

impl GatewayError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// Renders the error for the client.
    pub fn into_response(self, shape: ErrorShape, request_id: &str) -> Response<GatewayBody> {
        let (content_type, body) = match shape {
            ErrorShape::RestXml => (
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
                    self.code,
                    xml_escape(&self.message),
                    xml_escape(request_id)
                ),
            ),
            ErrorShape::Query => (
                "text/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                    if self.status.is_server_error() { "Receiver" } else { "Sender" },
                    self.code,
                    xml_escape(&self.message),
                    xml_escape(request_id)
                ),
            ),
            ErrorShape::Json => (
                "application/x-amz-json-1.1",
                serde_json::json!({ "__type": self.code, "message": self.message, "Message": self.message }).to_string(),
            ),
        };
        let mut response = Response::new(full(Bytes::from(body)));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert("x-amzn-requestid", id.clone());
            headers.insert("x-amz-request-id", id);
        }
        if shape == ErrorShape::Json {
            headers.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        }
        response
    }
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_of(r: Response<GatewayBody>) -> String {
        let bytes = r.into_body().collect().await.expect("body").to_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf8")
    }

    #[tokio::test]
    async fn shapes() {
        let e = GatewayError::new(StatusCode::FORBIDDEN, "AccessDenied", "no <way>");
        let xml = body_of(e.clone().into_response(ErrorShape::RestXml, "r1")).await;
        assert!(xml.contains("<Error><Code>AccessDenied</Code><Message>no &lt;way&gt;</Message><RequestId>r1</RequestId>"));
        let q = body_of(e.clone().into_response(ErrorShape::Query, "r1")).await;
        assert!(q.contains("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"));
        let r = e.into_response(ErrorShape::Json, "r1");
        assert_eq!(r.headers()["x-amzn-errortype"], "AccessDenied");
        let j: serde_json::Value = serde_json::from_str(&body_of(r).await).expect("json");
        assert_eq!(j["__type"], "AccessDenied");
    }

    #[test]
    fn inference() {
        let mut h = HeaderMap::new();
        assert_eq!(ErrorShape::infer(Some("s3"), &h), ErrorShape::RestXml);
        assert_eq!(ErrorShape::infer(Some("sts"), &h), ErrorShape::Query);
        h.insert(
            "x-amz-target",
            HeaderValue::from_static("DynamoDB_20120810.GetItem"),
        );
        assert_eq!(ErrorShape::infer(Some("dynamodb"), &h), ErrorShape::Json);
        assert_eq!(ErrorShape::infer(Some("sqs"), &h), ErrorShape::Json);
    }
}
