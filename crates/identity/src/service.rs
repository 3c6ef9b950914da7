//! Identity's use cases: register, verify, log in, refresh, log out, reset a password, read
//! and change the profile, export and erase.

use crate::email::Email;
use crate::model::{Address, BeautyProfile, Contact, CustomerRecord, LinkPurpose, RefreshRecord, RefreshUse};
use crate::password::{PasswordHasher, check_policy};
use crate::ports::IdentityRepository;
use crate::tokens::{Subject, TokenKeys, hash_secret, new_secret};
use crate::vault::{DataKey, Vault, VaultError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rouge_catalog::RepoError;
use rouge_kernel::{DomainEvent, FieldError, Validation};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use tracing::instrument;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IdentityError {
    #[error("the input is invalid")]
    Invalid(Vec<FieldError>),
    /// The same answer for an unknown email and a wrong password.
    #[error("the email or the password is wrong")]
    BadCredentials,
    #[error("too many failed log-ins; try again in {0} s")]
    Locked(i64),
    #[error("the link is unknown, used or expired")]
    BadLink,
    #[error("the refresh token is not valid; log in again")]
    BadRefresh,
    #[error("the account no longer exists")]
    Gone,
    /// The password was right, but the address was never verified: a fresh link was mailed.
    #[error("verify your email address first: we have sent you a new link")]
    Unverified,
    /// The caller may use the route but not do this (e.g. change an owner without being one).
    #[error("{0}")]
    Forbidden(String),
    #[error("the profile changed since you read it; fetch it again")]
    Stale,
    #[error("the store failed: {0}")]
    Store(String),
    #[error("personal data could not be opened: {0}")]
    Vault(#[from] VaultError),
}

impl From<RepoError> for IdentityError {
    fn from(e: RepoError) -> Self {
        match e {
            RepoError::Stale => IdentityError::Stale,
            other => IdentityError::Store(other.to_string()),
        }
    }
}

type Result<T> = std::result::Result<T, IdentityError>;

/// How failed log-ins slow down and then lock an account or an address.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    /// Failures counted within this window.
    pub window_secs: i64,
    /// Failures of one account before each further try must wait (2 s, 4 s, …).
    pub free_failures: i64,
    /// Failures of one account that lock it for `lock_secs`.
    pub account_lock_after: i64,
    /// Failures from one address that lock it for `lock_secs`.
    pub address_lock_after: i64,
    pub lock_secs: i64,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self { window_secs: 900, free_failures: 3, account_lock_after: 6, address_lock_after: 30, lock_secs: 900 }
    }
}

#[derive(Debug, Clone)]
pub struct IdentitySettings {
    pub refresh_ttl_secs: i64,
    pub link_ttl_secs: i64,
    pub lockout: LockoutPolicy,
}

impl Default for IdentitySettings {
    fn default() -> Self {
        Self { refresh_ttl_secs: 30 * 86_400, link_ttl_secs: 86_400, lockout: LockoutPolicy::default() }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterInput {
    #[schema(value_type = String, example = "ana@example.com")]
    pub email: String,
    /// 10–256 characters.
    pub password: String,
    pub name: Option<String>,
}

/// What a log-in or a refresh hands out.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Session {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds the access token is valid.
    pub expires_in: i64,
    /// Spend it once at `/v1/auth/refresh`; each use hands out a new one.
    pub refresh_token: String,
}

/// The customer as she sees herself.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub email_verified: bool,
    pub beauty_profile: BeautyProfile,
    pub phone: Option<String>,
    pub addresses: Vec<Address>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub version: i64,
}

/// A change to the customer's own data (a JSON merge patch of these fields).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeUpdate {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    pub beauty_profile: Option<BeautyProfile>,
    /// E.164, e.g. `+33 6 12 34 56 78`; null removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// The whole address book (at most 10), replacing the stored one.
    pub addresses: Option<Vec<Address>>,
}

fn double_option<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A customer's account was made (`CustomerRegistered`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerRegistered {
    pub customer_id: Uuid,
    /// Made from an external identity provider's token (the provider verified the address).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

