//! `countersign ca init|show`: the CA that signs the leaf certificates of
//! HTTPS_PROXY interception.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use countersign_gateway::{ca, Config};

/// `countersign ca init`.
pub struct Init {
    /// Where `ca.pem` and `ca-key.pem` go.
    pub dir: PathBuf,
    /// The CA's common name.
    pub name: String,
    /// Validity in days.
    pub days: u64,
    /// DNS subtrees the CA may issue for (name constraints).
    pub permit: Vec<String>,
    /// No name constraints at all.
    pub unconstrained: bool,
    /// Replace an existing CA.
    pub force: bool,
}

pub fn init(args: &Init) -> ExitCode {
    let permitted: Vec<String> = if args.unconstrained {
        Vec::new()
    } else if args.permit.is_empty() {
        ca::DEFAULT_PERMITTED_DOMAINS
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        args.permit.clone()
    };
    let new = match ca::generate(
        &args.name,
        Duration::from_secs(args.days.saturating_mul(86400)),
        &permitted,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot create the CA: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (cert, key) = match ca::write_new(&args.dir, &new, args.force) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot write the CA: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cert = std::fs::canonicalize(&cert).unwrap_or(cert);
    let key = std::fs::canonicalize(&key).unwrap_or(key);
    eprintln!(
        "Created the Countersign CA ({}).\n\
         Gateway configuration:\n\n  [proxy]\n  ca_cert = \"{}\"\n  ca_key = \"{}\"    # mode 0600, keep it secret\n\n\
         Workloads trust the bundle (its path is printed on stdout):\n\n  export AWS_CA_BUNDLE={}\n",
        if permitted.is_empty() {
            "no name constraints".to_owned()
        } else {
            format!("may only issue for {}", permitted.join(", "))
        },
        cert.display(),
        key.display(),
        cert.display(),
    );
    println!("{}", cert.display());
    ExitCode::SUCCESS
}

/// `countersign ca show`: the certificate from `--cert`, `--dir` or the
/// `[proxy] ca_cert` of `--config`.
pub fn show(cert: Option<&Path>, dir: Option<&Path>, config: Option<&Path>) -> ExitCode {
    let path = match (cert, dir, config) {
        (Some(c), _, _) => c.to_owned(),
        (None, Some(d), _) => d.join("ca.pem"),
        (None, None, Some(c)) => match Config::load(c) {
            Ok(config) => match config.proxy {
                Some(p) => p.ca_cert,
                None => {
                    eprintln!("{}: no [proxy] section", c.display());
                    return ExitCode::from(2);
                }
            },
            Err(e) => {
                eprintln!("{}: {e}", c.display());
                return ExitCode::from(2);
            }
        },
        (None, None, None) => {
            eprintln!("say which CA: --cert FILE, --dir DIR or --config FILE");
            return ExitCode::from(2);
        }
    };
    let pem = match std::fs::read_to_string(&path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    match ca::describe(&pem) {
        Ok(d) => {
            eprint!("{}: {d}", path.display());
            print!("{pem}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
