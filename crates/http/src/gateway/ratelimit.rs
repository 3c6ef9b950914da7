//! Per-client rate limits by GCRA (the generic cell rate algorithm): each client has a
//! "theoretical arrival time"; a request is let through while that time is no further ahead of
//! now than the burst allows. In-process by default; in Redis (one atomic script, Redis's own
//! clock) when `REDIS_URL` is set, so that every replica spends one shared budget.

use crate::error::ApiError;
use crate::gateway::Gateway;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::response::Response;
use rouge_identity::AccessClaims;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// A budget: `per_minute` requests on average, at most `burst` at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub per_minute: u32,
    pub burst: u32,
}

impl Quota {
    /// Parses `RATE/min` or `RATE/s`, optionally `,burst=N` (default: a tenth of a minute's rate, at least 1).
    ///
    /// # Errors
    /// A message saying what the accepted form is.
    pub fn parse(s: &str) -> Result<Quota, String> {
        let err =
            || format!("`{s}`: expected RATE/min or RATE/s, optionally followed by ,burst=N (e.g. 600/min,burst=60)");
        let (rate, burst) = match s.split_once(',') {
            Some((r, b)) => {
                (r, Some(b.trim().strip_prefix("burst=").ok_or_else(err)?.parse::<u32>().map_err(|_| err())?))
            }
            None => (s, None),
        };
        let (n, unit) = rate.trim().split_once('/').ok_or_else(err)?;
        let n: u32 = n.trim().parse().map_err(|_| err())?;
        let per_minute = match unit.trim() {
            "min" | "m" => n,
            "s" | "sec" => n.checked_mul(60).ok_or_else(err)?,
            _ => return Err(err()),
        };
        if per_minute == 0 || burst == Some(0) {
            return Err(err());
        }
        Ok(Quota { per_minute, burst: burst.unwrap_or((per_minute / 10).max(1)) })
    }

    /// Microseconds between two requests at the average rate.
    fn emission_us(&self) -> i64 {
        60_000_000 / i64::from(self.per_minute)
    }

    /// How far ahead of now the arrival time may run: the burst, less the request itself.
    fn tolerance_us(&self) -> i64 {
        self.emission_us() * (i64::from(self.burst) - 1)
    }
}

/// The outcome for one request, with what the RateLimit headers report.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub remaining: u32,
    /// Until the whole burst is available again.
    pub reset: Duration,
    /// When denied: until one more request would be let through.
    pub retry_after: Duration,
}

impl Decision {
    /// From GCRA state: `ahead` is how far the arrival time runs ahead of now after the
    /// request (allowed) or before it (denied); `wait` is the wait when denied.
    fn from_gcra(q: Quota, allowed: bool, ahead_us: i64, wait_us: i64) -> Self {
        let e = q.emission_us();
        // Whole requests still fitting under the tolerance; never negative while allowed.
        let remaining = if allowed { ((q.tolerance_us() + e - ahead_us) / e).clamp(0, i64::from(q.burst)) } else { 0 };
        Decision {
            allowed,
            remaining: remaining as u32,
            reset: Duration::from_micros(ahead_us.max(0) as u64),
            retry_after: Duration::from_micros(wait_us.max(0) as u64),
        }
    }
}

/// The back end, chosen by configuration.
#[derive(Clone)]
pub enum RateLimiter {
    Local(Arc<Local>),
    Redis(Arc<RedisLimiter>),
}

pub struct Local {
    /// Theoretical arrival time per client (microseconds since `epoch`), by a hash of the
    /// client's key, in shards: a known client costs a shared read lock and one atomic update.
    /// An arrival time in the past carries no state (the budget is full), so such entries are
    /// swept when a shard grows: memory follows the clients active in the last minutes.
    shards: Box<[RwLock<HashMap<u64, AtomicI64>>]>,
    epoch: Instant,
}

