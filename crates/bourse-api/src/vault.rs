//! The data key: personal data and second-factor secrets are sealed with it before they go
//! into a command (so the journal, snapshots and the database hold ciphertext only), and
//! addresses are found by a keyed digest of their normalized form.
//!
//! XChaCha20-Poly1305 with a random 192-bit nonce per value (no nonce counter to share
//! between a primary and its standby); the sealing and lookup keys are derived from the one
//! configured key with BLAKE3's key derivation, each for its own purpose.
//!
//! A person's own data (addresses, bank details, support texts) is sealed with a key of
//! their own instead: a random key per person, kept wrapped by the data key in a small store
//! beside the journal (`crate::personkeys`). Erasing a person deletes their key, and with it
//! every copy of their data, in the journal, the snapshots and the backups alike
//! (crypto-shredding); the append-only records stay whole. A value sealed so starts with
//! [`PERSON_MAGIC`] and the key's id.

use bourse_core::SecretHash;
use bourse_core::profile::{CodePurpose, ContactKind, Sealed};
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use parking_lot::RwLock;
use std::collections::HashMap;

const NONCE: usize = 24;

/// The first bytes of a value sealed with a person's key (then the key's 16-byte id). A
/// value sealed with the data key starts with a random nonce, so 1 in 65,536 of those start
/// so too: opening tries the data key when the person's key does not open it.
pub const PERSON_MAGIC: [u8; 2] = [0xB5, 0x01];

/// Names a person's key.
pub type KeyId = [u8; 16];

/// Seals, opens and digests with the configured data key.
pub struct Vault {
    cipher: XChaCha20Poly1305,
    /// Keys the digests values are found by; kept across rotations of the data key (see
    /// [`Vault::set_lookup_key`]).
    lookup: RwLock<[u8; 32]>,
    /// The data key before the current one, while values sealed with it remain.
    previous: Option<XChaCha20Poly1305>,
    /// Names the key without revealing it (the audit log's `data_key_changed`).
    fingerprint: String,
    /// People's keys, unwrapped, and whose each is (retention: one per person, removed at
    /// erasure).
    people: RwLock<Keyring>,
}

