//! Passwords: a length policy, and argon2id hashing with parameters from settings.

use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};

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
    /// OWASP's first recommended argon2id setting (19 MiB, 2 passes, 1 lane).
    pub const DEFAULT: HashCost = HashCost { memory_kib: 19 * 1024, iterations: 2, lanes: 1 };
    /// Cheap, for tests only.
    pub const TEST: HashCost = HashCost { memory_kib: 1024, iterations: 1, lanes: 1 };
}

#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
}

impl PasswordHasher {
    /// # Errors
    /// When the cost is outside argon2's bounds.
    pub fn new(cost: HashCost) -> Result<Self, String> {
        let params = Params::new(cost.memory_kib, cost.iterations, cost.lanes, None).map_err(|e| e.to_string())?;
        Ok(Self { argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params) })
    }

    /// A PHC string (`$argon2id$v=19$m=…`), salted at random.
    pub fn hash(&self, pw: &str) -> String {
        self.argon.hash_password(pw.as_bytes()).expect("argon2 hashes any policy-checked password").to_string()
    }

    /// Checks `pw` against a PHC string; the hash's own parameters are used, so raising the
    /// cost in settings does not lock anyone out.
    pub fn verify(&self, pw: &str, phc: &str) -> bool {
        self.argon.verify_password(pw.as_bytes(), phc).is_ok()
    }
}

/// Threads that do nothing but hash passwords, one per core. Each argon2 hash holds its memory
/// cost (19 MiB by default) while it runs; on a fixed set of threads that memory is reused
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
