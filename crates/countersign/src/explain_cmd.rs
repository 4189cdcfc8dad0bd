//! `countersign explain`: what the gateway would decide for a captured
//! request, and why — the classification, the caller, the effective
//! policy's decision and the deciding statement or grant.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use countersign_catalog::{parse_http_request, Catalog, Outcome};
use countersign_gateway::decide::{evaluate_call, CallFacts};
use countersign_gateway::Config;
use serde_json::json;

/// The access key id and session token a captured request presents.
fn credentials_of(headers: &[(String, String)], query: &str) -> (Option<String>, Option<String>) {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let decode = |v: &str| {
        percent_encoding::percent_decode_str(v)
            .decode_utf8_lossy()
            .into_owned()
    };
    let query_param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .map(decode)
    };
    let access_key = header("authorization")
        .and_then(|a| {
            a.split("Credential=")
                .nth(1)
                .and_then(|c| c.split('/').next())
                .map(str::to_owned)
        })
        .or_else(|| {
            query_param("X-Amz-Credential").and_then(|c| c.split('/').next().map(str::to_owned))
        });
    let token = header("x-amz-security-token").or_else(|| query_param("X-Amz-Security-Token"));
    (access_key, token)
}

/// Prints the decision for the request in `request_file` under the
/// configuration in `config_file`. Exit 0 allowed, 1 denied, 2 bad input.
pub(crate) fn explain(
    config_file: &Path,
    request_file: &Path,
    principal: Option<&str>,
    json_out: bool,
) -> ExitCode {
    let config = match Config::load(config_file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: {e}", config_file.display());
            return ExitCode::from(2);
        }
    };
    let raw = match std::fs::read(request_file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", request_file.display());
            return ExitCode::from(2);
        }
    };
    let mut request = match parse_http_request(&raw) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", request_file.display());
            return ExitCode::from(2);
        }
    };
    request.account = config
        .upstream
        .account_id
        .clone()
        .unwrap_or_else(|| "*".into());
    let runtime = match crate::current_thread_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    runtime.block_on(async move {
        let directory = match config.directory() {
            Ok(d) => Arc::new(d),
            Err(e) => {
                eprintln!("{}: {e}", config_file.display());
                return ExitCode::from(2);
            }
        };
        let (authority, _store) = match countersign_gateway::identity::open(&config, directory).await {
            Ok(a) => a,
            Err(e) => {
                eprintln!("{}: {e}", config_file.display());
                return ExitCode::from(2);
            }
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (access_key, token) = credentials_of(&request.headers, &request.query);
        // Who: the --principal given, a static key's owner, or the session an
        // issued credential's token opens (its grants with it).
        let (caller, grants, how) = if let Some(name) = principal {
            (authority.directory().principal(name).cloned(), Vec::new(), "given with --principal".to_owned())
        } else if let Some(key) = access_key.as_deref() {
            if countersign_identity::credentials::is_issued(key) {
                match authority.session(key, token.as_deref(), now) {
                    Ok(s) => (Some(s.principal.clone()), s.claims.grants.clone(), format!("issued credential {key}")),
                    Err(e) => {
                        eprintln!("credential {key}: {e} (the gateway would refuse the request before authorization)");
                        return ExitCode::from(1);
                    }
                }
            } else {
                let owner = config
                    .principals
                    .iter()
                    .find(|p| p.access_keys.iter().any(|k| k.id == key))
                    .and_then(|p| authority.directory().principal(&p.name).cloned());
                (owner, Vec::new(), format!("static key {key}"))
            }
        } else {
            (None, Vec::new(), "no credential in the request".to_owned())
        };
        let Some(caller) = caller else {
            eprintln!("no principal: {how} (use --principal NAME to explain for a principal)");
            return ExitCode::from(1);
        };
        let classified = match request.classify(Catalog::global()) {
            Outcome::Known(c) => c,
            Outcome::Unknown(why) => {
                let allowed = config.authorization.allow_unknown_operations;
                if json_out {
                    crate::outln!("{}", json!({"principal": &*caller.name, "operation": null, "unknown": why.to_string(), "decision": if allowed {"allow"} else {"deny"}}));
                } else {
                    crate::outln!("principal: {} ({how})", caller.name);
                    crate::outln!("operation: unknown ({why})");
                    crate::outln!("decision:  {} (authorization.allow_unknown_operations = {allowed})", if allowed { "allow" } else { "deny" });
                }
                return if allowed { ExitCode::SUCCESS } else { ExitCode::from(1) };
            }
        };
        let actions: Vec<(String, Vec<String>)> = classified
            .actions
            .iter()
            .map(|a| (a.name.to_string(), a.resources.clone()))
            .collect();
        let condition_keys: Vec<(String, String)> = classified
            .condition_keys
            .iter()
            .map(|k| (k.key.to_string(), k.value.clone()))
            .collect();
        let evaluation = evaluate_call(
            &authority,
            &caller,
            &grants,
            &CallFacts {
                actions: &actions,
                condition_keys: &condition_keys,
                client: None,
                region: &request.region,
                now,
            },
        );
        if json_out {
            crate::outln!(
                "{}",
                json!({
                    "principal": &*caller.name,
                    "credential": how,
                    "service": classified.service,
                    "operation": classified.operation,
                    "actions": actions.iter().map(|(a, r)| json!({"action": a, "resources": r})).collect::<Vec<_>>(),
                    "grants_carried": grants,
                    "grants_in_force": evaluation.grants_in_force,
                    "decision": evaluation.outcome.as_str(),
                    "statement": evaluation.statement,
                    "grant": evaluation.grant,
                    "denied": evaluation.denied.as_ref().map(|(a, r)| json!({"action": a, "resource": r})),
                })
            );
        } else {
            crate::outln!("principal: {} ({how})", caller.name);
            crate::outln!("operation: {}:{}", classified.service, classified.operation);
            for (a, r) in &actions {
                crate::outln!("action:    {a} on {}", if r.is_empty() { "*".to_owned() } else { r.join(", ") });
            }
            if !grants.is_empty() {
                crate::outln!("grants:    carried {}; in force {}", grants.join(", "), if evaluation.grants_in_force.is_empty() { "none".to_owned() } else { evaluation.grants_in_force.join(", ") });
            }
            crate::outln!("decision:  {}", evaluation.outcome.as_str());
            if let Some(s) = &evaluation.statement {
                crate::outln!("statement: {s}");
            }
            if let Some(g) = &evaluation.grant {
                crate::outln!("grant:     {g}");
            }
            if let Some((a, r)) = &evaluation.denied {
                crate::outln!("denied:    {a} on {r}");
            }
        }
        if evaluation.is_allowed() { ExitCode::SUCCESS } else { ExitCode::from(1) }
    })
}
