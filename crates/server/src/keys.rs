//! The key directory: master keys that wrap customers' data keys, the blind-index key, and the
//! Ed25519 keys that sign access tokens. Missing keys are created on first start (the embedded
//! default just works); production mounts the directory from its secret store.
//!
//! Files: `master-<id>.key` and `blind-index.key` (base64 of 32 random bytes), and
//! `jwt-<id>.pem` (PKCS#8). Ids are UTC timestamps, so names sort by age. A new key is only
//! *published* at first: every server verifies and unwraps with it at once, but it starts
//! signing and wrapping [`PUBLISH_SECS`] after it was made, by which time every replica has
//! reloaded the directory. That is what lets keys rotate without logging anyone out.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rouge_http::services::{Service, Services};
use rouge_identity::{Keys, Secret32, SigningKey, TokenKeys, Vault};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How long a new key is published before it is used; servers reload more often than this.
/// `ROUGE_KEY_PUBLISH_SECS` changes it (it must stay above the reload interval).
pub const PUBLISH_SECS: i64 = 60;
/// How often a running server re-reads the key directory (`ROUGE_KEY_RELOAD_SECS`).
pub const RELOAD_SECS: u64 = 20;

fn env_secs(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

/// The publication delay in force.
pub fn publish_secs() -> i64 {
    env_secs("ROUGE_KEY_PUBLISH_SECS", PUBLISH_SECS as u64) as i64
}

/// The reload interval in force.
pub fn reload_secs() -> u64 {
    env_secs("ROUGE_KEY_RELOAD_SECS", RELOAD_SECS)
}

pub const ISSUER: &str = "rouge";
pub const AUDIENCE: &str = "rouge-api";

pub struct KeyDir(pub PathBuf);

/// Writes a key file whole or not at all: into a private temporary file first, then linked
/// into place, which fails if the name exists. A reader never sees a half-written key.
fn write_secret(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::now_v7().simple()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked.with_context(|| format!("creating {}", path.display()))
}

/// `Ok(false)` when another process created the same key first (replicas starting together
/// on an empty shared directory), so the caller uses theirs.
fn created(r: anyhow::Result<()>) -> anyhow::Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(e)
            if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::AlreadyExists) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

fn read_secret32(path: &Path) -> anyhow::Result<Secret32> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let bytes = STANDARD.decode(text.trim()).with_context(|| format!("{} is not base64", path.display()))?;
    Secret32::from_slice(&bytes).with_context(|| format!("{} must hold 32 bytes", path.display()))
}

/// `20261125T192300` from a Unix time.
fn stamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).unwrap_or_default().format("%Y%m%dT%H%M%S").to_string()
}

fn stamp_time(id: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(id, "%Y%m%dT%H%M%S").ok().map(|d| d.and_utc().timestamp())
}

/// The newest id that is past its publication, or the oldest one if none is yet.
fn in_use(ids: &[String], now: i64) -> Option<&String> {
    ids.iter().rev().find(|id| stamp_time(id).is_some_and(|t| t + publish_secs() <= now)).or(ids.first())
}

impl KeyDir {
    fn files(&self, prefix: &str, suffix: &str) -> anyhow::Result<Vec<String>> {
        let mut ids = vec![];
        for entry in std::fs::read_dir(&self.0).with_context(|| format!("reading {}", self.0.display()))? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_prefix(prefix).and_then(|n| n.strip_suffix(suffix)) {
                ids.push(id.to_owned());
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The key files a start would have to create: none when the directory has them all.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut out = vec![];
        if !self.0.join("blind-index.key").exists() {
            out.push("blind-index.key");
        }
        if self.files("master-", ".key").map_or(true, |m| m.is_empty()) {
            out.push("master-*.key");
        }
        out
    }

    /// Creates the directory and whatever keys are missing; says so in the log.
    ///
    /// # Errors
    /// When the directory cannot be written.
    pub fn ensure(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.0).with_context(|| format!("creating {}", self.0.display()))?;
        let index = self.0.join("blind-index.key");
        if !index.exists() && created(write_secret(&index, &STANDARD.encode(Secret32::random().expose())))? {
            tracing::warn!(dir = %self.0.display(), "created a new blind-index key; back up this directory: without it no customer can log in");
        }
        if self.files("master-", ".key")?.is_empty() && created(self.add_master(0).map(|_| ()))? {
            tracing::warn!(dir = %self.0.display(), "created a new master key; back up this directory: without it customers' personal data cannot be read");
        }
        if self.files("jwt-", ".pem")?.is_empty() && created(self.add_jwt(0).map(|_| ()))? {
            tracing::info!(dir = %self.0.display(), "created a new token-signing key");
        }
        Ok(())
    }

