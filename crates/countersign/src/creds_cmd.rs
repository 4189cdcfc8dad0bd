//! `countersign creds issue|revoke`: gateway credentials through the admin API.

use std::process::ExitCode;

use serde_json::json;

use crate::admin_client::{call, AdminArgs};

/// How issued credentials are printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `export AWS_…=…` lines for a shell.
    Env,
    /// The admin API's JSON (with the principal and grants).
    Json,
    /// The AWS `credential_process` format.
    CredentialProcess,
}

/// `creds issue`.
pub fn issue(
    admin: &AdminArgs,
    principal: Option<String>,
    ttl: Option<String>,
    grants: Vec<String>,
    format: Format,
) -> ExitCode {
    let mut body = json!({});
    if let Some(p) = principal {
        body["principal"] = json!(p);
    }
    if let Some(t) = ttl {
        body["ttl"] = json!(t);
    }
    if !grants.is_empty() {
        body["grants"] = json!(grants);
    }
    let answer = match call(admin, http::Method::POST, "/v1/credentials", Some(body)) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let field = |k: &str| answer[k].as_str().unwrap_or_default().to_owned();
    match format {
        Format::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        ),
        Format::CredentialProcess => crate::outln!(
            "{}",
            json!({
                "Version": 1,
                "AccessKeyId": field("AccessKeyId"),
                "SecretAccessKey": field("SecretAccessKey"),
                "SessionToken": field("SessionToken"),
                "Expiration": field("Expiration"),
            })
        ),
        Format::Env => {
            crate::outln!(
                "# {} until {} (grants: {})",
                field("Principal"),
                field("Expiration"),
                answer["Grants"]
                    .as_array()
                    .map(|g| g
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "none".into())
            );
            crate::outln!("export AWS_ACCESS_KEY_ID={}", field("AccessKeyId"));
            crate::outln!("export AWS_SECRET_ACCESS_KEY={}", field("SecretAccessKey"));
            crate::outln!("export AWS_SESSION_TOKEN={}", field("SessionToken"));
        }
    }
    ExitCode::SUCCESS
}

/// `creds revoke`: one credential, or every session of a principal.
pub fn revoke(
    admin: &AdminArgs,
    access_key_id: Option<String>,
    principal: Option<String>,
    reason: Option<String>,
) -> ExitCode {
    let (path, body) = match (access_key_id, principal) {
        (Some(id), None) => (
            format!("/v1/credentials/{id}/revoke"),
            json!({"reason": reason}),
        ),
        (None, Some(p)) => (format!("/v1/principals/{p}/revoke-sessions"), json!({})),
        _ => {
            eprintln!("give an ACCESS_KEY_ID or --principal NAME (not both)");
            return ExitCode::from(2);
        }
    };
    match call(admin, http::Method::POST, &path, Some(body)) {
        Ok(a) => {
            crate::outln!("{a}");
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}
