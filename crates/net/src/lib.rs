//! Outbound HTTP clients for everything Warden calls: eval targets, judges, attackers, webhooks.
//!
//! Every client is built by [`client_builder`]: rustls (no OpenSSL), trusting the system's root
//! certificates (the distribution's CA bundle) **plus** any private CA named by `SSL_CERT_FILE`
//! or by `[tls] ca_file` in `warden.toml` ([`set_extra_ca_file`]). Adding a private CA never
//! drops the public roots, and verification is never turned off. [`describe`] turns a failed
//! request into a message that names the certificate problem and how to fix it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where Linux distributions (and macOS) keep the system CA bundle, first found wins.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

static EXTRA_CA: OnceLock<PathBuf> = OnceLock::new();

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot read the CA file {path} ({source}); fix SSL_CERT_FILE or [tls] ca_file")]
    CaFile {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the CA file {path} holds no PEM certificate ({detail}); give a PEM file with one or more `BEGIN CERTIFICATE` blocks"
    )]
    BadCa { path: String, detail: String },
    #[error("cannot build an HTTP client: {0}")]
    Build(String),
}

/// Trust the CA certificates in `path` as well, for every client built from now on (the
/// `[tls] ca_file` of `warden.toml`). The first call wins.
pub fn set_extra_ca_file(path: &Path) {
    let _ = EXTRA_CA.set(path.to_owned());
}

/// The CA files to add to the system roots: `SSL_CERT_FILE`, then the configured one.
pub fn extra_ca_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::env::var_os("SSL_CERT_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .into_iter()
        .collect();
    files.extend(EXTRA_CA.get().cloned());
    files
}

fn certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, NetError> {
    let pem = std::fs::read(path).map_err(|source| NetError::CaFile {
        path: path.display().to_string(),
        source,
    })?;
    let bad = |detail: String| NetError::BadCa {
        path: path.display().to_string(),
        detail,
    };
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no certificate found".into()));
    }
    Ok(certs)
}

/// Every root Warden trusts: the system bundle's, then each extra CA file's.
pub fn trust_roots() -> Result<Vec<reqwest::Certificate>, NetError> {
    let mut roots = Vec::new();
    if let Some(bundle) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) {
        // A system bundle can hold a certificate rustls rejects; one bad root must not cost
        // every other, so a bundle that does not parse whole is skipped rather than fatal.
        if let Ok(certs) = certificates(bundle) {
            roots.extend(certs);
        }
    }
    for path in extra_ca_files() {
        roots.extend(certificates(&path)?);
    }
    Ok(roots)
}

/// A client builder with Warden's trust: the system roots plus every extra CA file.
pub fn client_builder() -> Result<reqwest::ClientBuilder, NetError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .https_only(false);
    for cert in trust_roots()? {
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}

/// A plain client with Warden's trust.
pub fn client() -> Result<reqwest::Client, NetError> {
    client_builder()?
        .build()
        .map_err(|e| NetError::Build(e.to_string()))
}

/// A failed request as one line: every cause (so a TLS failure names the certificate problem),
/// without the URL (the caller names it), and how to fix an untrusted certificate.
pub fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    if text.contains("certificate") || text.contains("UnknownIssuer") {
        text.push_str(
            "; the server's TLS certificate is not trusted: if a private CA signed it, point SSL_CERT_FILE (or [tls] ca_file in warden.toml) at that CA's PEM certificate",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_an_error_naming_it() {
        let dir = std::env::temp_dir().join(format!("warden-net-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let err = certificates(&missing).unwrap_err().to_string();
        assert!(err.contains("missing.pem"), "{err}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = certificates(&empty).unwrap_err().to_string();
        assert!(err.contains("empty.pem") && err.contains("PEM"), "{err}");
    }

    /// A private CA is trusted as well as the public roots, never instead of them.
    #[test]
    fn issue_10_a_private_ca_is_added_to_the_system_roots() {
        let system = trust_roots().unwrap().len();
        let dir = std::env::temp_dir().join(format!("warden-net-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bundle = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file());
        let Some(bundle) = bundle else { return };
        // Any one PEM certificate stands in for the private CA.
        let pem = std::fs::read_to_string(bundle).unwrap();
        let end = pem.find("-----END CERTIFICATE-----").unwrap() + 25;
        let start = pem[..end].rfind("-----BEGIN CERTIFICATE-----").unwrap();
        let ca = dir.join("private-ca.pem");
        std::fs::write(&ca, &pem[start..end]).unwrap();
        set_extra_ca_file(&ca);
        assert_eq!(trust_roots().unwrap().len(), system + 1);
        assert!(system > 50, "the system roots stay: {system}");
    }

    #[test]
    fn the_system_roots_load() {
        // Debian's bundle (ca-certificates) is on every machine Warden is built on.
        let bundle = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file());
        if let Some(bundle) = bundle {
            assert!(certificates(bundle).unwrap().len() > 50);
        }
        client().unwrap();
    }
}
