//! TLS for `berth serve`'s TCP listeners: rustls (ring, as the registry
//! client) with the server's certificate and key and, with `--tlsverify`,
//! client certificates checked against `--tlscacert` (dockerd's
//! `--tlsverify`).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::listen::TlsOptions;
use crate::Error;

fn certs(flag: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bad = |e: String| Error::Listen(format!("{flag} {}: {e}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// The acceptor for `o`; a certificate, key or CA that cannot be read or
/// does not match is a clear error at startup.
pub fn acceptor(o: &TlsOptions) -> Result<TlsAcceptor, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certs("--tlscert", &o.cert)?;
    let key = PrivateKeyDer::from_pem_file(&o.key)
        .map_err(|e| Error::Listen(format!("--tlskey {}: {e}", o.key.display())))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Listen(format!("TLS: {e}")))?;
    let builder = match &o.client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in certs("--tlscacert", ca)? {
                roots
                    .add(c)
                    .map_err(|e| Error::Listen(format!("--tlscacert {}: {e}", ca.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| Error::Listen(format!("--tlscacert {}: {e}", ca.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| Error::Listen(format!("--tlscert/--tlskey: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
