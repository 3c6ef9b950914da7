//! `rouge backup DIR` and `rouge restore DIR`: a consistent copy of the store and of the key
//! directory (sealed under a passphrase), with a manifest of what, when and checksums, and a
//! restore that checks all of it before touching anything and verifies what it restored.
//!
//! - SQLite: `VACUUM INTO` writes a consistent copy of the live database (a read transaction;
//!   writers carry on), compacted.
//! - PostgreSQL: `pg_dump --format=custom` of a snapshot exported by a repeatable-read
//!   transaction that also counts every table's rows, so the counts describe the dump exactly.
//! - Keys: every file of the key directory in one blob sealed with AES-256-GCM under a key
//!   derived from the passphrase with argon2id ([`rouge_identity::vault::seal_with_passphrase`]).
//!
//! A restore goes into an empty database only (a new SQLite file, or a PostgreSQL database
//! without tables) and an empty or missing key directory.

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{Connection, Row};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The manifest's file name; written last, so a directory without it is not a backup.
pub const MANIFEST: &str = "manifest.json";
const SQLITE_FILE: &str = "database.sqlite";
const PG_FILE: &str = "database.pgdump";
const KEYS_FILE: &str = "keys.sealed";
/// What the sealed key blob is bound to (associated data).
const KEYS_AAD: &[u8] = b"rouge backup: key directory";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// This layout's version.
    pub format: u32,
    /// The rouge version that wrote it.
    pub rouge: String,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub taken_at: String,
    /// `sqlite` or `postgres`.
    pub store: String,
    /// The newest migration the database had.
    pub migration: i64,
    /// Rows per table in the snapshot.
    pub rows: BTreeMap<String, i64>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

fn store_kind(url: &str) -> anyhow::Result<&'static str> {
    if url.starts_with("sqlite:") {
        Ok("sqlite")
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok("postgres")
    } else {
        bail!("DATABASE_URL must start with sqlite: or postgres://")
    }
}

/// The file of a `sqlite://path?…` URL.
fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let path = url.strip_prefix("sqlite://").context("a SQLite URL is sqlite://path/to/file.db")?;
    let path = path.split('?').next().unwrap_or(path);
    ensure!(!path.is_empty() && !path.contains(":memory:"), "an in-memory database cannot be backed up or restored");
    Ok(PathBuf::from(path))
}

fn sha256_file(path: &Path) -> anyhow::Result<FileEntry> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(FileEntry { name, bytes, sha256 })
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Rows per table and the newest migration, read on `conn` (inside the caller's snapshot).
async fn sqlite_rows(conn: &mut sqlx::SqliteConnection) -> anyhow::Result<(BTreeMap<String, i64>, i64)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = BTreeMap::new();
    for t in tables {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{t}\"")))
            .fetch_one(&mut *conn)
            .await?;
        rows.insert(t, n);
    }
    let migration: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations").fetch_one(&mut *conn).await.unwrap_or(None);
    Ok((rows, migration.unwrap_or(0)))
}

async fn pg_rows(conn: &mut sqlx::PgConnection) -> anyhow::Result<(BTreeMap<String, i64>, i64)> {
    // Every context's schema (catalog, identity, inventory, …) and sqlx's table in public.
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT schemaname::text, tablename::text FROM pg_tables \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut rows = BTreeMap::new();
    for (schema, table) in tables {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{schema}\".\"{table}\"")))
            .fetch_one(&mut *conn)
            .await?;
        rows.insert(format!("{schema}.{table}"), n);
    }
    let migration: Option<i64> = if rows.contains_key("public._sqlx_migrations") {
        sqlx::query_scalar("SELECT MAX(version) FROM public._sqlx_migrations").fetch_one(&mut *conn).await?
    } else {
        None
    };
    Ok((rows, migration.unwrap_or(0)))
}

/// Rows per table and the newest migration of the store at `url`, on a connection of its own.
async fn rows_at(url: &str) -> anyhow::Result<(BTreeMap<String, i64>, i64)> {
    if store_kind(url)? == "sqlite" {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        let seen = sqlite_rows(&mut conn).await?;
        conn.close().await?;
        Ok(seen)
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let seen = pg_rows(&mut conn).await?;
        conn.close().await?;
        Ok(seen)
    }
}

/// A PostgreSQL client program (`pg_dump`, `pg_restore`): from `ROUGE_PG_BIN` if set, else
/// the `PATH`. Its major version must be at least the server's.
fn pg_program(name: &str) -> PathBuf {
    std::env::var_os("ROUGE_PG_BIN").map_or_else(|| PathBuf::from(name), |dir| PathBuf::from(dir).join(name))
}

async fn run_program(mut cmd: tokio::process::Command, what: &str) -> anyhow::Result<()> {
    let out = cmd.output().await.with_context(|| format!("running {what} (is it installed? ROUGE_PG_BIN)"))?;
    ensure!(out.status.success(), "{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    Ok(())
}

/// Every regular file of the key directory, by name.
fn read_keys(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    use base64::Engine as _;
    let mut files = BTreeMap::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading the key directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let name = entry.file_name().into_string().map_err(|_| anyhow::anyhow!("a key file name is not UTF-8"))?;
            let bytes = std::fs::read(entry.path())?;
            files.insert(name, base64::engine::general_purpose::STANDARD.encode(bytes));
        }
    }
    ensure!(!files.is_empty(), "the key directory {} has no keys", dir.display());
    Ok(files)
}