const SHARDS: usize = 64;
const SWEEP_AT: usize = 4096;

impl Local {
    fn new() -> Self {
        Local { shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(), epoch: Instant::now() }
    }

    fn now(&self) -> i64 {
        self.epoch.elapsed().as_micros() as i64
    }

    fn spend(&self, hash: u64, q: Quota) -> Decision {
        let shard = &self.shards[(hash as usize) % SHARDS];
        {
            let map = shard.read().expect("rate shard");
            if let Some(cell) = map.get(&hash) {
                return gcra(cell, || self.now(), q);
            }
        }
        let now = self.now();
        let mut map = shard.write().expect("rate shard");
        if map.len() >= SWEEP_AT && !map.contains_key(&hash) {
            map.retain(|_, tat| tat.load(Ordering::Relaxed) > now);
        }
        let cell = map.entry(hash).or_insert_with(|| AtomicI64::new(now));
        gcra(cell, || self.now(), q)
    }
}

/// One GCRA step on a client's arrival time, lock-free. The clock is read again before a
/// refusal: a request paused between reading it and updating the arrival time (the thread was
/// descheduled while others of the same client went through) would otherwise see the others'
/// progress against a stale now and be refused within its budget.
fn gcra(cell: &AtomicI64, clock: impl Fn() -> i64, q: Quota) -> Decision {
    let mut now = clock();
    let mut tat = cell.load(Ordering::Acquire);
    loop {
        let start = tat.max(now);
        if start - now > q.tolerance_us() {
            let fresh = clock();
            if fresh > now {
                now = fresh;
                tat = cell.load(Ordering::Acquire);
                continue;
            }
            return Decision::from_gcra(q, false, start - now, start - q.tolerance_us() - now);
        }
        let next = start + q.emission_us();
        match cell.compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Decision::from_gcra(q, true, next - now, 0),
            Err(seen) => tat = seen,
        }
    }
}

/// Budgets in Redis, shared by every replica, through a [`RedisLink`] (a short deadline, a
/// breaker); while Redis does not answer, the in-process budgets decide at once.
pub struct RedisLimiter {
    link: Arc<crate::redis_link::RedisLink>,
    prefix: String,
    script: redis::Script,
    /// The budgets used while Redis does not answer.
    fallback: Local,
}

/// The longest a request waits for Redis before its in-process budget decides.
pub const REDIS_DEADLINE: Duration = Duration::from_millis(30);

impl RedisLimiter {
    async fn spend(self: &Arc<Self>, key: &ClientKey, q: Quota) -> Decision {
        let rkey = format!("{}:rl:{key}", self.prefix);
        let mut invocation = self.script.key(rkey);
        invocation.arg(q.emission_us()).arg(q.tolerance_us());
        let answer = self
            .link
            .run(REDIS_DEADLINE, |mut conn| async move { invocation.invoke_async::<(i64, i64, i64)>(&mut conn).await })
            .await;
        match answer {
            Some((allowed, ahead, wait)) => Decision::from_gcra(q, allowed == 1, ahead, wait),
            None => self.fallback.spend(std::hash::BuildHasher::hash_one(key_hasher(), key), q),
        }
    }
}

const GCRA_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local e = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if (not tat) or tat < now then tat = now end
if tat - now > tau then
  return {0, tat - now, tat - tau - now}
end
local new = tat + e
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.floor((new - now) / 1000) + 1000)
return {1, new - now, 0}
";

impl RateLimiter {
    pub fn local() -> Self {
        RateLimiter::Local(Arc::new(Local::new()))
    }

    /// A limiter sharing its budgets through Redis under `prefix`. It does not wait for Redis:
    /// the connection is made in the background (in-process budgets answer meanwhile).
    ///
    /// # Errors
    /// When the URL is malformed.
    pub fn redis(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let link = crate::redis_link::RedisLink::new(url, "shared rate limits", "in-process budgets")?;
        let limiter = RedisLimiter {
            link,
            prefix: prefix.to_owned(),
            script: redis::Script::new(GCRA_LUA),
            fallback: Local::new(),
        };
        Ok(RateLimiter::Redis(Arc::new(limiter)))
    }

