//! `countersign grant …`: just-in-time grants through the admin API.

use std::process::ExitCode;

use serde_json::{json, Value};

use crate::admin_client::{call, AdminArgs};

fn print_grant(g: &Value) {
    let s = |k: &str| g[k].as_str().unwrap_or("-").to_owned();
    let approvals = g["approvals"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let ends = g["ends_at"]
        .as_u64()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "-".into());
    crate::outln!(
        "{}\t{}\t{}\t{}\tuntil={}\tapprovals={}\treason={}",
        s("id"),
        s("state"),
        s("principal"),
        s("role"),
        ends,
        if approvals.is_empty() {
            "-"
        } else {
            &approvals
        },
        s("reason"),
    );
}

fn finish(result: Result<Value, ExitCode>, json_out: bool) -> ExitCode {
    match result {
        Ok(v) => {
            if json_out {
                crate::outln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else if let Some(list) = v["grants"].as_array() {
                for g in list {
                    print_grant(g);
                }
            } else {
                print_grant(&v);
            }
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// `grant request`.
pub fn request(
    admin: &AdminArgs,
    role: String,
    duration: String,
    reason: Option<String>,
    ticket: Option<String>,
    json_out: bool,
) -> ExitCode {
    let body = json!({"role": role, "duration": duration, "reason": reason, "ticket": ticket});
    finish(
        call(admin, http::Method::POST, "/v1/grants", Some(body)),
        json_out,
    )
}

/// `grant approve|deny|revoke ID`.
pub fn transition(
    admin: &AdminArgs,
    action: &str,
    id: &str,
    note: Option<String>,
    json_out: bool,
) -> ExitCode {
    let body = if action == "approve" {
        json!({"comment": note})
    } else {
        json!({"reason": note})
    };
    finish(
        call(
            admin,
            http::Method::POST,
            &format!("/v1/grants/{id}/{action}"),
            Some(body),
        ),
        json_out,
    )
}

/// `grant list`.
pub fn list(
    admin: &AdminArgs,
    state: Option<String>,
    principal: Option<String>,
    json_out: bool,
) -> ExitCode {
    let mut query = Vec::new();
    if let Some(s) = state {
        query.push(format!("state={s}"));
    }
    if let Some(p) = principal {
        query.push(format!("principal={p}"));
    }
    let path = if query.is_empty() {
        "/v1/grants".to_owned()
    } else {
        format!("/v1/grants?{}", query.join("&"))
    };
    finish(call(admin, http::Method::GET, &path, None), json_out)
}

/// `grant show ID`.
pub fn show(admin: &AdminArgs, id: &str) -> ExitCode {
    finish(
        call(admin, http::Method::GET, &format!("/v1/grants/{id}"), None),
        true,
    )
}