/// Writes a backup of the store at `url` and the key directory `key_dir` into `dir` (new or
/// empty), the keys sealed under `passphrase`. Prints progress to stderr.
///
/// # Errors
/// When `dir` is not empty, the store cannot be read, `pg_dump` fails, or a file cannot be
/// written; the manifest is then not written.
pub async fn backup(url: &str, key_dir: &Path, dir: &Path, passphrase: &str) -> anyhow::Result<Manifest> {
    let kind = store_kind(url)?;
    ensure!(passphrase.chars().count() >= 12, "the backup passphrase needs at least 12 characters");
    if dir.exists() {
        ensure!(
            std::fs::read_dir(dir)?.next().is_none(),
            "{} is not empty: back up into a new directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let started = Instant::now();
    let taken_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    eprintln!("backup: {kind} store → {}", dir.display());
    let (rows, migration, db_file) = match kind {
        "sqlite" => {
            let source = sqlite_path(url)?;
            ensure!(source.exists(), "{} does not exist", source.display());
            let target = dir.join(SQLITE_FILE);
            let mut conn = sqlx::SqliteConnection::connect(url).await.context("opening the SQLite database")?;
            let into = target.to_str().context("a backup path that is UTF-8")?.replace('\'', "''");
            sqlx::query(sqlx::AssertSqlSafe(format!("VACUUM INTO '{into}'")))
                .execute(&mut conn)
                .await
                .context("copying the database (VACUUM INTO)")?;
            conn.close().await?;
            // Counted in the copy itself: exactly what was saved.
            let (rows, migration) = rows_at(&format!("sqlite://{}?mode=ro", target.display())).await?;
            (rows, migration, target)
        }
        _ => {
            let target = dir.join(PG_FILE);
            let mut conn = sqlx::PgConnection::connect(url).await.context("connecting to PostgreSQL")?;
            sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").execute(&mut conn).await?;
            let snapshot: String = sqlx::query("SELECT pg_export_snapshot()").fetch_one(&mut conn).await?.get(0);
            let (rows, migration) = pg_rows(&mut conn).await?;
            // pg_dump reads the same snapshot while this transaction holds it.
            let mut cmd = tokio::process::Command::new(pg_program("pg_dump"));
            cmd.args(["--format=custom", "--no-owner", "--no-privileges", "--snapshot", &snapshot, "--file"])
                .arg(&target)
                .arg(format!("--dbname={url}"));
            run_program(cmd, "pg_dump").await?;
            sqlx::query("COMMIT").execute(&mut conn).await?;
            conn.close().await?;
            (rows, migration, target)
        }
    };
    let db_entry = sha256_file(&db_file)?;
    eprintln!(
        "backup: database: {} tables, {} rows, {} in {:.1} s",
        rows.len(),
        rows.values().sum::<i64>(),
        mb(db_entry.bytes),
        started.elapsed().as_secs_f64()
    );
    let keys = read_keys(key_dir)?;
    let sealed = rouge_identity::vault::seal_with_passphrase(passphrase, &serde_json::to_vec(&keys)?, KEYS_AAD);
    std::fs::write(dir.join(KEYS_FILE), sealed)?;
    let keys_entry = sha256_file(&dir.join(KEYS_FILE))?;
    eprintln!("backup: key directory: {} files, sealed under the passphrase", keys.len());
    let manifest = Manifest {
        format: 1,
        rouge: env!("CARGO_PKG_VERSION").into(),
        taken_at,
        store: kind.into(),
        migration,
        rows,
        files: vec![db_entry, keys_entry],
    };
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&manifest)?)?;
    std::fs::rename(&tmp, dir.join(MANIFEST))?;
    eprintln!("backup: done in {:.1} s ({})", started.elapsed().as_secs_f64(), dir.join(MANIFEST).display());
    Ok(manifest)
}

/// Reads `dir`'s manifest and checks every file against its size and checksum.
///
/// # Errors
/// When the manifest is missing or unreadable, or a file is missing or differs.
pub fn check(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = std::fs::read(&path).with_context(|| format!("{} is not a backup (no {MANIFEST})", dir.display()))?;
    let manifest: Manifest = serde_json::from_slice(&text).with_context(|| format!("reading {}", path.display()))?;
    ensure!(manifest.format == 1, "backup format {} is not known to this rouge", manifest.format);
    for f in &manifest.files {
        ensure!(!f.name.contains('/') && !f.name.contains(".."), "the manifest names a file outside the backup");
        let seen = sha256_file(&dir.join(&f.name))?;
        ensure!(seen == *f, "{} differs from the manifest (damaged or altered): refusing to restore", f.name);
    }
    Ok(manifest)
}

