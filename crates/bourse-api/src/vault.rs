//! The data key: personal data and second-factor secrets are sealed with it before they go
//! into a command (so the journal, snapshots and the database hold ciphertext only), and
//! addresses are found by a keyed digest of their normalized form.
//!
//! XChaCha20-Poly1305 with a random 192-bit nonce per value (no nonce counter to share
//! between a primary and its standby); the sealing and lookup keys are derived from the one
//! configured key with BLAKE3's key derivation, each for its own purpose.

use bourse_core::SecretHash;
use bourse_core::profile::{CodePurpose, ContactKind, Sealed};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const NONCE: usize = 24;

/// Seals, opens and digests with the configured data key.
pub struct Vault {
    cipher: XChaCha20Poly1305,
    lookup: [u8; 32],
    /// Names the key without revealing it (the audit log's `data_key_changed`).
    fingerprint: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(..)")
    }
}

/// Why a data key is refused.
#[derive(Debug, thiserror::Error)]
#[error("the data key must be 64 hex characters (32 random bytes)")]
pub struct BadKey;

impl Vault {
    #[must_use]
    pub fn new(key: &[u8; 32]) -> Vault {
        let seal = blake3::derive_key("bourse 2026-12 personal data sealing", key);
        let lookup = blake3::derive_key("bourse 2026-12 address lookup", key);
        let id = blake3::derive_key("bourse 2026-12 data key fingerprint", key);
        let fingerprint = id[..8].iter().map(|b| format!("{b:02x}")).collect();
        Vault {
            cipher: XChaCha20Poly1305::new(&seal.into()),
            lookup,
            fingerprint,
        }
    }

    /// 16 hex characters that name the key (a one-way derivation: they reveal nothing of
    /// it); a new key shows as a new fingerprint.
    #[must_use]
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// From 64 hex characters.
    pub fn from_hex(hex: &str) -> Result<Vault, BadKey> {
        let hex = hex.trim();
        if hex.len() != 64 {
            return Err(BadKey);
        }
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or(BadKey)?, 16)
                .map_err(|_| BadKey)?;
        }
        Ok(Vault::new(&key))
    }

    /// A fresh random key, as hex.
    pub fn generate_hex() -> Result<String, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(key.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Encrypts `plain` (nonce ‖ ciphertext and tag).
    #[must_use]
    pub fn seal(&self, plain: &[u8]) -> Sealed {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        // Encryption into a Vec fails only on allocation limits far past these sizes.
        let ct = self.cipher.encrypt(&nonce, plain).unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Sealed(out)
    }

    /// Decrypts what [`Vault::seal`] made with this key; `None` for anything else.
    #[must_use]
    pub fn open(&self, sealed: &Sealed) -> Option<Vec<u8>> {
        if sealed.0.len() < NONCE {
            return None;
        }
        let (nonce, ct) = sealed.0.split_at(NONCE);
        let nonce: [u8; NONCE] = nonce.try_into().ok()?;
        self.cipher.decrypt(&XNonce::from(nonce), ct).ok()
    }

    #[must_use]
    pub fn open_string(&self, sealed: &Sealed) -> Option<String> {
        self.open(sealed).and_then(|b| String::from_utf8(b).ok())
    }

    /// The keyed digest an address is found by (of its normalized form).
    #[must_use]
    pub fn lookup(&self, kind: ContactKind, normalized: &str) -> SecretHash {
        let mut h = blake3::Hasher::new_keyed(&self.lookup);
        h.update(kind.name().as_bytes());
        h.update(&[0]);
        h.update(normalized.as_bytes());
        SecretHash(*h.finalize().as_bytes())
    }

    /// The digest a one-time code is kept as: keyed, and bound to the address it was sent
    /// to (its lookup digest) and its purpose, so a six-digit code's digest cannot be
    /// reversed by trying every code offline.
    #[must_use]
    pub fn code_digest(&self, to: &SecretHash, purpose: CodePurpose, code: &str) -> SecretHash {
        let mut h = blake3::Hasher::new_keyed(&self.lookup);
        h.update(b"code\0");
        h.update(&to.0);
        h.update(purpose.name().as_bytes());
        h.update(&[0]);
        h.update(code.as_bytes());
        SecretHash(*h.finalize().as_bytes())
    }

    /// Digest of a recovery code or a device id (keyed likewise).
    #[must_use]
    pub fn secret_digest(&self, what: &str, value: &str) -> SecretHash {
        let mut h = blake3::Hasher::new_keyed(&self.lookup);
        h.update(what.as_bytes());
        h.update(&[0]);
        h.update(value.as_bytes());
        SecretHash(*h.finalize().as_bytes())
    }
}

/// An email address as kept: trimmed and lower-cased; `None` if it is not one.
#[must_use]
pub fn normalize_email(text: &str) -> Option<String> {
    let e = text.trim().to_ascii_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = (3..=254).contains(&e.len())
        && !local.is_empty()
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@');
    ok.then_some(e)
}

/// A phone number in E.164 (`+` and 8-15 digits); spaces, dashes, dots and parentheses
/// are dropped. `None` if it is not one.
#[must_use]
pub fn normalize_phone(text: &str) -> Option<String> {
    let t = text.trim();
    let rest = t.strip_prefix('+')?;
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_only_and_never_repeat() {
        let v = Vault::new(&[7; 32]);
        let a = v.seal(b"alice@example.com");
        let b = v.seal(b"alice@example.com");
        assert_ne!(a, b, "random nonces");
        assert_eq!(v.open(&a).as_deref(), Some(&b"alice@example.com"[..]));
        assert!(!a.0.windows(5).any(|w| w == b"alice"));
        assert_eq!(Vault::new(&[8; 32]).open(&a), None);
        let mut t = a.clone();
        if let Some(x) = t.0.last_mut() {
            *x ^= 1;
        }
        assert_eq!(v.open(&t), None, "tampering is caught");
        assert_eq!(v.open(&Sealed(vec![1, 2])), None);
    }

    #[test]
    fn lookups_are_keyed_and_by_kind() {
        let v = Vault::new(&[7; 32]);
        let w = Vault::new(&[9; 32]);
        let e = v.lookup(ContactKind::Email, "a@b.co");
        assert_eq!(e, v.lookup(ContactKind::Email, "a@b.co"));
        assert_ne!(e, w.lookup(ContactKind::Email, "a@b.co"));
        assert_ne!(e, v.lookup(ContactKind::Phone, "a@b.co"));
        assert_ne!(
            v.code_digest(&e, CodePurpose::Verify, "123456"),
            v.code_digest(&e, CodePurpose::Reset, "123456")
        );
    }

    #[test]
    fn keys_from_hex() {
        assert!(Vault::from_hex(&"ab".repeat(32)).is_ok());
        assert!(Vault::from_hex("abc").is_err());
        assert!(Vault::from_hex(&"zz".repeat(32)).is_err());
        assert_eq!(Vault::generate_hex().expect("random").len(), 64);
    }

    #[test]
    fn addresses_normalize() {
        assert_eq!(
            normalize_email(" Ann@Example.COM ").as_deref(),
            Some("ann@example.com")
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "a@b",
            "a b@c.com",
            "a@.com",
            "a@b.c@d.com",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
        assert_eq!(
            normalize_phone("+1 (415) 555-0100").as_deref(),
            Some("+14155550100")
        );
        for bad in [
            "4155550100",
            "+1",
            "+0123456789",
            "+1415555abcd",
            "+1234567890123456",
        ] {
            assert_eq!(normalize_phone(bad), None, "{bad}");
        }
    }
}
