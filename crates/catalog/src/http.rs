//! Parsing a raw, captured HTTP/1.1 request into a classifiable request:
//! what `countersign classify --request FILE` needs.

use crate::request::{decode, pair_value, split_pairs};
use crate::{Catalog, Outcome, RequestView};

/// Most headers accepted in a raw request.
const MAX_HEADERS: usize = 200;

/// An owned request, parsed from raw HTTP/1.1 bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedRequest {
    /// Method.
    pub method: String,
    /// Host (from the `Host` header, or an absolute-form request target).
    pub host: String,
    /// Raw path.
    pub path: String,
    /// Raw query (without `?`).
    pub query: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body (after the head; cut to `Content-Length` when present).
    pub body: Vec<u8>,
    /// Whether the whole body (per `Content-Length`) is present.
    pub body_complete: bool,
    /// Credential scope service, from `Authorization` or `X-Amz-Credential`.
    pub service: String,
    /// Credential scope region.
    pub region: String,
    /// Account used in ARNs the request does not spell out; empty unless
    /// the caller sets it.
    pub account: String,
}

/// Why raw bytes are not a request this parser accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpParseError {
    /// No blank line ending the head.
    IncompleteHead,
    /// The request line is not `METHOD TARGET HTTP/1.x`.
    BadRequestLine,
    /// A header line has no colon, or too many headers.
    BadHeader,
    /// Neither `Authorization` nor `X-Amz-Credential` gives a SigV4 scope.
    NoCredentialScope,
}

impl std::fmt::Display for HttpParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HttpParseError::IncompleteHead => "incomplete request head",
            HttpParseError::BadRequestLine => "bad request line",
            HttpParseError::BadHeader => "bad header line",
            HttpParseError::NoCredentialScope => {
                "no SigV4 credential scope (Authorization or X-Amz-Credential)"
            }
        })
    }
}

impl std::error::Error for HttpParseError {}

/// Parse a raw HTTP/1.1 request (as captured: request line, headers, blank
/// line, body; `\r\n` or `\n` line ends) and take the credential scope's
/// service and region from its `Authorization` header (or presigned
/// `X-Amz-Credential` query parameter). Set [`OwnedRequest::account`]
/// before classifying if ARNs should name an account.
pub fn parse_http_request(raw: &[u8]) -> Result<OwnedRequest, HttpParseError> {
    let (head_end, body_start) = match find(raw, b"\r\n\r\n") {
        Some(p) => (p, p + 4),
        None => match find(raw, b"\n\n") {
            Some(p) => (p, p + 2),
            None => return Err(HttpParseError::IncompleteHead),
        },
    };
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let line = lines.next().ok_or(HttpParseError::BadRequestLine)?;
    let mut parts = line.split(' ').filter(|s| !s.is_empty());
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpParseError::BadRequestLine);
    };
    if !version.starts_with("HTTP/1.")
        || parts.next().is_some()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
    {
        return Err(HttpParseError::BadRequestLine);
    }
    let mut req = OwnedRequest {
        method: method.to_string(),
        ..OwnedRequest::default()
    };
    let mut target = target;
    if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        let slash = rest.find(['/', '?']).unwrap_or(rest.len());
        req.host = rest[..slash].to_string();
        target = &rest[slash..];
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    req.path = if path.is_empty() {
        "/".into()
    } else {
        path.to_string()
    };
    req.query = query.to_string();
    for l in lines {
        if l.is_empty() {
            continue;
        }
        let (n, v) = l.split_once(':').ok_or(HttpParseError::BadHeader)?;
        req.headers
            .push((n.trim().to_string(), v.trim().to_string()));
        if req.headers.len() > MAX_HEADERS {
            return Err(HttpParseError::BadHeader);
        }
    }
    if let Some((_, h)) = req
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("host"))
    {
        req.host = h.clone();
    }
    let body = &raw[body_start..];
    let len = req
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    match len {
        Some(l) if l <= body.len() => {
            req.body = body[..l].to_vec();
            req.body_complete = true;
        }
        Some(_) => req.body = body.to_vec(),
        None => {
            req.body = body.to_vec();
            req.body_complete = true;
        }
    }
    let scope = req
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| {
            v.split_once("Credential=")
                .map(|(_, c)| c.split([',', ' ']).next().unwrap_or("").to_string())
        })
        .or_else(|| {
            let pairs = split_pairs(&req.query);
            pair_value(&pairs, "X-Amz-Credential")
                .ok()
                .flatten()
                .map(|c| decode(c, true).into_owned())
        })
        .ok_or(HttpParseError::NoCredentialScope)?;
    // AKID/date/region/service/aws4_request
    let s: Vec<&str> = scope.split('/').collect();
    if s.len() != 5 {
        return Err(HttpParseError::NoCredentialScope);
    }
    req.region = s[2].to_string();
    req.service = s[3].to_string();
    Ok(req)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl OwnedRequest {
    /// Classify this request with `catalog`.
    pub fn classify<'c>(&self, catalog: &'c Catalog) -> Outcome<'c> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let view = RequestView {
            method: &self.method,
            host: &self.host,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
            body_complete: self.body_complete,
            service: &self.service,
            region: &self.region,
            account: &self.account,
        };
        catalog.classify(&view)
    }
}