/// What a restore found when it checked the restored store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub rows: i64,
    pub audit_entries: usize,
    pub orders: usize,
}

/// Restores the backup in `dir` into the empty store at `url` and the empty (or missing) key
/// directory `key_dir`, then verifies it: every table's row count as in the manifest, the
/// audit chain intact, and every order's projection equal to the replay of its events.
///
/// # Errors
/// Before anything is written: a damaged backup, a wrong passphrase, another kind of store,
/// a store or key directory that is not empty. After: a failed restore or verification.
pub async fn restore(dir: &Path, url: &str, key_dir: &Path, passphrase: &str) -> anyhow::Result<Verified> {
    use base64::Engine as _;
    let started = Instant::now();
    let manifest = check(dir)?;
    eprintln!(
        "restore: backup of {} taken {} (migration {}), checksums match",
        manifest.store, manifest.taken_at, manifest.migration
    );
    let kind = store_kind(url)?;
    ensure!(kind == manifest.store, "this is a {} backup; DATABASE_URL is a {kind} store", manifest.store);
    let sealed = std::fs::read(dir.join(KEYS_FILE))?;
    let keys = rouge_identity::vault::open_with_passphrase(passphrase, &sealed, KEYS_AAD)
        .map_err(|_| anyhow::anyhow!("the passphrase does not open the backup's keys"))?;
    let keys: BTreeMap<String, String> = serde_json::from_slice(&keys)?;
    if key_dir.exists() {
        let existing = std::fs::read_dir(key_dir)?.filter_map(Result::ok).filter(|e| e.path().is_file()).count();
        ensure!(existing == 0, "the key directory {} is not empty: restore into a new one", key_dir.display());
    }
    match kind {
        "sqlite" => {
            let target = sqlite_path(url)?;
            let empty = std::fs::metadata(&target).map(|m| m.len() == 0).unwrap_or(true);
            ensure!(empty, "{} exists: restore into a new file", target.display());
            if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            for stale in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{stale}", target.display()));
            }
            let tmp = target.with_extension("restoring");
            std::fs::copy(dir.join(SQLITE_FILE), &tmp)?;
            std::fs::rename(&tmp, &target)?;
        }
        _ => {
            let (rows, _) = rows_at(url).await.context("reading the target database")?;
            ensure!(rows.is_empty(), "the database has {} tables: restore into an empty database", rows.len());
            let mut cmd = tokio::process::Command::new(pg_program("pg_restore"));
            cmd.args(["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"])
                .arg(format!("--dbname={url}"))
                .arg(dir.join(PG_FILE));
            run_program(cmd, "pg_restore").await?;
        }
    }
    eprintln!("restore: database restored in {:.1} s", started.elapsed().as_secs_f64());
    std::fs::create_dir_all(key_dir)?;
    for (name, b64) in &keys {
        ensure!(!name.contains('/') && !name.contains(".."), "a key file name leaves the key directory");
        let path = key_dir.join(name);
        std::fs::write(&path, base64::engine::general_purpose::STANDARD.decode(b64)?)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    eprintln!("restore: {} key files written to {}", keys.len(), key_dir.display());
    let verified = verify(url, &manifest).await?;
    eprintln!(
        "restore: verified in {:.1} s: {} rows as in the manifest, audit trail intact ({} entries), {} orders rebuilt unchanged",
        started.elapsed().as_secs_f64(),
        verified.rows,
        verified.audit_entries,
        verified.orders
    );
    Ok(verified)
}

/// Row counts against the manifest, the audit chain, and orders replayed from their events.
async fn verify(url: &str, manifest: &Manifest) -> anyhow::Result<Verified> {
    let (rows, migration) = rows_at(url).await?;
    ensure!(
        migration == manifest.migration,
        "restored at migration {migration}, the backup was at {}",
        manifest.migration
    );
    for (table, n) in &manifest.rows {
        let seen = rows.get(table).copied();
        ensure!(seen == Some(*n), "table {table}: {n} rows backed up, {seen:?} restored");
    }
    let (audit_entries, orders) = crate::with_store(url, Consistent).await?;
    Ok(Verified { rows: rows.values().sum(), audit_entries, orders })
}

/// The audit chain verifies and no order's projection differs from its events' replay.
struct Consistent;

impl crate::StoreFn<(usize, usize)> for Consistent {
    async fn call<S: rouge_http::Store>(self, store: S) -> anyhow::Result<(usize, usize)> {
        let (entries, head) = store.audit_chain().await.map_err(|e| anyhow::anyhow!(e))?;
        let n =
            rouge_identity::audit::verify(&entries, head).map_err(|e| anyhow::anyhow!("audit trail broken: {e}"))?;
        let orders = rouge_orders::OrdersRepository::order_ids(&store).await.map_err(|e| anyhow::anyhow!(e))?.len();
        let changed = rouge_orders::service::rebuild(&store).await.map_err(|e| anyhow::anyhow!(e))?;
        ensure!(changed == 0, "{changed} orders' projections differed from their events");
        Ok((n, orders))
    }
}
