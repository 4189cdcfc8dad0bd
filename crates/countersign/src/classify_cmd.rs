//! `countersign classify`: what the gateway would make of a captured request.

use std::path::Path;
use std::process::ExitCode;

use countersign_catalog::{parse_http_request, Catalog, Outcome};

/// Classifies a raw HTTP/1.1 request read from `file` and prints service,
/// operation, actions, resources and condition keys. Exit 1 when unknown.
pub(crate) fn classify(file: &Path, account: &str, json: bool) -> ExitCode {
    let raw = match std::fs::read(file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let mut request = match parse_http_request(&raw) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    request.account = account.to_owned();
    let catalog = Catalog::global();
    match request.classify(catalog) {
        Outcome::Known(c) => {
            if json {
                let actions: Vec<_> = c
                    .actions
                    .iter()
                    .map(|a| serde_json::json!({"action": a.name, "resources": a.resources}))
                    .collect();
                let keys: serde_json::Map<String, serde_json::Value> = c
                    .condition_keys
                    .iter()
                    .map(|k| (k.key.to_string(), k.value.clone().into()))
                    .collect();
                let out = serde_json::json!({
                    "service": c.service,
                    "operation": c.operation,
                    "protocol": c.protocol.as_str(),
                    "actions": actions,
                    "condition_keys": keys,
                    "partial": c.partial,
                });
                println!("{out}");
            } else {
                println!("service:   {}", c.service);
                println!("operation: {}", c.operation);
                for a in &c.actions {
                    println!("action:    {} on {}", a.name, a.resources.join(", "));
                }
                for k in &c.condition_keys {
                    println!("condition: {} = {}", k.key, k.value);
                }
            }
            ExitCode::SUCCESS
        }
        Outcome::Unknown(why) => {
            if json {
                println!("{}", serde_json::json!({"unknown": why.to_string()}));
            } else {
                println!("unknown: {why} (the gateway denies unknown operations)");
            }
            ExitCode::from(1)
        }
    }
}