/// Which customer (`EmailVerified`, `CustomerErased`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerRef {
    pub customer_id: Uuid,
}

/// A customer changed her details (`CustomerUpdated`); what changed stays sealed in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerUpdated {
    pub customer_id: Uuid,
    pub version: i64,
}

/// An unverified account was reset and handed to the verified owner of its address
/// (`CustomerReclaimed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CustomerReclaimed {
    pub customer_id: Uuid,
    pub reason: String,
}

/// A customer event in its envelope.
fn customer_event<P: Serialize>(id: Uuid, kind: &str, payload: &P) -> DomainEvent {
    DomainEvent::new(AGGREGATE, id, kind, serde_json::to_value(payload).expect("serialises"))
}

/// An email to send, as the outbox carries it (`EmailRequested`): the link is sealed under the
/// customer's key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailRequested {
    pub customer_id: Uuid,
    pub template: EmailTemplate,
    /// Base64 of the sealed link token, if the email carries one.
    pub sealed_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailTemplate {
    VerifyEmail,
    AlreadyRegistered,
    ResetPassword,
    PasswordChanged,
}

/// A rendered email, ready for a mailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub const AGGREGATE: &str = "customer";

/// The vault and the token keys in use, replaced together.
#[derive(Clone)]
pub struct Keys {
    pub vault: Arc<Vault>,
    pub tokens: Arc<TokenKeys>,
}

#[derive(Clone)]
pub struct IdentityService<R> {
    repo: R,
    /// Swapped whole when the key directory changes (rotation without a restart).
    keys: Arc<RwLock<Keys>>,
    hasher: PasswordHasher,
    settings: IdentitySettings,
    /// Verified against when the email is unknown, so both cases cost the same time.
    dummy_hash: Arc<str>,
    /// Where passwords are hashed and checked: one thread per core.
    hashing: Arc<crate::password::HashPool>,
    /// What the store said of sessions lately: a live one is asked again after a second (so
    /// an ended session stops working within a second on every replica), an ended one never.
    live_sessions: moka::sync::Cache<Uuid, ()>,
    ended_sessions: moka::sync::Cache<Uuid, ()>,
}

/// How long a session the store called live is taken as live without asking again.
pub const SESSION_CHECK_SECS: u64 = 1;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn seal_token(key: &DataKey, owner: Uuid, token: &str) -> String {
    STANDARD.encode(key.seal_str(&owner.to_string(), token))
}

