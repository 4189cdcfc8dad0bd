//! How the PostgreSQL store reaches its server: plain TCP (or a Unix
//! socket), or TLS with rustls, chosen by libpq's connection parameters in
//! the store URL.
//!
//! | parameter | meaning here |
//! |---|---|
//! | `sslmode=verify-full`, `verify-ca`, `require` | TLS; the server's certificate chain **and** host name are verified (stricter than libpq's `require` and `verify-ca`, which skip one or both) |
//! | `sslmode=disable`, `allow`, `prefer`, absent | no TLS (a warning is logged when the host is neither loopback nor a Unix socket) |
//! | `sslrootcert=FILE` | PEM CA certificates to verify the server with; absent or `system`: the public web PKI roots |
//! | `sslcert=FILE`, `sslkey=FILE` | a client certificate (PostgreSQL `cert` authentication) |
//!
//! These four are taken out of the URL before tokio-postgres parses the
//! rest (it does not know the `verify-*` modes or the file parameters).

use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

use super::StoreError;

/// The messages (notifications, notices) of a connection; polling them
/// drives the connection.
pub(super) type Messages =
    Pin<Box<dyn Stream<Item = Result<AsyncMessage, tokio_postgres::Error>> + Send>>;

/// A server and how to reach it.
#[derive(Clone)]
pub(super) struct Endpoint {
    /// The connection parameters tokio-postgres understands.
    pub config: Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl Endpoint {
    /// Parses a store URL (`postgres://…` or the key-value form).
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let (rest, options) = take_tls_options(url)?;
        let mut config: Config = rest.parse().map_err(|e: tokio_postgres::Error| {
            StoreError::Backend(format!("postgres store: invalid PostgreSQL URL: {e}"))
        })?;
        if !matches!(config.get_ssl_mode(), SslMode::Prefer) {
            // Only reachable if sslmode escaped take_tls_options.
            return Err(invalid("write sslmode as sslmode=VALUE"));
        }
        let tls = match options.mode.as_deref() {
            Some("verify-full" | "verify-ca" | "require") => {
                config.ssl_mode(SslMode::Require);
                Some(tokio_postgres_rustls::MakeRustlsConnect::new(
                    client_config(&options)?,
                ))
            }
            None | Some("disable" | "allow" | "prefer") => {
                if options.root_cert.is_some() || options.cert.is_some() || options.key.is_some() {
                    return Err(invalid(
                        "sslrootcert, sslcert and sslkey need sslmode=verify-full",
                    ));
                }
                config.ssl_mode(SslMode::Disable);
                if !config.get_hosts().iter().all(is_local) {
                    tracing::warn!(
                        "postgres store: connections to PostgreSQL are not encrypted; \
                         add sslmode=verify-full (and sslrootcert) to the store URL"
                    );
                }
                None
            }
            Some(other) => {
                return Err(invalid(&format!(
                    "sslmode={other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )))
            }
        };
        Ok(Self { config, tls })
    }

    /// Whether connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Connects; the returned messages must be polled to drive the
    /// connection.
    pub async fn connect(&self) -> Result<(Client, Messages), tokio_postgres::Error> {
        match &self.tls {
            None => {
                let (client, mut connection) = self.config.connect(NoTls).await?;
                let messages: Messages = Box::pin(futures_util::stream::poll_fn(move |cx| {
                    connection.poll_message(cx)
                }));
                Ok((client, messages))
            }
            Some(tls) => {
                let (client, mut connection) = self.config.connect(tls.clone()).await?;
                let messages: Messages = Box::pin(futures_util::stream::poll_fn(move |cx| {
                    connection.poll_message(cx)
                }));
                Ok((client, messages))
            }
        }
    }
}

fn invalid(message: &str) -> StoreError {
    StoreError::Backend(format!("postgres store: {message}"))
}

fn is_local(host: &Host) -> bool {
    match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// libpq's TLS parameters, as given.
#[derive(Debug, Default, PartialEq, Eq)]
struct TlsOptions {
    mode: Option<String>,
    root_cert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

impl TlsOptions {
    fn set(&mut self, key: &str, value: String) -> Result<bool, StoreError> {
        let slot = match key {
            "sslmode" => &mut self.mode,
            "sslrootcert" => &mut self.root_cert,
            "sslcert" => &mut self.cert,
            "sslkey" => &mut self.key,
            _ => return Ok(false),
        };
        if slot.replace(value).is_some() {
            return Err(invalid(&format!("{key} given twice")));
        }
        Ok(true)
    }
}

/// Splits the TLS parameters off a URL, returning the rest.
fn take_tls_options(url: &str) -> Result<(String, TlsOptions), StoreError> {
    let mut options = TlsOptions::default();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((head, query)) = url.split_once('?') else {
            return Ok((url.to_owned(), options));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| invalid(&format!("{key}: not UTF-8 once decoded")))?;
            if !options.set(key, value.into_owned())? {
                kept.push(pair);
            }
        }
        let rest = if kept.is_empty() {
            head.to_owned()
        } else {
            format!("{head}?{}", kept.join("&"))
        };
        return Ok((rest, options));
    }
    // Key-value form: `host=h user=u sslmode=verify-full …`.
    let mut kept = Vec::new();
    for token in url.split_whitespace() {
        let taken = match token.split_once('=') {
            Some((key, value)) if !value.is_empty() => {
                let value = value
                    .strip_prefix('\'')
                    .and_then(|v| v.strip_suffix('\''))
                    .unwrap_or(value);
                options.set(key, value.to_owned())?
            }
            _ => false,
        };
        if !taken {
            kept.push(token);
        }
    }
    Ok((kept.join(" "), options))
}

fn pem_certs(what: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(Path::new(path))
        .and_then(Iterator::collect)
        .map_err(|e| invalid(&format!("{what} {path}: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(&format!("{what} {path}: no certificate found")));
    }
    Ok(certs)
}

/// The rustls client configuration for verified TLS.
fn client_config(options: &TlsOptions) -> Result<rustls::ClientConfig, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    match options.root_cert.as_deref() {
        None | Some("system") => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            for cert in pem_certs("sslrootcert", path)? {
                roots
                    .add(cert)
                    .map_err(|e| invalid(&format!("sslrootcert {path}: {e}")))?;
            }
        }
    }
    let builder = builder.with_root_certificates(roots);
    match (&options.cert, &options.key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = pem_certs("sslcert", cert)?;
            let key = PrivateKeyDer::from_pem_file(Path::new(key))
                .map_err(|e| invalid(&format!("sslkey {key}: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| invalid(&format!("sslcert {cert}: {e}")))
        }
        _ => Err(invalid("sslcert and sslkey go together")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(mode: &str, root: &str) -> TlsOptions {
        TlsOptions {
            mode: Some(mode.into()),
            root_cert: Some(root.into()),
            ..TlsOptions::default()
        }
    }

    #[test]
    fn tls_parameters_come_out_of_both_url_forms() {
        let (rest, o) = take_tls_options(
            "postgres://u:p@db.internal:5432/cs?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fpg%20ca.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://u:p@db.internal:5432/cs?application_name=x"
        );
        assert_eq!(o, options("verify-full", "/etc/pg ca.pem"));
        let (rest, o) = take_tls_options(
            "host=db.internal user=u sslmode=require sslrootcert='/etc/ca.pem' dbname=cs",
        )
        .unwrap();
        assert_eq!(rest, "host=db.internal user=u dbname=cs");
        assert_eq!(o, options("require", "/etc/ca.pem"));
        let (rest, o) = take_tls_options("postgres://u@h/db").unwrap();
        assert_eq!(
            (rest.as_str(), o),
            ("postgres://u@h/db", TlsOptions::default())
        );
        let (rest, _) = take_tls_options("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(rest, "postgres://u@h/db");
    }

    #[test]
    fn modes_choose_the_transport() {
        for url in [
            "postgres://u@127.0.0.1/db?sslmode=verify-full",
            "postgres://u@127.0.0.1/db?sslmode=verify-ca&sslrootcert=system",
            "host=127.0.0.1 user=u sslmode=require",
        ] {
            let e = Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(e.is_tls(), "{url}");
            assert!(matches!(e.config.get_ssl_mode(), SslMode::Require), "{url}");
        }
        for url in [
            "postgres://u@127.0.0.1/db",
            "postgres://u@127.0.0.1/db?sslmode=prefer",
            "postgres://u@127.0.0.1/db?sslmode=disable",
            "host=/run/postgresql user=u",
        ] {
            let e = Endpoint::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(!e.is_tls(), "{url}");
            assert!(matches!(e.config.get_ssl_mode(), SslMode::Disable), "{url}");
        }
    }

    #[test]
    fn bad_tls_parameters_are_refused_with_the_reason_and_no_password() {
        for (url, reason) in [
            ("postgres://u:hunter2@h/db?sslmode=sometimes", "sslmode"),
            (
                "postgres://u:hunter2@h/db?sslmode=require&sslmode=disable",
                "twice",
            ),
            (
                "postgres://u:hunter2@h/db?sslrootcert=/etc/ca.pem",
                "verify-full",
            ),
            (
                "postgres://u:hunter2@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
                "/nonexistent/ca.pem",
            ),
            (
                "postgres://u:hunter2@h/db?sslmode=verify-full&sslcert=/etc/c.pem",
                "together",
            ),
            ("host=h password=hunter2 sslmode = require", "sslmode=VALUE"),
        ] {
            let text = match Endpoint::parse(url) {
                Ok(_) => panic!("{url}: accepted"),
                Err(e) => e.to_string(),
            };
            assert!(text.contains(reason), "{url}: {text}");
            assert!(!text.contains("hunter2"), "{url}: {text}");
        }
    }
}
