//! The gateway's certificate authority for HTTPS_PROXY interception: create
//! it (`countersign ca init`), load it, and mint short-lived leaf
//! certificates for the AWS host names that workloads CONNECT to.
//!
//! Keys are ECDSA P-256. A new CA carries X.509 name constraints that
//! permit only the intercepted AWS domains by default, so a leaked CA key
//! cannot be used to impersonate any other site to the workloads that trust
//! it. The private key is written with mode 0600 and never logged.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, KeyPair, KeyUsagePurpose, NameConstraints, SerialNumber,
    PKCS_ECDSA_P256_SHA256,
};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

/// The DNS subtrees a new CA is constrained to unless told otherwise.
pub const DEFAULT_PERMITTED_DOMAINS: [&str; 3] = ["amazonaws.com", "amazonaws.com.cn", "api.aws"];

/// Why CA material could not be created, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The certificate or key is not usable.
    #[error("{0}")]
    Invalid(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io {
        path: path.to_owned(),
        source,
    }
}

fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // and never a shorter encoding
    SerialNumber::from_slice(&bytes)
}

/// A freshly generated CA, as PEM text.
pub struct NewCa {
    /// The CA certificate (the bundle workloads trust, `AWS_CA_BUNDLE`).
    pub cert_pem: String,
    /// The CA private key (PKCS#8). Secret.
    pub key_pem: String,
}

impl std::fmt::Debug for NewCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCa")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// Generates a CA certificate and key. `permitted` are the DNS subtrees the
/// CA may issue for (empty: unconstrained).
pub fn generate(
    common_name: &str,
    valid_for: Duration,
    permitted: &[String],
) -> Result<NewCa, CaError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(|e| CaError::Invalid(format!("key generation: {e}")))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "Countersign");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + valid_for;
    params.serial_number = Some(random_serial());
    if !permitted.is_empty() {
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: permitted
                .iter()
                .map(|d| GeneralSubtree::DnsName(d.clone()))
                .collect(),
            excluded_subtrees: Vec::new(),
        });
    }
    let cert = params
        .self_signed(&key)
        .map_err(|e| CaError::Invalid(format!("self-signing: {e}")))?;
    Ok(NewCa {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Writes a new CA into `dir` as `ca.pem` (0644) and `ca-key.pem` (0600),
/// refusing to overwrite existing files unless `force`. Returns the paths
/// (certificate, key).
pub fn write_new(dir: &Path, ca: &NewCa, force: bool) -> Result<(PathBuf, PathBuf), CaError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let cert_path = dir.join("ca.pem");
    let key_path = dir.join("ca-key.pem");
    if !force {
        for p in [&cert_path, &key_path] {
            if p.exists() {
                return Err(CaError::Invalid(format!(
                    "{} exists; pass --force to replace the CA (workloads must then trust the new one)",
                    p.display()
                )));
            }
        }
    }
    write_file(&key_path, ca.key_pem.as_bytes(), 0o600)?;
    write_file(&cert_path, ca.cert_pem.as_bytes(), 0o644)?;
    Ok((cert_path, key_path))
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CaError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = options.open(path).map_err(io_err(path))?;
    // The file may have existed with wider permissions (--force).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(io_err(path))?;
    }
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// A loaded CA that mints leaf certificates.
pub struct CertificateAuthority {
    issuer: rcgen::Certificate,
    key: KeyPair,
    cert_der: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("subject", &self.issuer.params().distinguished_name)
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// Loads the CA from PEM files.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, CaError> {
        let cert_pem = std::fs::read_to_string(cert).map_err(io_err(cert))?;
        let key_pem = std::fs::read_to_string(key).map_err(io_err(key))?;
        Self::from_pem(&cert_pem, &key_pem)
    }

    /// Loads the CA from PEM text.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, CaError> {
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| CaError::Invalid(format!("CA certificate: {e}")))?;
        let key =
            KeyPair::from_pem(key_pem).map_err(|e| CaError::Invalid(format!("CA key: {e}")))?;
        let params = CertificateParams::from_ca_cert_der(&cert_der)
            .map_err(|e| CaError::Invalid(format!("CA certificate: {e}")))?;
        if !matches!(params.is_ca, IsCa::Ca(_)) {
            return Err(CaError::Invalid(
                "the certificate is not a CA (basicConstraints cA is false)".into(),
            ));
        }
        // The key must be the certificate's key.
        let spki = x509_public_key(&cert_der)?;
        if spki != key.public_key_raw() {
            return Err(CaError::Invalid(
                "the CA key does not belong to the CA certificate".into(),
            ));
        }
        // An in-memory issuer with the CA's subject and key identifier; its
        // own signature is never used.
        let issuer = params
            .self_signed(&key)
            .map_err(|e| CaError::Invalid(format!("CA: {e}")))?;
        Ok(Self {
            issuer,
            key,
            cert_der,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        })
    }

    /// The CA certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// Mints a leaf certificate for `host`, valid from five minutes ago for
    /// `valid_for`, with a fresh P-256 key, ready for rustls (chain: leaf, CA).
    pub fn mint(&self, host: &str, valid_for: Duration) -> Result<Arc<CertifiedKey>, CaError> {
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|e| CaError::Invalid(format!("leaf key: {e}")))?;
        let mut params = CertificateParams::new(vec![host.to_owned()])
            .map_err(|e| CaError::Invalid(format!("leaf name {host:?}: {e}")))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, host);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + valid_for;
        params.serial_number = Some(random_serial());
        let leaf = params
            .signed_by(&leaf_key, &self.issuer, &self.key)
            .map_err(|e| CaError::Invalid(format!("signing the leaf for {host:?}: {e}")))?;
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let signing_key = self
            .provider
            .key_provider
            .load_private_key(key_der)
            .map_err(|e| CaError::Invalid(format!("leaf key: {e}")))?;
        Ok(Arc::new(CertifiedKey::new(
            vec![leaf.der().clone(), self.cert_der.clone()],
            signing_key,
        )))
    }
}