    /// Writes a new master key stamped `now` (0: stamped long ago, in use at once).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn add_master(&self, now: i64) -> anyhow::Result<String> {
        let id = stamp(now);
        write_secret(&self.0.join(format!("master-{id}.key")), &STANDARD.encode(Secret32::random().expose()))?;
        Ok(id)
    }

    /// Writes a new token-signing key stamped `now`.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn add_jwt(&self, now: i64) -> anyhow::Result<String> {
        let id = stamp(now);
        write_secret(&self.0.join(format!("jwt-{id}.pem")), &SigningKey::generate(&id).to_pem())?;
        Ok(id)
    }

    /// Reads every key; the ones in use are chosen as of `now`.
    ///
    /// # Errors
    /// When a file is missing, unreadable or malformed.
    pub fn load(&self, now: i64, access_ttl_secs: i64) -> anyhow::Result<Keys> {
        let index = read_secret32(&self.0.join("blind-index.key"))?;
        let master_ids = self.files("master-", ".key")?;
        let mut masters = BTreeMap::new();
        for id in &master_ids {
            masters.insert(id.clone(), read_secret32(&self.0.join(format!("master-{id}.key")))?);
        }
        let current = in_use(&master_ids, now).context("no master key")?;
        let vault = Vault::new(masters, current, index)?;
        let jwt_ids = self.files("jwt-", ".pem")?;
        let mut signing = vec![];
        for id in &jwt_ids {
            let path = self.0.join(format!("jwt-{id}.pem"));
            let pem = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            signing.push(SigningKey::from_pem(id, &pem)?);
        }
        let signer = in_use(&jwt_ids, now).context("no token-signing key")?;
        let tokens = TokenKeys::new(&signing, signer, ISSUER, AUDIENCE, access_ttl_secs)?;
        Ok(Keys { vault: Arc::new(vault), tokens: Arc::new(tokens) })
    }
}

/// What the store holds sealed, by master key id: (customers and staff, carts and orders).
pub type Sealed = BTreeMap<String, (i64, i64)>;

/// What the store holds sealed under each master key (read once at start).
///
/// # Errors
/// When the store cannot be read.
/// Only the tables of `services` are read (a service apart may read no other's).
pub async fn sealed<S: rouge_http::Store>(store: &S, services: Services) -> anyhow::Result<Sealed> {
    let mut by = BTreeMap::<String, (i64, i64)>::new();
    if services.has(Service::Identity) {
        for (id, n) in store.people_by_master().await.map_err(|e| anyhow::anyhow!(e))? {
            by.entry(id).or_default().0 += n;
        }
    }
    if services.has(Service::Orders) {
        for (id, n) in
            rouge_orders::OrdersRepository::contacts_by_master(store).await.map_err(|e| anyhow::anyhow!(e))?
        {
            by.entry(id).or_default().1 += n;
        }
    }
    Ok(by)
}

fn describe(what: &Sealed) -> String {
    what.iter()
        .map(|(id, (people, contacts))| {
            format!("master-{id}.key: {people} customers and staff members, {contacts} carts and orders")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Refuses to start when the store holds personal data the key directory cannot open (a
/// database restored without its keys): new keys would be made and every request touching that
/// data would fail. `missing` is what the directory lacked before anything was created.
///
/// # Errors
/// A message naming the missing key files and the data that depends on them.
pub fn check_before_creating(sealed: &Sealed, dir: &KeyDir, missing: &[&str]) -> anyhow::Result<()> {
    if missing.is_empty() || sealed.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "the key directory {} has no {}, but the store holds personal data sealed under keys kept there ({}); \
         restore the directory from the backup taken with this database (or point ROUGE_KEY_DIR at it). \
         Starting with new keys would leave that data unreadable, so Rouge does not start.",
        dir.0.display(),
        missing.join(" and no "),
        describe(sealed)
    )
}

/// Refuses to start when data in the store is sealed under a master key the directory lacks.
///
/// # Errors
/// A message naming the missing `master-<id>.key` files and the data that depends on them.
pub fn check_masters(sealed: &Sealed, dir: &KeyDir, vault: &Vault) -> anyhow::Result<()> {
    let lacking: Sealed =
        sealed.iter().filter(|(id, _)| !vault.has_master(id)).map(|(id, n)| (id.clone(), *n)).collect();
    if lacking.is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "the key directory {} lacks master keys the store's data is sealed under ({}); restore those files \
         from the backup taken with this database. Rouge does not start without them.",
        dir.0.display(),
        describe(&lacking)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_starting_together_on_an_empty_directory_agree_on_the_keys() {
        let dir = std::env::temp_dir().join(format!("rouge-keys-{}", uuid::Uuid::now_v7()));
        let results: Vec<_> = (0..8)
            .map(|_| {
                let d = dir.clone();
                std::thread::spawn(move || KeyDir(d).ensure().map_err(|e| e.to_string()))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let keys = KeyDir(dir.clone());
        assert_eq!(keys.files("master-", ".key").unwrap().len(), 1);
        assert_eq!(keys.files("jwt-", ".pem").unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn new_keys_are_published_before_they_are_used() {
        let dir = std::env::temp_dir().join(format!("rouge-keys-{}", uuid::Uuid::now_v7()));
        let keys = KeyDir(dir.clone());
        keys.ensure().unwrap();
        let now = chrono::Utc::now().timestamp();
        let first = keys.load(now, 900).unwrap();
        let (token, _) = first.tokens.issue(uuid::Uuid::now_v7(), rouge_identity::Subject::Customer, now);
        let m2 = keys.add_master(now).unwrap();
        keys.add_jwt(now).unwrap();
        let published = keys.load(now, 900).unwrap();
        assert_ne!(published.vault.current_master(), m2, "not wrapping with it yet");
        assert!(published.tokens.verify(&token).is_ok());
        let later = keys.load(now + PUBLISH_SECS, 900).unwrap();
        assert_eq!(later.vault.current_master(), m2);
        assert!(later.tokens.verify(&token).is_ok(), "tokens signed by the old key stay valid");
        let (new_token, _) = later.tokens.issue(uuid::Uuid::now_v7(), rouge_identity::Subject::Customer, now);
        assert!(published.tokens.verify(&new_token).is_ok(), "a server that loaded the published key verifies it");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("blind-index.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "keys are readable by their owner only");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
