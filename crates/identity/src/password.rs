//! Passwords: a length policy, and argon2id hashing with parameters from settings.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;

thread_local! {
    /// This thread's argon2 work area, kept between hashes: allocating the work area (9 MiB by default)
    /// per password check made the system allocator keep each one (its adaptive mmap threshold), so memory
    /// grew with every log-in.
    static WORK: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs argon2 with this thread's reusable work area.
fn argon2_into(argon: &Argon2<'_>, params: &Params, pw: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    WORK.with(|w| {
        let mut w = w.borrow_mut();
        w.resize(params.block_count(), Block::default());
        argon.hash_password_into_with_memory(pw, salt, out, &mut w[..]).is_ok()
    })
}

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 256;

/// Checks the policy: 10–256 characters. Length is what protects; composition rules only
/// make people write passwords down (NIST SP 800-63B).
///
/// # Errors
/// A sentence saying what is wrong.
pub fn check_policy(pw: &str) -> Result<(), String> {
    let n = pw.chars().count();
    if n < MIN_LEN {
        return Err(format!("a password needs at least {MIN_LEN} characters"));
    }
    if n > MAX_LEN {
        return Err(format!("a password has at most {MAX_LEN} characters"));
    }
    Ok(())
}

/// argon2id cost: memory in KiB, iterations, lanes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl HashCost {
    /// One of OWASP's equivalent argon2id settings (9 MiB, 4 passes, 1 lane; the list trades
    /// memory for passes at equal strength). The lower-memory one: every hashing thread keeps
    /// its work area, and a login flood should not cost the shop its memory.
    pub const DEFAULT: HashCost = HashCost { memory_kib: 9 * 1024, iterations: 4, lanes: 1 };
    /// Cheap, for tests only.
    pub const TEST: HashCost = HashCost { memory_kib: 1024, iterations: 1, lanes: 1 };
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
}

impl PasswordHasher {
    /// # Errors
    /// When the cost is outside argon2's bounds.
    pub fn new(cost: HashCost) -> Result<Self, String> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.lanes, None).map_err(|e| e.to_string())?;
        Ok(Self { params })
    }

    /// A PHC string (`$argon2id$v=19$m=…`), salted at random.
    pub fn hash(&self, pw: &str) -> String {
        let salt: [u8; 16] = crate::vault::random_bytes();
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone());
        assert!(argon2_into(&argon, &self.params, pw.as_bytes(), &salt, &mut out), "argon2 hashes any password");
        PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).expect("valid parameters"),
            salt: Some(Salt::new(&salt).expect("16 bytes is a valid salt")),
            hash: Some(Output::new(&out).expect("32 bytes is a valid output")),
        }
        .to_string()
    }

    /// Checks `pw` against a PHC string; the hash's own parameters are used, so raising the
    /// cost in settings does not lock anyone out.
    pub fn verify(&self, pw: &str, phc: &str) -> bool {
        let Ok(h) = PasswordHash::new(phc) else { return false };
        let (Ok(params), Ok(alg)) = (Params::try_from(&h), Algorithm::try_from(h.algorithm.as_str())) else {
            return false;
        };
        let version = match h.version.map(Version::try_from) {
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
            None => Version::default(),
        };
        let (Some(salt), Some(expected)) = (h.salt, h.hash) else { return false };
        let mut out = vec![0u8; expected.as_bytes().len()];
        let argon = Argon2::new(alg, version, params.clone());
        argon2_into(&argon, &params, pw.as_bytes(), salt.as_ref(), &mut out)
            && crate::tokens::constant_eq(&out, expected.as_bytes())
    }
}

/// Threads that do nothing but hash passwords, one per core. Each argon2 hash holds its memory
/// cost (9 MiB by default) while it runs; on a fixed set of threads that memory is reused
/// (the allocator keeps one arena per thread), where a general blocking pool would spread it
/// over dozens of threads and keep it all. A login flood queues here.
pub struct HashPool {
    /// Dropping the pool drops the sender, and the threads end.
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl HashPool {
    pub fn new(threads: usize) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("rouge-hash-{i}"))
                .spawn(move || {
                    loop {
                        let Ok(job) = rx.lock().expect("hash queue").recv() else { return };
                        job();
                    }
                })
                .expect("a hashing thread");
        }
        Self { jobs: tx }
    }

    /// Runs `f` on a hashing thread and waits for it, from synchronous code.
    pub fn run_blocking<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        let job: Box<dyn FnOnce() + Send> = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.send(job).expect("hashing threads run");
        rx.recv().expect("a hashing thread answers")
    }

    /// Runs `f` on a hashing thread.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Box<dyn FnOnce() + Send> = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.send(job).expect("hashing threads run");
        rx.await.expect("a hashing thread answers")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let h = PasswordHasher::new(HashCost::TEST).unwrap();
        let a = h.hash("correct horse battery");
        assert!(a.starts_with("$argon2id$"));
        assert!(h.verify("correct horse battery", &a));
        assert!(!h.verify("correct horse batterY", &a));
        assert_ne!(a, h.hash("correct horse battery"));
        assert!(!h.verify("x", "not a hash"));
        // Standard PHC strings both ways: the argon2 crate's own verifier agrees.
        use argon2::PasswordVerifier as _;
        let standard = Argon2::default();
        assert!(standard.verify_password(b"correct horse battery", &PasswordHash::new(&a).unwrap()).is_ok());
        let theirs = argon2::PasswordHasher::hash_password(&standard, b"their password").unwrap().to_string();
        assert!(h.verify("their password", &theirs));
        let stronger = PasswordHasher::new(HashCost { memory_kib: 2048, ..HashCost::TEST }).unwrap();
        assert!(stronger.verify("correct horse battery", &a), "old hashes keep their parameters");
    }

    #[test]
    fn policy_is_about_length() {
        assert!(check_policy("short").is_err());
        assert!(check_policy("ten chars!").is_ok());
        assert!(check_policy(&"x".repeat(257)).is_err());
    }
}
