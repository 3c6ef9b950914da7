//! The PII vault: every customer's personal data is sealed with AES-256-GCM under a data key
//! of her own; data keys are stored wrapped (sealed) by a master key from settings. Erasing the
//! data key shreds everything sealed under it. Email lookups use a keyed blind index (HMAC-SHA256),
//! so the store can find an address without holding it.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::fmt;

const NONCE: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("master key `{0}` is not in the keyring")]
    UnknownMasterKey(String),
    #[error("the sealed data is corrupt or was sealed under another key")]
    Corrupt,
    #[error("a key must be 32 bytes")]
    BadKey,
}

/// 32 secret bytes whose `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret32([u8; 32]);

impl Secret32 {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn from_slice(b: &[u8]) -> Result<Self, VaultError> {
        b.try_into().map(Self).map_err(|_| VaultError::BadKey)
    }

    pub fn random() -> Self {
        Self(random_bytes())
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(<redacted>)")
    }
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).expect("the system random source");
    b
}

fn seal_with(key: &Secret32, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new_from_slice(key.expose()).expect("32-byte key");
    let nonce_bytes: [u8; NONCE] = random_bytes();
    let nonce = Nonce::try_from(&nonce_bytes[..]).expect("12-byte nonce");
    let ct = cipher.encrypt(&nonce, Payload { msg: plaintext, aad }).expect("AES-GCM seals any length we store");
    let mut out = Vec::with_capacity(NONCE + ct.len());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&ct);
    out
}

fn open_with(key: &Secret32, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
    if sealed.len() < NONCE + 16 {
        return Err(VaultError::Corrupt);
    }
    let cipher = Aes256Gcm::new_from_slice(key.expose()).expect("32-byte key");
    let nonce = Nonce::try_from(&sealed[..NONCE]).map_err(|_| VaultError::Corrupt)?;
    cipher.decrypt(&nonce, Payload { msg: &sealed[NONCE..], aad }).map_err(|_| VaultError::Corrupt)
}

/// The header of [`seal_with_passphrase`]'s output: a tag, then argon2id's memory (KiB),
/// passes and lanes (big-endian u32 each), then the salt.
const PASS_TAG: &[u8; 4] = b"RGP1";
const PASS_SALT: usize = 16;
const PASS_HEADER: usize = 4 + 12 + PASS_SALT;
/// argon2id at 64 MiB and 3 passes: above OWASP's minimum, well under a second per restore.
const PASS_COST: (u32, u32, u32) = (64 * 1024, 3, 1);

fn passphrase_key(passphrase: &str, salt: &[u8], (m, t, p): (u32, u32, u32)) -> Result<Secret32, VaultError> {
    use argon2::{Algorithm, Argon2, Params, Version};
    let params = Params::new(m, t, p, Some(32)).map_err(|_| VaultError::Corrupt)?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, &mut key)
        .map_err(|_| VaultError::Corrupt)?;
    Ok(Secret32(key))
}

/// Seals `plaintext` under a key derived from `passphrase` (argon2id with a fresh salt, then
/// AES-256-GCM with `aad`); the cost and salt travel in the output. For backups of the key
/// directory, which must not depend on the keys they hold.
pub fn seal_with_passphrase(passphrase: &str, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let salt: [u8; PASS_SALT] = random_bytes();
    let key = passphrase_key(passphrase, &salt, PASS_COST).expect("valid argon2 parameters");
    let mut out = Vec::with_capacity(PASS_HEADER + NONCE + plaintext.len() + 16);
    out.extend_from_slice(PASS_TAG);
    for v in [PASS_COST.0, PASS_COST.1, PASS_COST.2] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&salt);
    out.extend_from_slice(&seal_with(&key, plaintext, aad));
    out
}

