//! Helpers shared by the integration tests: raw HTTP parsing and a
//! credential store that accepts the suite's session tokens.

#![allow(dead_code, missing_docs)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use countersign_sigv4::{Credential, CredentialStore, LookupError, RequestView};
use sha2::{Digest, Sha256};

/// A parsed raw HTTP/1.1 request.
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    /// Parses the suite's request files: request line, headers with folded
    /// continuation lines (kept with their line break), blank line, body.
    pub fn parse(text: &str) -> Self {
        let (head, body) = match text.find("\n\n") {
            Some(i) => (&text[..i], &text[i + 2..]),
            None => (text.trim_end_matches('\n'), ""),
        };
        let mut lines = head.split('\n');
        let request_line = lines.next().expect("request line");
        let first_space = request_line.find(' ').expect("method");
        let last_space = request_line.rfind(' ').expect("version");
        let method = request_line[..first_space].to_owned();
        let target = &request_line[first_space + 1..last_space];
        let (path, query) = RequestView::split_target(target);
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for line in lines {
            if line.starts_with(' ') || line.starts_with('\t') {
                let last = headers.last_mut().expect("continuation after a header");
                last.1.push(b'\n');
                last.1.extend_from_slice(line.as_bytes());
            } else if let Some((n, v)) = line.split_once(':') {
                headers.push((n.to_owned(), v.as_bytes().to_vec()));
            }
        }
        Self {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn header_pairs(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect()
    }

    pub fn view<'a>(&'a self, headers: &'a [(&'a str, &'a [u8])]) -> RequestView<'a> {
        RequestView {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers,
            authority: None,
            body_sha256: Some(Sha256::digest(&self.body).into()),
        }
    }
}

/// A credential with an optional session token it insists on.
#[derive(Debug)]
pub struct TestKey {
    pub secret: Vec<u8>,
    pub token: Option<String>,
}

impl Credential for &TestKey {
    fn secret_access_key(&self) -> &[u8] {
        &self.secret
    }
}

/// One access key, whose session token (if any) must match.
pub struct TestStore {
    pub access_key_id: String,
    pub key: TestKey,
}

impl TestStore {
    pub fn new(access_key_id: &str, secret: &str, token: Option<&str>) -> Self {
        Self {
            access_key_id: access_key_id.to_owned(),
            key: TestKey {
                secret: secret.as_bytes().to_vec(),
                token: token.map(str::to_owned),
            },
        }
    }
}

impl CredentialStore for TestStore {
    type Credential<'a> = &'a TestKey;

    fn lookup<'a>(
        &'a self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<&'a TestKey, LookupError> {
        if access_key_id != self.access_key_id {
            return Err(LookupError::UnknownAccessKey);
        }
        if session_token != self.key.token.as_deref() {
            return Err(LookupError::InvalidToken);
        }
        Ok(&self.key)
    }
}

pub fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}
