//! `countersign policy check|simulate`: the policy engine from the shell,
//! like IAM's policy simulator.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use countersign_policy::{CompiledPolicy, PolicyDocument, RequestContext};

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Validates one document, reporting every error with its JSON path.
pub(crate) fn check(file: &Path) -> ExitCode {
    let text = match read(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match PolicyDocument::parse(&text) {
        Ok(_) => {
            eprintln!("{}: OK", file.display());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{}: {e}", file.display());
            }
            ExitCode::from(2)
        }
    }
}

/// Arguments of `policy simulate`.
pub(crate) struct Simulate {
    pub(crate) policies: Vec<PathBuf>,
    pub(crate) actions: Vec<String>,
    pub(crate) resources: Vec<String>,
    pub(crate) context: Vec<String>,
    pub(crate) json: bool,
}

/// Evaluates the policies for each (action, resource) pair and prints the
/// decision with the deciding statement. Exit 0 for allow, 1 for a deny.
pub(crate) fn simulate(args: &Simulate) -> ExitCode {
    let mut documents = Vec::new();
    for path in &args.policies {
        let text = match read(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        };
        match PolicyDocument::parse(&text) {
            Ok(doc) => documents.push((path.display().to_string(), doc)),
            Err(errors) => {
                eprintln!("{}: {errors}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    let compiled = match CompiledPolicy::compile(documents.iter().map(|(n, d)| (n.as_str(), d))) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let resources: Vec<&str> = if args.resources.is_empty() {
        vec!["*"]
    } else {
        args.resources.iter().map(String::as_str).collect()
    };
    let mut ctx = RequestContext::new();
    for action in &args.actions {
        for resource in &resources {
            ctx.add_request(action.as_str(), *resource);
        }
    }
    for pair in &args.context {
        let Some((key, value)) = pair.split_once('=') else {
            eprintln!(
                "--context {pair}: expected KEY=VALUE (repeat the key for a multi-valued key)"
            );
            return ExitCode::from(2);
        };
        let values: Vec<&str> = args
            .context
            .iter()
            .filter_map(|p| {
                p.split_once('=')
                    .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v)
            })
            .collect();
        if values.len() > 1 {
            ctx.set_multi(key, values);
        } else {
            ctx.set(key, value);
        }
    }
    let decision = compiled.evaluate(&ctx);
    let label = decision.deciding.map(|s| compiled.describe(s));
    if args.json {
        let out = serde_json::json!({
            "decision": decision.outcome.as_str(),
            "policy": label.map(|l| l.policy),
            "statement": label.map(|l| l.sid.map_or_else(|| format!("Statement[{}]", l.index), str::to_owned)),
        });
        println!("{out}");
    } else {
        match label {
            Some(l) => println!("{} ({l})", decision.outcome.as_str()),
            None => println!("{} (no statement matched)", decision.outcome.as_str()),
        }
    }
    if decision.is_allowed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