/// Opens what [`seal_with_passphrase`] sealed.
///
/// # Errors
/// `Corrupt` for a wrong passphrase, other associated data, or altered bytes.
pub fn open_with_passphrase(passphrase: &str, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, VaultError> {
    if sealed.len() < PASS_HEADER || &sealed[..4] != PASS_TAG {
        return Err(VaultError::Corrupt);
    }
    let word = |i: usize| u32::from_be_bytes(sealed[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes"));
    let cost = (word(0), word(1), word(2));
    // A header asking for more than 1 GiB is not ours (and would stall the restore).
    if cost.0 > 1024 * 1024 || cost.1 > 64 || cost.2 > 16 {
        return Err(VaultError::Corrupt);
    }
    let key = passphrase_key(passphrase, &sealed[16..PASS_HEADER], cost)?;
    open_with(&key, &sealed[PASS_HEADER..], aad)
}

/// A customer's data key, unwrapped. Fields are sealed with the customer's id as associated
/// data, so a sealed value copied onto another customer's row does not open.
#[derive(Clone, Debug)]
pub struct DataKey(Secret32);

impl DataKey {
    pub fn seal(&self, owner: &str, plaintext: &[u8]) -> Vec<u8> {
        seal_with(&self.0, plaintext, owner.as_bytes())
    }

    /// # Errors
    /// `Corrupt` when the value was tampered with, or sealed under another key or owner.
    pub fn open(&self, owner: &str, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        open_with(&self.0, sealed, owner.as_bytes())
    }

    pub fn seal_str(&self, owner: &str, s: &str) -> Vec<u8> {
        self.seal(owner, s.as_bytes())
    }

    /// # Errors
    /// As [`DataKey::open`].
    pub fn open_str(&self, owner: &str, sealed: &[u8]) -> Result<String, VaultError> {
        String::from_utf8(self.open(owner, sealed)?).map_err(|_| VaultError::Corrupt)
    }
}

/// A data key as stored: sealed by the master key named `master_id`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedKey {
    pub master_id: String,
    pub sealed: Vec<u8>,
}

/// The master keys (by id) and the blind-index key. The newest master key wraps new data keys;
/// the older ones still unwrap until `rouge keys rotate` has re-wrapped everything.
#[derive(Clone, Debug)]
pub struct Vault {
    masters: BTreeMap<String, Secret32>,
    current: String,
    index_key: Secret32,
}

impl Vault {
    /// `masters` in any order; `current` must be one of them.
    ///
    /// # Errors
    /// `UnknownMasterKey` when `current` is not among `masters`.
    pub fn new(masters: BTreeMap<String, Secret32>, current: &str, index_key: Secret32) -> Result<Self, VaultError> {
        if !masters.contains_key(current) {
            return Err(VaultError::UnknownMasterKey(current.to_owned()));
        }
        Ok(Self { masters, current: current.to_owned(), index_key })
    }

    /// A vault with fresh random keys, for tests.
    pub fn ephemeral() -> Self {
        let mut masters = BTreeMap::new();
        masters.insert("m1".to_owned(), Secret32::random());
        Self { masters, current: "m1".into(), index_key: Secret32::random() }
    }

    /// Whether this vault holds the master key `id`.
    pub fn has_master(&self, id: &str) -> bool {
        self.masters.contains_key(id)
    }

    pub fn current_master(&self) -> &str {
        &self.current
    }

    /// A new data key and its wrapped form for `owner`.
    pub fn new_data_key(&self, owner: &str) -> (DataKey, WrappedKey) {
        let key = Secret32::random();
        let sealed = seal_with(&self.masters[&self.current], key.expose(), owner.as_bytes());
        (DataKey(key), WrappedKey { master_id: self.current.clone(), sealed })
    }

    /// # Errors
    /// `UnknownMasterKey` when the wrapping key is no longer configured; `Corrupt` when the
    /// wrapped key does not open.
    pub fn unwrap_key(&self, owner: &str, w: &WrappedKey) -> Result<DataKey, VaultError> {
        let master = self.masters.get(&w.master_id).ok_or_else(|| VaultError::UnknownMasterKey(w.master_id.clone()))?;
        Secret32::from_slice(&open_with(master, &w.sealed, owner.as_bytes())?).map(DataKey)
    }

    /// The same data key wrapped under the current master key (a no-op when it already is).
    ///
    /// # Errors
    /// As [`Vault::unwrap_key`].
    pub fn rewrap(&self, owner: &str, w: &WrappedKey) -> Result<WrappedKey, VaultError> {
        if w.master_id == self.current {
            return Ok(w.clone());
        }
        let key = self.unwrap_key(owner, w)?;
        Ok(WrappedKey {
            master_id: self.current.clone(),
            sealed: seal_with(&self.masters[&self.current], key.0.expose(), owner.as_bytes()),
        })
    }

    /// The keyed blind index of a value (hex HMAC-SHA256), for exact-match lookups.
    pub fn blind_index(&self, purpose: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.index_key.expose()).expect("any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_fields_open_only_with_their_key_and_owner() {
        let v = Vault::ephemeral();
        let (key, wrapped) = v.new_data_key("c1");
        let sealed = key.seal_str("c1", "ana@example.com");
        assert!(!sealed.windows(3).any(|w| w == b"ana"), "no plaintext in the sealed bytes");
        let again = v.unwrap_key("c1", &wrapped).unwrap();
        assert_eq!(again.open_str("c1", &sealed).unwrap(), "ana@example.com");
        assert_eq!(again.open_str("c2", &sealed), Err(VaultError::Corrupt), "bound to its owner");
        assert!(v.unwrap_key("c2", &wrapped).is_err(), "a wrapped key is bound to its owner too");
        let mut tampered = sealed.clone();
        tampered[15] ^= 1;
        assert_eq!(again.open_str("c1", &tampered), Err(VaultError::Corrupt));
        let (other, _) = v.new_data_key("c1");
        assert_eq!(other.open_str("c1", &sealed), Err(VaultError::Corrupt));
    }

    #[test]
    fn rotation_rewraps_under_the_new_master_and_old_keys_still_open() {
        let old = Vault::ephemeral();
        let (key, wrapped) = old.new_data_key("c1");
        let sealed = key.seal_str("c1", "secret");
        let mut masters = old.masters.clone();
        masters.insert("m2".into(), Secret32::random());
        let new = Vault::new(masters, "m2", old.index_key.clone()).unwrap();
        assert_eq!(new.unwrap_key("c1", &wrapped).unwrap().open_str("c1", &sealed).unwrap(), "secret");
        let rewrapped = new.rewrap("c1", &wrapped).unwrap();
        assert_eq!(rewrapped.master_id, "m2");
        let only_new = Vault::new(
            [("m2".to_owned(), new.masters["m2"].clone())].into_iter().collect(),
            "m2",
            old.index_key.clone(),
        )
        .unwrap();
        assert_eq!(only_new.unwrap_key("c1", &rewrapped).unwrap().open_str("c1", &sealed).unwrap(), "secret");
        assert_eq!(only_new.unwrap_key("c1", &wrapped).unwrap_err(), VaultError::UnknownMasterKey("m1".into()));
    }

    #[test]
    fn a_passphrase_seal_opens_only_with_its_passphrase_and_data() {
        let sealed = seal_with_passphrase("correct horse battery", b"master keys", b"backup");
        assert_eq!(open_with_passphrase("correct horse battery", &sealed, b"backup").unwrap(), b"master keys");
        assert_eq!(open_with_passphrase("wrong horse battery", &sealed, b"backup"), Err(VaultError::Corrupt));
        assert_eq!(open_with_passphrase("correct horse battery", &sealed, b"other"), Err(VaultError::Corrupt));
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(open_with_passphrase("correct horse battery", &altered, b"backup"), Err(VaultError::Corrupt));
        let again = seal_with_passphrase("correct horse battery", b"master keys", b"backup");
        assert_ne!(sealed, again, "a fresh salt and nonce each time");
    }

    #[test]
    fn blind_index_is_keyed_and_stable() {
        let v = Vault::ephemeral();
        assert_eq!(v.blind_index("email", "a@b.co"), v.blind_index("email", "a@b.co"));
        assert_ne!(v.blind_index("email", "a@b.co"), v.blind_index("email", "b@b.co"));
        assert_ne!(v.blind_index("email", "a@b.co"), Vault::ephemeral().blind_index("email", "a@b.co"));
        assert_eq!(v.blind_index("email", "a@b.co").len(), 64);
    }
}
