//! The `countersign` binary: runs the gateway and checks configurations.
//!
//! `countersign serve [--config FILE]` runs the gateway (an embedded default
//! for a first try when no file is given); `countersign config check FILE`
//! validates a file and exits non-zero naming the key and the reason;
//! `countersign policy check|simulate` runs the policy engine from the shell;
//! `countersign creds …` and `countersign grant …` drive the admin API
//! (issued credentials, just-in-time grants); `countersign explain` shows
//! the decision for a captured request; `countersign keys generate` makes
//! key ring entries and admin tokens.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `println!` that ends quietly when stdout is closed (`| head`) instead of
/// panicking.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod admin_client;
mod ca_cmd;
mod classify_cmd;
mod creds_cmd;
mod explain_cmd;
mod grant_cmd;
mod policy_cmd;
use countersign_gateway::{config, Bound, Config};

#[derive(Parser)]
#[command(
    name = "countersign",
    version,
    about = "A SigV4 gateway for Zero Trust on AWS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Configuration file (TOML). Without it, an embedded first-try default.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Classify a captured raw HTTP/1.1 request: service, operation, actions, resources.
    Classify {
        /// The raw request (request line, headers, blank line, body).
        #[arg(long)]
        request: PathBuf,
        /// The caller's account id, used in derived ARNs.
        #[arg(long, default_value = "123456789012")]
        account: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check and simulate IAM policy documents.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The CA that signs leaf certificates for HTTPS_PROXY interception.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// Issue and revoke gateway credentials (admin API).
    Creds {
        #[command(flatten)]
        admin: admin_client::AdminArgs,
        #[command(subcommand)]
        command: CredsCommand,
    },
    /// Request, approve, deny, revoke and list just-in-time grants (admin API).
    Grant {
        #[command(flatten)]
        admin: admin_client::AdminArgs,
        #[command(subcommand)]
        command: GrantCommand,
    },
    /// Explain the decision for a captured request: classification, caller,
    /// effective policy, deciding statement or grant.
    Explain {
        /// The gateway configuration (its principals, policies, key ring and store).
        #[arg(long)]
        config: PathBuf,
        /// The raw request (request line, headers, blank line, body).
        #[arg(long)]
        request: PathBuf,
        /// Decide for this principal instead of the request's credential.
        #[arg(long)]
        principal: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Generate secrets for the configuration.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new key ring entry (TOML) for identity.key_ring_file.
    Generate {
        /// The key id.
        #[arg(long, default_value_t = 1)]
        id: u16,
        /// active, verify-only or retired.
        #[arg(long, default_value = "active")]
        state: String,
    },
    /// Print a new admin token and the [[admin_token]] entry holding its SHA-256.
    Token {
        /// The principal the token acts as.
        #[arg(long)]
        principal: String,
        /// Make it an operator token.
        #[arg(long)]
        operator: bool,
    },
}

#[derive(Subcommand)]
enum CredsCommand {
    /// Issue short-lived credentials (for yourself, or as an operator for --principal).
    Issue {
        /// The principal (default: the admin token's).
        #[arg(long)]
        principal: Option<String>,
        /// Lifetime, e.g. 15m (never past the grants carried).
        #[arg(long)]
        ttl: Option<String>,
        /// Carry only this grant (repeat); default: every grant in force.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "env")]
        format: creds_cmd::Format,
    },
    /// Revoke one credential, or (--principal) every session of a principal.
    Revoke {
        /// The access key id (CSGW…).
        access_key_id: Option<String>,
        /// Revoke every credential issued to this principal so far.
        #[arg(long, conflicts_with = "access_key_id")]
        principal: Option<String>,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand)]
enum GrantCommand {
    /// Ask for a role for a while.
    Request {
        /// The role.
        #[arg(long)]
        role: String,
        /// How long, e.g. 30m or 2h (at most the role's maximum).
        #[arg(long)]
        duration: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// Ticket reference.
        #[arg(long)]
        ticket: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve a request (members of the role's approver group; never your own).
    Approve {
        /// The grant id.
        id: String,
        /// A comment.
        #[arg(long)]
        comment: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deny a request.
    Deny {
        /// The grant id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// End a grant now.
    Revoke {
        /// The grant id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List grants you may see.
    List {
        /// Only this state (requested, active, denied, revoked, expired).
        #[arg(long)]
        state: Option<String>,
        /// Only this principal's.
        #[arg(long)]
        principal: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one grant with its history (JSON).
    Show {
        /// The grant id.
        id: String,
    },
}

#[derive(Subcommand)]
enum CaCommand {
    /// Create the CA: DIR/ca.pem (the AWS_CA_BUNDLE; its path is printed) and DIR/ca-key.pem (mode 0600).
    Init {
        /// Directory for ca.pem and ca-key.pem (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "Countersign gateway CA")]
        name: String,
        /// Validity in days.
        #[arg(long, default_value_t = 365)]
        days: u64,
        /// A DNS domain the CA may issue for (repeat; default amazonaws.com, amazonaws.com.cn, api.aws).
        #[arg(long)]
        permit: Vec<String>,
        /// No name constraints: the CA may issue for any name.
        #[arg(long, conflicts_with = "permit")]
        unconstrained: bool,
        /// Replace an existing CA in DIR.
        #[arg(long)]
        force: bool,
    },
    /// Print the CA certificate (PEM on stdout; subject, validity and fingerprint on stderr).
    Show {
        /// The certificate file.
        #[arg(long)]
        cert: Option<PathBuf>,
        /// The directory given to `ca init`.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A gateway configuration; its [proxy] ca_cert.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy document and report every error.
    Check {
        /// The JSON document.
        file: PathBuf,
    },
    /// Evaluate policies for actions and resources, like IAM's policy simulator.
    Simulate {
        /// A policy document (repeat for several).
        #[arg(long = "policy", required = true)]
        policies: Vec<PathBuf>,
        /// An IAM action, e.g. s3:GetObject (repeat for several).
        #[arg(long = "action", required = true)]
        actions: Vec<String>,
        /// A resource ARN (repeat for several; default `*`).
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// A condition key, KEY=VALUE (repeat a key for several values).
        #[arg(long = "context")]
        context: Vec<String>,
        /// Print {"decision", "policy", "statement"} as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file.
    Check {
        /// The file.
        file: PathBuf,
    },
}

/// A single-threaded runtime for a command that makes a few calls, or the
/// exit code after saying why there is none.
fn current_thread_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("cannot start the runtime: {e}");
            ExitCode::FAILURE
        })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}

fn print_first_try(config: &Config, id: &str, secret: &str) {
    let addr = config.server.listen;
    eprintln!(
        "Countersign is running with its embedded first-try configuration.\n\
         Upstream: real AWS, with credentials from the AWS default chain of this process.\n\
         A read-only principal \"first-try\" (sts:GetCallerIdentity, S3 list/get, DynamoDB list/describe)\n\
         was generated for this run only. In another shell:\n\n\
         export AWS_ENDPOINT_URL=http://{addr}\n\
         export AWS_ACCESS_KEY_ID={id}\n\
         export AWS_SECRET_ACCESS_KEY={secret}\n\
         unset AWS_SESSION_TOKEN AWS_PROFILE\n\
         aws sts get-caller-identity\n\n\
         Metrics: http://{admin}/metrics  Stop with Ctrl-C.\n",
        admin = config
            .server
            .admin_listen
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into()),
    );
}

fn hex_digest(token: &str) -> String {
    countersign_gateway::admin::token_digest(token)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Creds { admin, command } => match command {
            CredsCommand::Issue {
                principal,
                ttl,
                grants,
                format,
            } => creds_cmd::issue(&admin, principal, ttl, grants, format),
            CredsCommand::Revoke {
                access_key_id,
                principal,
                reason,
            } => creds_cmd::revoke(&admin, access_key_id, principal, reason),
        },
        Command::Grant { admin, command } => match command {
            GrantCommand::Request {
                role,
                duration,
                reason,
                ticket,
                json,
            } => grant_cmd::request(&admin, role, duration, reason, ticket, json),
            GrantCommand::Approve { id, comment, json } => {
                grant_cmd::transition(&admin, "approve", &id, comment, json)
            }
            GrantCommand::Deny { id, reason, json } => {
                grant_cmd::transition(&admin, "deny", &id, reason, json)
            }
            GrantCommand::Revoke { id, reason, json } => {
                grant_cmd::transition(&admin, "revoke", &id, reason, json)
            }
            GrantCommand::List {
                state,
                principal,
                json,
            } => grant_cmd::list(&admin, state, principal, json),
            GrantCommand::Show { id } => grant_cmd::show(&admin, &id),
        },
        Command::Explain {
            config,
            request,
            principal,
            json,
        } => explain_cmd::explain(&config, &request, principal.as_deref(), json),
        Command::Keys {
            command: KeysCommand::Generate { id, state },
        } => {
            if !matches!(state.as_str(), "active" | "verify-only" | "retired") {
                eprintln!("--state must be active, verify-only or retired");
                return ExitCode::from(2);
            }
            crate::outln!(
                "[[key]]\nid = {id}\nstate = \"{state}\"\nsecret = \"{}\"",
                countersign_identity::keyring::generate_master_key()
            );
            ExitCode::SUCCESS
        }
        Command::Keys {
            command:
                KeysCommand::Token {
                    principal,
                    operator,
                },
        } => {
            let token =
                countersign_identity::keyring::generate_master_key().replace(['+', '/', '='], "");
            eprintln!("token (give it to {principal}; it is not stored anywhere): {token}");
            crate::outln!(
                "[[admin_token]]\nprincipal = \"{principal}\"\noperator = {operator}\ntoken_sha256 = \"{}\"",
                hex_digest(&token)
            );
            ExitCode::SUCCESS
        }
        Command::Ca {
            command:
                CaCommand::Init {
                    dir,
                    name,
                    days,
                    permit,
                    unconstrained,
                    force,
                },
        } => ca_cmd::init(&ca_cmd::Init {
            dir,
            name,
            days,
            permit,
            unconstrained,
            force,
        }),
        Command::Ca {
            command: CaCommand::Show { cert, dir, config },
        } => ca_cmd::show(cert.as_deref(), dir.as_deref(), config.as_deref()),
        Command::Classify {
            request,
            account,
            json,
        } => classify_cmd::classify(&request, &account, json),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => match Config::load(&file)
            .and_then(|c| c.key_ring().map(|_| c))
            .map_err(|e| e.to_string())
            .and_then(|c| {
                countersign_gateway::server::ListenerTls::load(&c)
                    .map(|_| c)
                    .map_err(|e| e.to_string())
            }) {
            Ok(c) => {
                eprintln!(
                    "{}: OK ({} principal(s), {} polic(ies))",
                    file.display(),
                    c.principals.len(),
                    c.policies.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                ExitCode::from(2)
            }
        },
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => policy_cmd::check(&file),
        Command::Policy {
            command:
                PolicyCommand::Simulate {
                    policies,
                    actions,
                    resources,
                    context,
                    json,
                },
        } => policy_cmd::simulate(&policy_cmd::Simulate {
            policies,
            actions,
            resources,
            context,
            json,
        }),
        Command::Serve { config: path } => {
            init_logging();
            let (config, first_try) = match path {
                Some(path) => match Config::load(&path) {
                    Ok(c) => (c, None),
                    Err(e) => {
                        eprintln!("{}: {e}", path.display());
                        return ExitCode::from(2);
                    }
                },
                None => {
                    let (c, key) = config::embedded_default();
                    (c, Some(key))
                }
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(async move {
                let bound = match Bound::bind(config.clone()).await {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("cannot start: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                tracing::info!(listen = %bound.data_addr(), admin = ?bound.admin_addr(), "countersign listening");
                if let Some((id, secret)) = &first_try {
                    print_first_try(&config, id, secret);
                }
                bound.run(shutdown_signal()).await;
                ExitCode::SUCCESS
            })
        }
    }
}