/// The raw subject public key of a DER certificate.
fn x509_public_key(der: &CertificateDer<'_>) -> Result<Vec<u8>, CaError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| CaError::Invalid(format!("CA certificate: {e}")))?;
    Ok(cert.public_key().subject_public_key.data.to_vec())
}

/// A short human description of a PEM certificate: subject, validity, SHA-256
/// fingerprint (for `countersign ca show`).
pub fn describe(cert_pem: &str) -> Result<String, CaError> {
    use sha2::Digest;
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
        .map_err(|e| CaError::Invalid(format!("certificate: {e}")))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| CaError::Invalid(format!("certificate: {e}")))?;
    let fingerprint = hex::encode_upper(sha2::Sha256::digest(der.as_ref()));
    let fingerprint: Vec<&str> = fingerprint
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap_or("??"))
        .collect();
    let mut out = format!(
        "subject: {}\nnot before: {}\nnot after: {}\nsha256 fingerprint: {}\n",
        cert.subject(),
        cert.validity().not_before,
        cert.validity().not_after,
        fingerprint.join(":")
    );
    if let Ok(Some(nc)) = cert.name_constraints() {
        let permitted: Vec<String> = nc
            .value
            .permitted_subtrees
            .iter()
            .flatten()
            .map(|s| s.base.to_string())
            .collect();
        out.push_str(&format!("permitted names: {}\n", permitted.join(", ")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_ca() -> CertificateAuthority {
        let permitted: Vec<String> = DEFAULT_PERMITTED_DOMAINS
            .iter()
            .map(|s| s.to_string())
            .collect();
        let ca = generate("test CA", Duration::from_secs(3600), &permitted).expect("generate");
        CertificateAuthority::from_pem(&ca.cert_pem, &ca.key_pem).expect("load")
    }

    #[test]
    fn minted_leaves_chain_to_the_ca_and_name_the_host() {
        let ca = test_ca();
        let leaf = ca
            .mint("s3.us-east-1.amazonaws.com", Duration::from_secs(3600))
            .expect("mint");
        assert_eq!(leaf.cert.len(), 2);
        assert_eq!(&leaf.cert[1], ca.cert_der());
        // Verify the chain with rustls' own webpki verifier.
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der().clone()).expect("root");
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .expect("verifier");
        use rustls::client::danger::ServerCertVerifier;
        let name =
            rustls_pki_types::ServerName::try_from("s3.us-east-1.amazonaws.com").expect("name");
        verifier
            .verify_server_cert(
                &leaf.cert[0],
                &[],
                &name,
                &[],
                rustls_pki_types::UnixTime::now(),
            )
            .expect("the leaf verifies for its host");
        let other = rustls_pki_types::ServerName::try_from("sts.amazonaws.com").expect("name");
        assert!(verifier
            .verify_server_cert(
                &leaf.cert[0],
                &[],
                &other,
                &[],
                rustls_pki_types::UnixTime::now()
            )
            .is_err());
    }

    #[test]
    fn name_constraints_stop_leaves_outside_aws() {
        let ca = test_ca();
        let leaf = ca
            .mint("example.com", Duration::from_secs(3600))
            .expect("mint");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert_der().clone()).expect("root");
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .expect("verifier");
        use rustls::client::danger::ServerCertVerifier;
        let name = rustls_pki_types::ServerName::try_from("example.com").expect("name");
        assert!(verifier
            .verify_server_cert(
                &leaf.cert[0],
                &[],
                &name,
                &[],
                rustls_pki_types::UnixTime::now()
            )
            .is_err());
    }

    #[test]
    fn a_key_of_another_ca_is_refused() {
        let a = generate("a", Duration::from_secs(60), &[]).expect("a");
        let b = generate("b", Duration::from_secs(60), &[]).expect("b");
        let e = CertificateAuthority::from_pem(&a.cert_pem, &b.key_pem).expect_err("mismatch");
        assert!(e.to_string().contains("does not belong"), "{e}");
        assert!(!format!("{a:?}").contains("PRIVATE KEY"));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::env::temp_dir().join(format!("countersign-ca-test-{}", uuid::Uuid::new_v4()));
        let ca = generate("t", Duration::from_secs(60), &[]).expect("ca");
        let (cert, key) = write_new(&dir, &ca, false).expect("write");
        let mode = std::fs::metadata(&key).expect("key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(write_new(&dir, &ca, false).is_err(), "no silent overwrite");
        CertificateAuthority::load(&cert, &key).expect("loads back");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
