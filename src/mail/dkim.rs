//! The DKIM key of `mail.dkim_key_file`: an Ed25519 key (the PKCS#8 PEM
//! that `openssl genpkey -algorithm ed25519` writes, or the bare base64
//! seed), or an RSA key in PKCS#1 PEM, and the signing settings (relaxed
//! canonicalization, the headers a receiver must see unchanged).

use super::MailError;
use lettre::message::dkim::{DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey};
use lettre::message::header::HeaderName;

pub(super) fn load(selector: &str, domain: &str, path: &std::path::Path) -> Result<DkimConfig, MailError> {
    use base64::Engine as _;
    let text = std::fs::read_to_string(path).map_err(|source| MailError::DkimRead { path: path.to_path_buf(), source })?;
    let bad = |detail: &str| MailError::DkimKey { path: path.to_path_buf(), detail: detail.into() };
    let (body, algorithm) = if text.contains("BEGIN RSA PRIVATE KEY") {
        (text.clone(), DkimSigningAlgorithm::Rsa)
    } else if text.contains("BEGIN PRIVATE KEY") {
        let seed = ed25519_seed(&text).ok_or_else(|| {
            bad("this PKCS#8 key is not an Ed25519 one; make one with `openssl genpkey -algorithm ed25519`, \
                 or convert an RSA key with `openssl rsa -in KEY -traditional`")
        })?;
        (base64::engine::general_purpose::STANDARD.encode(seed), DkimSigningAlgorithm::Ed25519)
    } else {
        (text.trim().to_string(), DkimSigningAlgorithm::Ed25519)
    };
    let key = DkimSigningKey::new(&body, algorithm)
        .map_err(|e| MailError::DkimKey { path: path.to_path_buf(), detail: e.to_string() })?;
    let headers = ["From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"]
        .into_iter()
        .map(HeaderName::new_from_ascii_str)
        .collect();
    Ok(DkimConfig::new(
        selector.to_string(),
        domain.to_string(),
        key,
        headers,
        DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed },
    ))
}

/// The 32-byte seed of an Ed25519 key in PKCS#8 PEM, what `openssl genpkey
/// -algorithm ed25519` writes (lettre wants the bare seed, in base64): the
/// DER is a fixed 16-byte prefix (version 0, OID 1.3.101.112) and the seed.
fn ed25519_seed(pem: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    const PREFIX: [u8; 16] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).ok()?;
    der.strip_prefix(&PREFIX[..])?.try_into().ok()
}