    /// Spends one request of `key`'s budget without waiting, when the back end can (the
    /// in-process one, and Redis's fallback while Redis is known down); `None` when Redis must
    /// be asked ([`RateLimiter::check`]).
    pub fn check_now(&self, key: &ClientKey, q: Quota) -> Option<Decision> {
        match self {
            RateLimiter::Local(l) => Some(l.spend(std::hash::BuildHasher::hash_one(key_hasher(), key), q)),
            RateLimiter::Redis(r) if r.link.is_open() => {
                Some(r.fallback.spend(std::hash::BuildHasher::hash_one(key_hasher(), key), q))
            }
            RateLimiter::Redis(_) => None,
        }
    }

    /// Spends one request of `key`'s budget.
    pub async fn check(&self, key: &ClientKey, q: Quota) -> Decision {
        match self {
            RateLimiter::Local(_) => self.check_now(key, q).expect("the in-process limiter answers at once"),
            RateLimiter::Redis(r) => r.spend(key, q).await,
        }
    }
}

/// One fixed-key hasher for the process: client keys are hashed to 64 bits (SipHash keyed
/// at start, so clients cannot aim for collisions).
fn key_hasher() -> &'static std::collections::hash_map::RandomState {
    static STATE: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    STATE.get_or_init(std::collections::hash_map::RandomState::new)
}

/// Who is calling: the customer or staff member a valid token names, otherwise the peer
/// address. A credential that does not check out names nobody: made-up tokens must not buy
/// fresh budgets.
pub(crate) fn client_key(
    gw: &Gateway,
    class: &'static str,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> (ClientKey, Option<AccessClaims>) {
    let claims = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .zip(gw.identify.as_ref())
        .and_then(|(token, identify)| identify(token.trim()));
    let who = match (&claims, peer) {
        (Some(c), _) => Who::Subject(c.sub.to_string()),
        (None, Some(p)) => Who::Addr(p.ip()),
        (None, None) => Who::Unknown,
    };
    (ClientKey { class, who }, claims)
}

/// A budget's owner: a class of routes and a client. Hashed as it is for the in-process
/// limiter (no string is built per request); written out only for Redis.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub class: &'static str,
    pub who: Who,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    Subject(String),
    Addr(std::net::IpAddr),
    Unknown,
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.who {
            Who::Subject(s) => write!(f, "{}:who:{s}", self.class),
            Who::Addr(ip) => write!(f, "{}:addr:{ip}", self.class),
            Who::Unknown => write!(f, "{}:addr:unknown", self.class),
        }
    }
}

/// A small number as a header value without allocating: values up to 4095 are rendered once.
fn number(n: u64) -> HeaderValue {
    static SMALL: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    let table = SMALL.get_or_init(|| {
        (0..4096u64).map(|i| HeaderValue::from_static(Box::leak(i.to_string().into_boxed_str()))).collect()
    });
    table.get(n as usize).cloned().unwrap_or_else(|| HeaderValue::from(n))
}

/// The budget a request spends from: its quota, class and client key; `None` when it is not
/// limited (probes, no quota for its class, or no limiter).
/// The token's verified claims come back too, so the route need not verify it again.
pub fn budget(gw: &Gateway, req: &Request) -> Option<(Quota, &'static str, ClientKey, Option<AccessClaims>)> {
    let path = req.uri().path();
    // Probes; and calls between Rouge's services, which answer only a service token (a
    // checkout's reservation must not spend the orders pod's budget as if it were one shopper).
    if matches!(path, "/healthz" | "/readyz" | "/metrics") || path.starts_with("/internal/") {
        return None;
    }
    let (class, quota) = match *req.method() {
        Method::GET | Method::HEAD | Method::OPTIONS => ("read", gw.settings.read),
        _ if path.starts_with("/v1/auth/") || path == "/v1/admin/auth/login" => ("auth", gw.settings.auth),
        _ => ("write", gw.settings.write),
    };
    let quota = quota?;
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let (key, claims) = client_key(gw, class, req.headers(), peer);
    Some((quota, class, key, claims))
}

