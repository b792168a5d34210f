//! TLS for bantin's outgoing connections (the SMTP relay, WebSub hubs):
//! rustls with ring and the Mozilla roots (webpki-roots), so no system
//! library or certificate store is needed.

use std::sync::Arc;

/// The client configuration every outgoing TLS connection uses.
pub fn client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