impl<R: IdentityRepository> IdentityService<R> {
    pub fn new(
        repo: R,
        vault: Arc<Vault>,
        hasher: PasswordHasher,
        tokens: Arc<TokenKeys>,
        settings: IdentitySettings,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let pool = crate::password::HashPool::new(cores);
        // On a hashing thread: the work area it needs stays there, not on the caller's.
        let h = hasher.clone();
        let dummy_hash = pool.run_blocking(move || h.hash("a password nobody has, for timing")).into();
        Self {
            repo,
            keys: Arc::new(RwLock::new(Keys { vault, tokens })),
            hasher,
            settings,
            dummy_hash,
            hashing: Arc::new(pool),
            live_sessions: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(SESSION_CHECK_SECS))
                .build(),
            // Ended sessions stay ended; their tokens expire within a day at most.
            ended_sessions: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(std::time::Duration::from_secs(86_400))
                .build(),
        }
    }

    pub fn tokens(&self) -> Arc<TokenKeys> {
        self.keys.read().expect("keys lock").tokens.clone()
    }

    pub fn vault(&self) -> Arc<Vault> {
        self.keys.read().expect("keys lock").vault.clone()
    }

    /// Puts new keys in use (every clone of this service sees them).
    pub fn replace_keys(&self, keys: Keys) {
        *self.keys.write().expect("keys lock") = keys;
    }

    fn email_index(&self, email: &Email) -> String {
        self.vault().blind_index("email", email.as_str())
    }

    pub(crate) async fn hash(&self, pw: String) -> String {
        let h = self.hasher.clone();
        self.hashing.run(move || h.hash(&pw)).await
    }

    async fn verify(&self, pw: String, phc: String) -> bool {
        let h = self.hasher.clone();
        self.hashing.run(move || h.verify(&pw, &phc)).await
    }

    fn email_event(&self, key: &DataKey, id: Uuid, template: EmailTemplate, token: Option<&str>) -> DomainEvent {
        let payload = EmailRequested { customer_id: id, template, sealed_token: token.map(|t| seal_token(key, id, t)) };
        customer_event(id, "EmailRequested", &payload)
    }

    /// Registers a customer and mails her a verification link. The answer is the same whether
    /// or not the email is taken (the owner of a taken address is told by email instead), so
    /// registration cannot be used to find out who shops here.
    #[instrument(skip_all)]
    pub async fn register(&self, input: RegisterInput) -> Result<()> {
        let mut v = Validation::new();
        let email = v.check("email", "invalid", Email::parse(&input.email));
        v.check("password", "weak", check_policy(&input.password));
        let name = input.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned);
        if name.as_ref().is_some_and(|n| n.chars().count() > 200 || n.chars().any(char::is_control)) {
            v.push("name", "invalid", "a name is at most 200 printable characters");
        }
        let email = v.finish(|| email.expect("checked")).map_err(IdentityError::Invalid)?;
        let index = self.email_index(&email);
        let hash = self.hash(input.password).await;
        if let Some(existing) = self.repo.customer_by_email_index(&index).await? {
            self.mail_existing(&existing).await?;
            return Ok(());
        }
        let (record, key) = self.new_customer(&email, index, name, Some(hash));
        let (id, t) = (record.id, record.created_at);
        let (link, link_hash) = new_secret();
        let registered =
            customer_event(id, "CustomerRegistered", &CustomerRegistered { customer_id: id, external: false });
        match self.repo.insert_customer(&record, &[registered]).await {
            Ok(()) => {}
            // Two registrations raced for one address: the other one won.
            Err(RepoError::Duplicate { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let mail = self.email_event(&key, id, EmailTemplate::VerifyEmail, Some(&link));
        self.repo
            .insert_link(&link_hash, id, LinkPurpose::VerifyEmail, t + self.settings.link_ttl_secs, &[mail])
            .await?;
        tracing::info!(customer = %id, "customer registered");
        Ok(())
    }

    /// Mails a new verification link.
    async fn send_verification(&self, c: &CustomerRecord) -> Result<()> {
        let key = self.data_key(c)?;
        let (link, link_hash) = new_secret();
        let mail = self.email_event(&key, c.id, EmailTemplate::VerifyEmail, Some(&link));
        let until = now() + self.settings.link_ttl_secs;
        Ok(self.repo.insert_link(&link_hash, c.id, LinkPurpose::VerifyEmail, until, &[mail]).await?)
    }

    /// A new customer record (version 1) with her personal fields sealed under a new data key.
    fn new_customer(
        &self,
        email: &Email,
        index: String,
        name: Option<String>,
        password_hash: Option<String>,
    ) -> (CustomerRecord, DataKey) {
        let id = Uuid::now_v7();
        let owner = id.to_string();
        let (key, wrapped) = self.vault().new_data_key(&owner);
        let t = now();
        let record = CustomerRecord {
            id,
            email_index: Some(index),
            key: Some(wrapped),
            email: Some(key.seal_str(&owner, email.as_str())),
            name: name.map(|n| key.seal_str(&owner, &n)),
            profile: None,
            contact: None,
            password_hash,
            email_verified_at: None,
            created_at: t,
            updated_at: t,
            erased_at: None,
            version: 1,
        };
        (record, key)
    }

    async fn mail_existing(&self, c: &CustomerRecord) -> Result<()> {
        let key = self.data_key(c)?;
        let ev = self.email_event(&key, c.id, EmailTemplate::AlreadyRegistered, None);
        Ok(self.repo.append_events(&[ev]).await?)
    }

    fn data_key(&self, c: &CustomerRecord) -> Result<DataKey> {
        let w = c.key.as_ref().ok_or(IdentityError::Gone)?;
        Ok(self.vault().unwrap_key(&c.id.to_string(), w)?)
    }

    /// The customer an external identity provider vouches for by a verified email, created
    /// on first use (without a password: she logs in through the provider).
    ///
    /// # Errors
    /// `Invalid` for a malformed email; `Store` when the store fails.
    #[instrument(skip_all)]
    pub async fn external_customer(&self, email: &str) -> Result<Uuid> {
        let email = Email::parse(email).map_err(|e| invalid("email", "invalid", e.to_string()))?;
        let index = self.email_index(&email);
        if let Some(c) = self.repo.customer_by_email_index(&index).await?.filter(|c| c.erased_at.is_none()) {
            if c.email_verified_at.is_none() {
                return self.reclaim(c).await;
            }
            return Ok(c.id);
        }
        let (mut record, _) = self.new_customer(&email, index.clone(), None, None);
        // The provider verified the address.
        record.email_verified_at = Some(record.created_at);
        let id = record.id;
        let ev = customer_event(id, "CustomerRegistered", &CustomerRegistered { customer_id: id, external: true });
        match self.repo.insert_customer(&record, &[ev]).await {
            Ok(()) => {
                tracing::info!(customer = %id, "customer created from an external identity");
                Ok(id)
            }
            // Her first two requests raced: the other one created her.
            Err(RepoError::Duplicate { .. }) => {
                self.repo.customer_by_email_index(&index).await?.map(|c| c.id).ok_or(IdentityError::Gone)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The provider proved the address of an account that never did: whoever registered it
    /// (perhaps not her) loses it. The password is dropped, every session ends and anything
    /// filled in is cleared; the address is marked verified and the account is hers.
    async fn reclaim(&self, mut c: CustomerRecord) -> Result<Uuid> {
        let t = now();
        let id = c.id;
        c.password_hash = None;
        c.name = None;
        c.profile = None;
        c.contact = None;
        c.email_verified_at = Some(t);
        c.version += 1;
        c.updated_at = t;
        let reason = "unverified account claimed by a verified external identity".to_owned();
        let ev = customer_event(id, "CustomerReclaimed", &CustomerReclaimed { customer_id: id, reason });
        match self.repo.update_customer(&c, &[ev]).await {
            Ok(()) => {}
            // Her two first requests raced: the other one reclaimed it.
            Err(RepoError::Stale) => return Ok(id),
            Err(e) => return Err(e.into()),
        }
        self.repo.revoke_customer(id, t).await?;
        tracing::warn!(customer = %id, "unverified account reset and handed to its verified external identity");
        Ok(id)
    }

    /// Spends a verification link.
    #[instrument(skip_all)]
    pub async fn verify_email(&self, token: &str) -> Result<()> {
        let id = self
            .repo
            .take_link(&hash_secret(token), LinkPurpose::VerifyEmail, now())
            .await?
            .ok_or(IdentityError::BadLink)?;
        let mut c = self.live(id).await?;
        if c.email_verified_at.is_none() {
            c.email_verified_at = Some(now());
            c.version += 1;
            c.updated_at = now();
            let ev = customer_event(id, "EmailVerified", &CustomerRef { customer_id: id });
            self.repo.update_customer(&c, &[ev]).await?;
        }
        Ok(())
    }

    async fn live(&self, id: Uuid) -> Result<CustomerRecord> {
        match self.repo.customer(id).await? {
            Some(c) if c.erased_at.is_none() => Ok(c),
            _ => Err(IdentityError::Gone),
        }
    }

    async fn check_lock(&self, key: &str, t: i64) -> Result<()> {
        match self.repo.locked_until(key).await? {
            Some(until) if until > t => Err(IdentityError::Locked(until - t)),
            _ => Ok(()),
        }
    }

    /// Logs in with email and password from `address`; both the account and the address are
    /// throttled after repeated failures, and an unknown email fails exactly like a wrong password.
    #[instrument(skip_all)]
    pub async fn login(&self, email: &str, password: &str, address: &str) -> Result<Session> {
        // An unparseable email is still a failed log-in of "that account": no different answer.
        let index = Email::parse(email)
            .map(|e| self.email_index(&e))
            .unwrap_or_else(|_| self.vault().blind_index("email", email));
        let found = self.repo.customer_by_email_index(&index).await?.filter(|c| c.erased_at.is_none());
        let phc = found.as_ref().and_then(|c| c.password_hash.clone());
        self.check_password(&format!("acct:{index}"), address, password, phc).await?;
        let c = found.ok_or(IdentityError::BadCredentials)?;
        // Anyone can register any address: until its owner follows the link, the account is
        // nobody's, and opening it would let a squatter sit in wait for her (pre-hijacking).
        if c.email_verified_at.is_none() {
            self.send_verification(&c).await?;
            tracing::info!(customer = %c.id, "log-in refused: email not verified; a new link was sent");
            return Err(IdentityError::Unverified);
        }
        tracing::info!(customer = %c.id, "customer logged in");
        self.open_session(c.id, Uuid::now_v7(), now()).await
    }

    /// Checks a password against `phc` (`None`: no such account, checked against a dummy
    /// hash so both cost the same), under the lockout of `account_key` and of `address`.
    pub(crate) async fn check_password(
        &self,
        account_key: &str,
        address: &str,
        password: &str,
        phc: Option<String>,
    ) -> Result<()> {
        let t = now();
        let address_key = format!("addr:{}", self.vault().blind_index("address", address));
        self.check_lock(account_key, t).await?;
        self.check_lock(&address_key, t).await?;
        let known = phc.is_some();
        let ok = self.verify(password.to_owned(), phc.unwrap_or_else(|| self.dummy_hash.to_string())).await && known;
        if !ok {
            self.fail(account_key, &address_key, t).await?;
            return Err(IdentityError::BadCredentials);
        }
        self.repo.clear_failures(account_key).await?;
        Ok(())
    }

    pub(crate) fn repo(&self) -> &R {
        &self.repo
    }

    async fn fail(&self, account_key: &str, address_key: &str, t: i64) -> Result<()> {
        let p = self.settings.lockout;
        let window_start = t - p.window_secs;
        let n = self.repo.record_failure(account_key, t, window_start).await?;
        if n >= p.account_lock_after {
            self.repo.lock(account_key, t + p.lock_secs).await?;
            tracing::warn!(failures = n, "account locked after failed log-ins");
        } else if n > p.free_failures {
            self.repo.lock(account_key, t + (1 << (n - p.free_failures).min(10))).await?;
        }
        let m = self.repo.record_failure(address_key, t, window_start).await?;
        if m >= p.address_lock_after {
            self.repo.lock(address_key, t + p.lock_secs).await?;
            tracing::warn!(failures = m, "address locked after failed log-ins");
        }
        Ok(())
    }

    async fn open_session(&self, customer: Uuid, family: Uuid, t: i64) -> Result<Session> {
        let (refresh, hash) = new_secret();
        let rec = RefreshRecord {
            hash,
            family,
            customer_id: customer,
            issued_at: t,
            expires_at: t + self.settings.refresh_ttl_secs,
        };
        self.repo.insert_refresh(&rec).await?;
        let tokens = self.tokens();
        let (access, _) = tokens.issue_in(customer, Subject::Customer, Some(family), t, tokens.access_ttl_secs);
        Ok(Session {
            access_token: access,
            token_type: "Bearer",
            expires_in: self.tokens().access_ttl_secs,
            refresh_token: refresh,
        })
    }

    /// The customer a verified access token speaks for, if its session is still live: a
    /// token of an ended session (logged out, refresh token reused, password reset, account
    /// erased) stops working within [`SESSION_CHECK_SECS`], on every replica, because the
    /// answer comes from the store.
    ///
    /// # Errors
    /// `BadCredentials` for a token of no live session (or of no session at all); `Store`.
    pub async fn customer_session(&self, claims: &crate::tokens::AccessClaims) -> Result<Uuid> {
        let sid = claims.sid.ok_or(IdentityError::BadCredentials)?;
        if self.live_sessions.contains_key(&sid) {
            return Ok(claims.sub);
        }
        if self.ended_sessions.contains_key(&sid) {
            return Err(IdentityError::BadCredentials);
        }
        if self.repo.session_live(claims.sub, sid).await? {
            self.live_sessions.insert(sid, ());
            Ok(claims.sub)
        } else {
            self.ended_sessions.insert(sid, ());
            Err(IdentityError::BadCredentials)
        }
    }

    /// Trades a refresh token for a new pair. A token used twice revokes its whole family:
    /// one of the two holders is a thief, and both must log in again.
    #[instrument(skip_all)]
    pub async fn refresh(&self, token: &str) -> Result<Session> {
        let t = now();
        match self.repo.use_refresh(&hash_secret(token), t).await? {
            RefreshUse::Fresh(r) if r.expires_at > t => {
                self.live(r.customer_id).await.map_err(|_| IdentityError::BadRefresh)?;
                self.open_session(r.customer_id, r.family, t).await
            }
            RefreshUse::Reused(r) => {
                self.repo.revoke_family(r.family, t).await?;
                tracing::warn!(customer = %r.customer_id, family = %r.family, "refresh token reused; family revoked");
                Err(IdentityError::BadRefresh)
            }
            _ => Err(IdentityError::BadRefresh),
        }
    }

    /// Ends the session the refresh token belongs to. Unknown tokens are fine: logging out
    /// twice is not an error.
    #[instrument(skip_all)]
    pub async fn logout(&self, token: &str) -> Result<()> {
        let t = now();
        if let RefreshUse::Fresh(r) | RefreshUse::Reused(r) = self.repo.use_refresh(&hash_secret(token), t).await? {
            self.repo.revoke_family(r.family, t).await?;
        }
        Ok(())
    }

    /// Mails a reset link if the address belongs to a customer; the answer is the same if not.
    #[instrument(skip_all)]
    pub async fn request_password_reset(&self, email: &str) -> Result<()> {
        let email = Email::parse(email).map_err(|e| invalid("email", "invalid", e.to_string()))?;
        let Some(c) =
            self.repo.customer_by_email_index(&self.email_index(&email)).await?.filter(|c| c.erased_at.is_none())
        else {
            return Ok(());
        };
        let key = self.data_key(&c)?;
        let (link, hash) = new_secret();
        let ev = self.email_event(&key, c.id, EmailTemplate::ResetPassword, Some(&link));
        self.repo.insert_link(&hash, c.id, LinkPurpose::ResetPassword, now() + 3600, &[ev]).await?;
        Ok(())
    }

    /// Sets a new password with a reset link; every session of the customer ends.
    #[instrument(skip_all)]
    pub async fn reset_password(&self, token: &str, password: String) -> Result<()> {
        check_policy(&password).map_err(|e| invalid("password", "weak", e))?;
        let t = now();
        let id = self
            .repo
            .take_link(&hash_secret(token), LinkPurpose::ResetPassword, t)
            .await?
            .ok_or(IdentityError::BadLink)?;
        let mut c = self.live(id).await?;
        let key = self.data_key(&c)?;
        c.password_hash = Some(self.hash(password).await);
        // Following the link proves the address, too.
        c.email_verified_at = c.email_verified_at.or(Some(t));
        c.version += 1;
        c.updated_at = t;
        let ev = self.email_event(&key, id, EmailTemplate::PasswordChanged, None);
        self.repo.update_customer(&c, &[ev]).await?;
        self.repo.revoke_customer(id, t).await?;
        Ok(())
    }

    /// The customer's own data, opened.
    #[instrument(skip_all, fields(customer = %id))]
    pub async fn me(&self, id: Uuid) -> Result<CustomerView> {
        let c = self.live(id).await?;
        self.view(&c)
    }

    fn view(&self, c: &CustomerRecord) -> Result<CustomerView> {
        let key = self.data_key(c)?;
        let owner = c.id.to_string();
        let open = |b: &Option<Vec<u8>>| b.as_ref().map(|b| key.open_str(&owner, b)).transpose();
        let profile: BeautyProfile = open_json(&key, &owner, c.profile.as_deref())?;
        let contact: Contact = open_json(&key, &owner, c.contact.as_deref())?;
        Ok(CustomerView {
            id: c.id,
            email: open(&c.email)?.unwrap_or_default(),
            name: open(&c.name)?,
            email_verified: c.email_verified_at.is_some(),
            beauty_profile: profile,
            phone: contact.phone,
            addresses: contact.addresses,
            created_at: chrono::DateTime::from_timestamp(c.created_at, 0).unwrap_or_default(),
            version: c.version,
        })
    }

    /// The beauty profile alone (for `for_me` listings); empty when she has none.
    pub async fn profile(&self, id: Uuid) -> Result<BeautyProfile> {
        Ok(self.me(id).await?.beauty_profile)
    }

    /// Changes the name and/or the beauty profile; `expected` is the version from `If-Match`.
    #[instrument(skip_all, fields(customer = %id))]
    pub async fn update_me(&self, id: Uuid, update: MeUpdate, expected: Option<i64>) -> Result<CustomerView> {
        let mut c = self.live(id).await?;
        if expected.is_some_and(|v| v != c.version) {
            return Err(IdentityError::Stale);
        }
        let mut v = Validation::new();
        if let Some(Some(n)) = &update.name
            && (n.trim().is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control))
        {
            v.push("name", "invalid", "a name is 1–200 printable characters");
        }
        if let Some(p) = &update.beauty_profile {
            v.extend("beauty_profile", field_errors(p.validate()));
        }
        let key = self.data_key(&c)?;
        let owner = id.to_string();
        let contact = if update.phone.is_some() || update.addresses.is_some() {
            let mut contact: Contact = open_json(&key, &owner, c.contact.as_deref())?;
            if let Some(phone) = update.phone.clone() {
                contact.phone = phone.map(|p| p.trim().to_owned());
            }
            if let Some(addresses) = update.addresses.clone() {
                contact.addresses = addresses;
            }
            for e in contact.validate() {
                v.push(e.field, e.code, e.message);
            }
            Some(contact)
        } else {
            None
        };
        v.finish(|| ()).map_err(IdentityError::Invalid)?;
        if let Some(contact) = contact {
            c.contact = Some(key.seal(&owner, &serde_json::to_vec(&contact).expect("serialises")));
        }
        if let Some(name) = update.name {
            c.name = name.map(|n| key.seal_str(&owner, n.trim()));
        }
        if let Some(mut p) = update.beauty_profile {
            p.avoid_ingredients = p.avoid_ingredients.iter().map(|s| s.trim().to_owned()).collect();
            p.avoid_ingredients.dedup();
            c.profile = Some(key.seal(&owner, &serde_json::to_vec(&p).expect("serialises")));
        }
        c.version += 1;
        c.updated_at = now();
        let ev = customer_event(id, "CustomerUpdated", &CustomerUpdated { customer_id: id, version: c.version });
        self.repo.update_customer(&c, &[ev]).await?;
        self.view(&c)
    }

    /// Everything Rouge holds about the customer, opened (GDPR art. 15 and 20).
    #[instrument(skip_all, fields(customer = %id))]
    pub async fn export(&self, id: Uuid) -> Result<serde_json::Value> {
        let c = self.live(id).await?;
        let me = self.view(&c)?;
        Ok(serde_json::json!({
            "customer": me,
            "account": {
                "created_at": me.created_at,
                "updated_at": chrono::DateTime::from_timestamp(c.updated_at, 0),
                "email_verified_at": c.email_verified_at.and_then(|t| chrono::DateTime::from_timestamp(t, 0)),
            },
            "orders": [],
            "exported_at": chrono::Utc::now(),
        }))
    }

    /// Erases the customer (GDPR art. 17): her data key is destroyed, so nothing sealed under
    /// it can be opened again, and the lookups and sessions go with it. The id remains for the
    /// records the law makes a shop keep, which hold no personal data of their own.
    #[instrument(skip_all, fields(customer = %id))]
    pub async fn erase(&self, id: Uuid) -> Result<()> {
        let mut c = self.live(id).await?;
        let t = now();
        c.email_index = None;
        c.key = None;
        c.email = None;
        c.name = None;
        c.profile = None;
        c.contact = None;
        c.password_hash = None;
        c.erased_at = Some(t);
        c.version += 1;
        c.updated_at = t;
        let ev = customer_event(id, "CustomerErased", &CustomerRef { customer_id: id });
        self.repo.update_customer(&c, &[ev]).await?;
        self.repo.revoke_customer(id, t).await?;
        tracing::info!(customer = %id, "customer erased");
        Ok(())
    }

    /// Opens an `EmailRequested` event into an email (for the mailer); `None` when the
    /// customer was erased meanwhile (her data key is gone, so is the email).
    pub async fn render_email(&self, ev: &EmailRequested, base_url: &str) -> Result<Option<OutgoingEmail>> {
        let Ok(c) = self.live(ev.customer_id).await else { return Ok(None) };
        let key = self.data_key(&c)?;
        let owner = c.id.to_string();
        let to = key.open_str(&owner, c.email.as_deref().unwrap_or_default())?;
        let token = match &ev.sealed_token {
            Some(s) => Some(key.open_str(&owner, &STANDARD.decode(s).map_err(|_| VaultError::Corrupt)?)?),
            None => None,
        };
        let link = |path: &str| format!("{base_url}{path}?token={}", token.clone().unwrap_or_default());
        let (subject, body) = match ev.template {
            EmailTemplate::VerifyEmail => ("Confirm your email address".to_owned(), format!("Welcome! Confirm your address to finish signing up:\n\n{}\n\nThe link is valid for 24 hours.", link("/verify-email"))),
            EmailTemplate::AlreadyRegistered => ("You already have an account".to_owned(), "Someone (perhaps you) tried to sign up with this address, which already has an account. If it was you, log in or reset your password. If not, you can ignore this email.".to_owned()),
            EmailTemplate::ResetPassword => ("Reset your password".to_owned(), format!("Follow this link to choose a new password:\n\n{}\n\nThe link is valid for an hour. If you did not ask for it, ignore this email.", link("/reset-password"))),
            EmailTemplate::PasswordChanged => ("Your password was changed".to_owned(), "Your password was just changed and every session was logged out. If it was not you, reset your password now.".to_owned()),
        };
        Ok(Some(OutgoingEmail { to, subject, body }))
    }

    /// Re-wraps every data key under the current master key; returns how many changed.
    #[instrument(skip_all)]
    pub async fn rotate_keys(&self) -> Result<usize> {
        let mut changed = 0;
        for (id, w) in self.repo.customer_keys().await? {
            if w.master_id == self.vault().current_master() {
                continue;
            }
            let new = self.vault().rewrap(&id.to_string(), &w)?;
            if self.repo.replace_key(id, &w, &new).await? {
                changed += 1;
            }
        }
        Ok(changed)
    }
}

/// A sealed JSON field, opened; its default when it was never set.
fn open_json<T: serde::de::DeserializeOwned + Default>(key: &DataKey, owner: &str, sealed: Option<&[u8]>) -> Result<T> {
    match sealed {
        Some(b) => Ok(serde_json::from_slice(&key.open(owner, b)?).map_err(|_| VaultError::Corrupt)?),
        None => Ok(T::default()),
    }
}

fn invalid(field: &str, code: &'static str, message: String) -> IdentityError {
    IdentityError::Invalid(vec![FieldError { field: field.to_owned(), code, message }])
}

fn field_errors(errors: Vec<FieldError>) -> Validation {
    let mut v = Validation::new();
    for e in errors {
        v.push(e.field, e.code, e.message);
    }
    v
}