#[derive(Default)]
struct Keyring {
    keys: HashMap<KeyId, XChaCha20Poly1305>,
    of: HashMap<bourse_core::AccountId, KeyId>,
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
            lookup: RwLock::new(lookup),
            previous: None,
            fingerprint,
            people: RwLock::default(),
        }
    }

    /// The vault of `key`, which replaced `previous`: values sealed with either open, new
    /// ones are sealed with `key`, and digests stay keyed as they were made (the previous
    /// key's lookup key, until the key store holds the lookup key itself).
    #[must_use]
    pub fn rotated(key: &[u8; 32], previous: &[u8; 32]) -> Vault {
        let mut v = Vault::new(key);
        let old = Vault::new(previous);
        v.previous = Some(old.cipher);
        let lookup = *old.lookup.read();
        *v.lookup.write() = lookup;
        v
    }

    /// The lookup key the digests in use were made with, as this vault starts: the previous
    /// key's when rotating, else the current key's.
    #[must_use]
    pub fn lookup_key(&self) -> [u8; 32] {
        *self.lookup.read()
    }

    /// Keys digests with `key` from now on (the key store's, which outlives rotations).
    pub fn set_lookup_key(&self, key: [u8; 32]) {
        *self.lookup.write() = key;
    }

    /// Whether `wrapped` (sealed by a data key) opens with the current key, not only the
    /// previous one: what the key store re-wraps at a rotation.
    #[must_use]
    pub fn sealed_with_current(&self, wrapped: &[u8]) -> bool {
        open_with(&self.cipher, wrapped).is_some()
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

    /// 32 bytes from 64 hex characters.
    ///
    /// # Errors
    /// Not 64 hex characters.
    pub fn key_from_hex(hex: &str) -> Result<[u8; 32], BadKey> {
        let hex = hex.trim();
        if hex.len() != 64 {
            return Err(BadKey);
        }
        let mut key = [0u8; 32];
        for (i, b) in key.iter_mut().enumerate() {
            *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2).ok_or(BadKey)?, 16)
                .map_err(|_| BadKey)?;
        }
        Ok(key)
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

    /// Decrypts what [`Vault::seal`] or [`Vault::seal_for`] made; `None` for anything else,
    /// and for a value whose person's key was erased.
    #[must_use]
    pub fn open(&self, sealed: &Sealed) -> Option<Vec<u8>> {
        if let Some(id) = Self::person_key_of(sealed) {
            let g = self.people.read();
            if let Some(cipher) = g.keys.get(&id)
                && let Some(plain) = open_with(cipher, &sealed.0[2 + 16..])
            {
                return Some(plain);
            }
        }
        open_with(&self.cipher, &sealed.0)
            .or_else(|| self.previous.as_ref().and_then(|p| open_with(p, &sealed.0)))
    }

    /// The id of the person's key `sealed` was sealed with, if it looks sealed so.
    #[must_use]
    pub fn person_key_of(sealed: &Sealed) -> Option<KeyId> {
        let b = &sealed.0;
        (b.len() >= 2 + 16 + NONCE && b[..2] == PERSON_MAGIC)
            .then(|| b[2..18].try_into().ok())
            .flatten()
    }

    /// Seals `plain` with the person's key `id` (installed), else with the data key.
    #[must_use]
    pub fn seal_for(&self, id: Option<KeyId>, plain: &[u8]) -> Sealed {
        let g = self.people.read();
        let Some((id, cipher)) = id.and_then(|id| g.keys.get(&id).map(|c| (id, c))) else {
            return self.seal(plain);
        };
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ct = cipher.encrypt(&nonce, plain).unwrap_or_default();
        let mut out = Vec::with_capacity(2 + 16 + NONCE + ct.len());
        out.extend_from_slice(&PERSON_MAGIC);
        out.extend_from_slice(&id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Sealed(out)
    }

    /// A new person's key: its id, the key itself and the key wrapped (sealed) by the data
    /// key, as the key store keeps it.
    pub fn new_person_key(&self) -> Result<(KeyId, [u8; 32], Vec<u8>), getrandom::Error> {
        let mut id = [0u8; 16];
        let mut key = [0u8; 32];
        getrandom::fill(&mut id)?;
        getrandom::fill(&mut key)?;
        let wrapped = self.seal(&key).0;
        Ok((id, key, wrapped))
    }

    /// Installs a person's key from its wrapped form (the key store's); false if the data
    /// key cannot unwrap it.
    pub fn install(
        &self,
        id: KeyId,
        wrapped: &[u8],
        account: Option<bourse_core::AccountId>,
    ) -> bool {
        let Some(key) = self.open(&Sealed(wrapped.to_vec())) else {
            return false;
        };
        let Ok(key) = <[u8; 32]>::try_from(key.as_slice()) else {
            return false;
        };
        let mut g = self.people.write();
        g.keys.insert(id, XChaCha20Poly1305::new(&key.into()));
        if let Some(a) = account {
            g.of.insert(a, id);
        }
        true
    }

    /// Records whose key `id` is.
    pub fn bind(&self, id: KeyId, account: bourse_core::AccountId) {
        self.people.write().of.insert(account, id);
    }

    /// The person's key, if they have one.
    #[must_use]
    pub fn key_of(&self, account: bourse_core::AccountId) -> Option<KeyId> {
        self.people.read().of.get(&account).copied()
    }

    /// Forgets a person's key: what it sealed no longer opens.
    pub fn forget(&self, id: &KeyId) {
        let mut g = self.people.write();
        g.keys.remove(id);
        g.of.retain(|_, k| k != id);
    }

    #[must_use]
    pub fn open_string(&self, sealed: &Sealed) -> Option<String> {
        self.open(sealed).and_then(|b| String::from_utf8(b).ok())
    }

    /// The keyed digest an address is found by (of its normalized form).
    #[must_use]
    pub fn lookup(&self, kind: ContactKind, normalized: &str) -> SecretHash {
        let mut h = blake3::Hasher::new_keyed(&self.lookup.read());
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
        let mut h = blake3::Hasher::new_keyed(&self.lookup.read());
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
        let mut h = blake3::Hasher::new_keyed(&self.lookup.read());
        h.update(what.as_bytes());
        h.update(&[0]);
        h.update(value.as_bytes());
        SecretHash(*h.finalize().as_bytes())
    }
}

fn open_with(cipher: &XChaCha20Poly1305, b: &[u8]) -> Option<Vec<u8>> {
    if b.len() < NONCE {
        return None;
    }
    let (nonce, ct) = b.split_at(NONCE);
    let nonce: [u8; NONCE] = nonce.try_into().ok()?;
    cipher.decrypt(&XNonce::from(nonce), ct).ok()
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
    fn a_persons_key_seals_their_data_and_forgetting_it_shreds_every_copy() {
        let v = Vault::new(&[7; 32]);
        let (id, _, wrapped) = v.new_person_key().unwrap();
        assert!(!wrapped.is_empty());
        // Unknown key: sealed with the data key.
        let plain = v.seal_for(Some(id), b"bob@example.com");
        assert_eq!(Vault::person_key_of(&plain), None);
        let account = bourse_core::AccountId::new(7);
        assert!(v.install(id, &wrapped, Some(account)));
        assert_eq!(v.key_of(account), Some(id));
        let sealed = v.seal_for(Some(id), b"bob@example.com");
        assert_eq!(Vault::person_key_of(&sealed), Some(id));
        assert_eq!(v.open(&sealed).as_deref(), Some(&b"bob@example.com"[..]));
        // Another server with the same data key installs the same wrapped key.
        let standby = Vault::new(&[7; 32]);
        assert!(standby.install(id, &wrapped, None));
        assert_eq!(
            standby.open(&sealed).as_deref(),
            Some(&b"bob@example.com"[..])
        );
        // A different data key cannot unwrap it.
        assert!(!Vault::new(&[8; 32]).install(id, &wrapped, None));
        v.forget(&id);
        assert_eq!(v.open(&sealed), None, "erased");
        assert_eq!(v.key_of(account), None);
        assert_eq!(v.open(&plain).as_deref(), Some(&b"bob@example.com"[..]));
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