/// The 429 answer.
pub fn refuse(class: &str, d: &Decision, path: &str) -> Response {
    let secs = d.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut r = ApiError::TooManyRequests(format!("the {class} budget of this client is spent; retry in {secs} s"))
        .into_response_at(path);
    r.headers_mut().insert(header::RETRY_AFTER, number(secs));
    r
}

/// The RateLimit headers of an answer.
pub fn headers(gw: &Gateway, h: &mut HeaderMap, q: Quota, d: &Decision) {
    // Names made once, not parsed from strings on every answer.
    const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
    const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
    const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
    const POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
    h.insert(LIMIT, number(u64::from(q.burst)));
    h.insert(REMAINING, number(u64::from(d.remaining)));
    h.insert(RESET, number(d.reset.as_secs_f64().ceil() as u64));
    if let Some(p) = gw.policy(q) {
        h.insert(POLICY, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quotas() {
        assert_eq!(Quota::parse("600/min").unwrap(), Quota { per_minute: 600, burst: 60 });
        assert_eq!(Quota::parse("10/s,burst=5").unwrap(), Quota { per_minute: 600, burst: 5 });
        assert_eq!(Quota::parse("3/min").unwrap(), Quota { per_minute: 3, burst: 1 });
        for bad in ["", "10", "10/h", "0/min", "x/min", "10/min,burst=0", "10/min,b=3"] {
            assert!(Quota::parse(bad).is_err(), "{bad}");
        }
    }

    fn key(who: &str) -> ClientKey {
        ClientKey { class: "read", who: Who::Subject(who.into()) }
    }

    #[test]
    fn a_request_read_its_clock_before_a_pause_is_not_refused_within_its_budget() {
        // 1,000 a second, a burst of 4 (tolerance 3 ms). Others of the same client moved the
        // arrival time to 5 ms while this request, which read the clock at 0, was paused; by
        // the time it updates, the clock says 4.99 ms: one request ahead, within the burst.
        let q = Quota { per_minute: 60_000, burst: 4 };
        let cell = AtomicI64::new(5_000);
        let readings = std::cell::Cell::new(0);
        let clock = || {
            readings.set(readings.get() + 1);
            if readings.get() == 1 { 0 } else { 4_990 }
        };
        assert!(gcra(&cell, clock, q).allowed);
        // A client truly over its budget is still refused on a fresh reading.
        let cell = AtomicI64::new(5_000);
        let d = gcra(&cell, || 1_000, q);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_micros(1_000));
    }

    #[tokio::test]
    async fn local_gcra_allows_the_burst_then_refuses_until_the_rate_refills() {
        let limiter = RateLimiter::local();
        let q = Quota { per_minute: 60, burst: 3 };
        let seen: Vec<(bool, u32)> = {
            let mut v = vec![];
            for _ in 0..4 {
                let d = limiter.check(&key("client"), q).await;
                v.push((d.allowed, d.remaining));
            }
            v
        };
        assert_eq!(seen, [(true, 2), (true, 1), (true, 0), (false, 0)]);
        let denied = limiter.check(&key("client"), q).await;
        assert!(denied.retry_after > Duration::from_millis(900) && denied.retry_after <= Duration::from_secs(1));
        assert!(limiter.check(&key("someone-else"), q).await.allowed, "budgets are per client");
        let other_class = ClientKey { class: "write", who: Who::Subject("client".into()) };
        assert!(limiter.check(&other_class, q).await.allowed, "and per class");
    }
}
