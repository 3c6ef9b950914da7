//! Staff use cases: accounts, log-in, roles, API keys, and authorising admin calls.

use crate::email::Email;
use crate::password::check_policy;
use crate::ports::{IdentityRepository, StaffRepository};
use crate::service::{IdentityError, IdentityService};
use crate::staff::{Actor, ApiKeyRecord, Permission, Principal, Role, StaffRecord, builtin_roles, owner_role_id};
use crate::tokens::{Subject, constant_eq, hash_secret};
use rouge_catalog::RepoError;
use rouge_kernel::{FieldError, Validation};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use utoipa::ToSchema;
use uuid::Uuid;

type Result<T> = std::result::Result<T, IdentityError>;

/// Staff tokens last a working day; disabling a staff member takes effect at once anyway,
/// because every admin call looks the account up.
pub const STAFF_TOKEN_SECS: i64 = 8 * 3600;
const API_KEY_PREFIX: &str = "rk_";

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffInput {
    pub email: String,
    pub name: String,
    /// 10–256 characters.
    pub password: String,
    /// A role id (see `GET /v1/admin/roles`).
    pub role_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StaffView {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub role_id: Uuid,
    pub disabled: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StaffSession {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
}

/// A change to a staff account: either field, or both.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffUpdate {
    /// A disabled account cannot log in, and its tokens stop working at once.
    pub disabled: Option<bool>,
    /// Another role (at most your own permissions; only owners give `owner`).
    pub role_id: Option<Uuid>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    pub name: String,
    pub permissions: Vec<Permission>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    pub name: String,
    /// At most the permissions of whoever creates the key.
    pub permissions: Vec<Permission>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    pub permissions: Vec<Permission>,
    pub created_by: Uuid,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked: bool,
}

/// A new key: the secret is shown this once and never again.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// Send as `Authorization: Bearer <secret>`. Rouge keeps only its hash.
    pub secret: String,
}

fn at(t: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t, 0).unwrap_or_default()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> IdentityError {
    IdentityError::Invalid(vec![FieldError { field: field.to_owned(), code, message: message.into() }])
}

fn key_view(k: &ApiKeyRecord) -> ApiKeyView {
    ApiKeyView {
        id: k.id,
        name: k.name.clone(),
        permissions: k.permissions.clone(),
        created_by: k.created_by,
        created_at: at(k.created_at),
        last_used_at: k.last_used_at.map(at),
        revoked: k.revoked_at.is_some(),
    }
}

fn check_name(v: &mut Validation, field: &str, name: &str) {
    let n = name.trim().chars().count();
    if n == 0 || n > 200 || name.chars().any(char::is_control) {
        v.push(field, "invalid", "1–200 printable characters");
    }
}

impl<R: IdentityRepository + StaffRepository> IdentityService<R> {
    /// Every role: the built-in ones, then the custom ones.
    ///
    /// # Errors
    /// When the store fails.
    pub async fn roles(&self) -> Result<Vec<Role>> {
        let mut all = builtin_roles();
        all.extend(self.repo().custom_roles().await?);
        Ok(all)
    }

    async fn role(&self, id: Uuid) -> Result<Option<Role>> {
        Ok(self.roles().await?.into_iter().find(|r| r.id == id))
    }

    /// Creates a staff account on behalf of `by`, who must hold every permission of the role
    /// given (and be an owner to make an owner).
    ///
    /// # Errors
    /// `Invalid` for a bad field, an unknown role, a role `by` may not give, or a taken email.
    #[instrument(skip_all)]
    pub async fn create_staff(&self, by: &Principal, input: StaffInput) -> Result<StaffView> {
        let mut v = Validation::new();
        self.check_role_grant(&mut v, by, input.role_id).await?;
        self.insert_staff(v, input).await
    }

    /// Checks that `by` may give `role` to someone: it exists, `by` holds all of its
    /// permissions, and only an owner gives the owner role.
    async fn check_role_grant(&self, v: &mut Validation, by: &Principal, role: Uuid) -> Result<()> {
        match self.role(role).await? {
            None => v.push("role_id", "unknown", "no role has this id"),
            Some(r) if r.id == owner_role_id() && !by.owner => {
                v.push("role_id", "not_yours", "only an owner can make someone an owner")
            }
            Some(r) => {
                let mut missing = Validation::new();
                by.check_grant(&mut missing, "permissions", &r.permissions);
                if !missing.is_empty() {
                    let lacking: Vec<&str> =
                        r.permissions.iter().filter(|p| !by.may(**p)).map(|p| p.as_str()).collect();
                    v.push(
                        "role_id",
                        "not_yours",
                        format!("you cannot give the role `{}`: you lack {}", r.name, lacking.join(", ")),
                    );
                }
            }
        }
        Ok(())
    }

    async fn insert_staff(&self, mut v: Validation, input: StaffInput) -> Result<StaffView> {
        let email = v.check("email", "invalid", Email::parse(&input.email));
        check_name(&mut v, "name", &input.name);
        v.check("password", "weak", check_policy(&input.password));
        let email = v.finish(|| email.expect("checked")).map_err(IdentityError::Invalid)?;
        let vault = self.vault();
        let id = Uuid::now_v7();
        let owner = id.to_string();
        let (key, wrapped) = vault.new_data_key(&owner);
        let record = StaffRecord {
            id,
            email_index: vault.blind_index("staff-email", email.as_str()),
            key: wrapped,
            email: key.seal_str(&owner, email.as_str()),
            name: key.seal_str(&owner, input.name.trim()),
            password_hash: self.hash(input.password).await,
            role_id: input.role_id,
            created_at: now(),
            disabled_at: None,
        };
        match self.repo().insert_staff(&record).await {
            Err(RepoError::Duplicate { .. }) => return Err(invalid("email", "taken", "a staff member has this email")),
            other => other?,
        }
        tracing::info!(staff = %id, role = %input.role_id, "staff member created");
        self.staff_view(&record)
    }

    /// Creates the first owner (the `rouge admin create-owner` bootstrap).
    ///
    /// # Errors
    /// As [`IdentityService::create_staff`].
    pub async fn create_owner(&self, email: &str, name: &str, password: &str) -> Result<StaffView> {
        let input =
            StaffInput { email: email.into(), name: name.into(), password: password.into(), role_id: owner_role_id() };
        self.insert_staff(Validation::new(), input).await
    }

    fn staff_view(&self, s: &StaffRecord) -> Result<StaffView> {
        let owner = s.id.to_string();
        let key = self.vault().unwrap_key(&owner, &s.key)?;
        Ok(StaffView {
            id: s.id,
            email: key.open_str(&owner, &s.email)?,
            name: key.open_str(&owner, &s.name)?,
            role_id: s.role_id,
            disabled: s.disabled_at.is_some(),
            created_at: at(s.created_at),
        })
    }

    /// # Errors
    /// When the store fails or a record does not open.
    pub async fn list_staff(&self) -> Result<Vec<StaffView>> {
        self.repo().all_staff().await?.iter().map(|s| self.staff_view(s)).collect()
    }

    /// Disables (or enables again) a staff member and/or gives her another role, on behalf
    /// of `by`: only an owner changes an owner's account, and a new role is given under the
    /// rules of [`IdentityService::create_staff`].
    ///
    /// # Errors
    /// `Gone` when there is no such staff member; `Invalid` for a role `by` may not give;
    /// `Forbidden` for an owner's account changed by someone who is not an owner.
    pub async fn update_staff(&self, by: &Principal, id: Uuid, update: StaffUpdate) -> Result<StaffView> {
        let s = self.repo().staff(id).await?.ok_or(IdentityError::Gone)?;
        if s.role_id == owner_role_id() && !by.owner {
            return Err(IdentityError::Forbidden("only an owner can change an owner's account".into()));
        }
        if let Some(role) = update.role_id {
            let mut v = Validation::new();
            self.check_role_grant(&mut v, by, role).await?;
            v.finish(|| ()).map_err(IdentityError::Invalid)?;
            if !self.repo().set_staff_role(id, role).await? {
                return Err(IdentityError::Gone);
            }
            tracing::info!(staff = %id, %role, "staff member's role changed");
        }
        if let Some(disabled) = update.disabled
            && !self.repo().set_staff_disabled(id, disabled.then(now)).await?
        {
            return Err(IdentityError::Gone);
        }
        let s = self.repo().staff(id).await?.ok_or(IdentityError::Gone)?;
        self.staff_view(&s)
    }

    /// Staff log-in, throttled like customers' (separately counted).
    ///
    /// # Errors
    /// `BadCredentials` for a wrong email or password or a disabled account; `Locked`.
    #[instrument(skip_all)]
    pub async fn staff_login(&self, email: &str, password: &str, address: &str) -> Result<StaffSession> {
        let vault = self.vault();
        let index = vault.blind_index("staff-email", email.trim().to_lowercase().as_str());
        let found = self.repo().staff_by_email_index(&index).await?.filter(|s| s.disabled_at.is_none());
        let phc = found.as_ref().map(|s| s.password_hash.clone());
        self.check_password(&format!("staff:{index}"), address, password, phc).await?;
        let s = found.ok_or(IdentityError::BadCredentials)?;
        let tokens = self.tokens();
        let (token, claims) = tokens.issue_for(s.id, Subject::Staff, now(), STAFF_TOKEN_SECS);
        tracing::info!(staff = %s.id, "staff logged in");
        Ok(StaffSession { access_token: token, token_type: "Bearer", expires_in: claims.exp - claims.iat })
    }

    /// Who a bearer credential speaks for on the admin API: a staff token or an API key.
    ///
    /// # Errors
    /// `BadCredentials` for anything that is not a live staff member or key (the HTTP layer
    /// answers 401); `Store` when the store fails.
    pub async fn authorize(&self, bearer: &str) -> Result<Principal> {
        if let Some(rest) = bearer.strip_prefix(API_KEY_PREFIX) {
            let (id, _) = rest.split_once('_').ok_or(IdentityError::BadCredentials)?;
            let id = Uuid::try_parse(id).map_err(|_| IdentityError::BadCredentials)?;
            let k = self
                .repo()
                .api_key(id)
                .await?
                .filter(|k| k.revoked_at.is_none())
                .ok_or(IdentityError::BadCredentials)?;
            if !constant_eq(hash_secret(bearer).as_bytes(), k.hash.as_bytes()) {
                return Err(IdentityError::BadCredentials);
            }
            let t = now();
            // Last use to the minute: a write per minute per key, not per request.
            if k.last_used_at.is_none_or(|u| t - u >= 60) {
                self.repo().touch_api_key(id, t).await?;
            }
            return Ok(Principal { actor: Actor::ApiKey(id), permissions: k.permissions, owner: false });
        }
        let claims = self.tokens().verify(bearer).map_err(|_| IdentityError::BadCredentials)?;
        if claims.kind != Subject::Staff {
            return Err(IdentityError::BadCredentials);
        }
        let s = self
            .repo()
            .staff(claims.sub)
            .await?
            .filter(|s| s.disabled_at.is_none())
            .ok_or(IdentityError::BadCredentials)?;
        self.staff_principal(&s).await
    }

    /// The staff member an external identity provider vouches for by a verified email.
    ///
    /// # Errors
    /// `BadCredentials` when no live staff member has the email.
    pub async fn external_staff(&self, email: &str) -> Result<Principal> {
        let index = self.vault().blind_index("staff-email", email.trim().to_lowercase().as_str());
        let s = self
            .repo()
            .staff_by_email_index(&index)
            .await?
            .filter(|s| s.disabled_at.is_none())
            .ok_or(IdentityError::BadCredentials)?;
        self.staff_principal(&s).await
    }

    async fn staff_principal(&self, s: &StaffRecord) -> Result<Principal> {
        let role = self.role(s.role_id).await?.ok_or(IdentityError::BadCredentials)?;
        Ok(Principal { actor: Actor::Staff(s.id), permissions: role.permissions, owner: role.id == owner_role_id() })
    }

    /// Creates a custom role on behalf of `by`, who must hold every permission it names.
    ///
    /// # Errors
    /// `Invalid` for a bad or taken name, no permissions, or permissions `by` lacks.
    pub async fn create_role(&self, by: &Principal, input: RoleInput) -> Result<Role> {
        let mut v = Validation::new();
        check_name(&mut v, "name", &input.name);
        if input.permissions.is_empty() {
            v.push("permissions", "empty", "a role needs at least one permission");
        }
        by.check_grant(&mut v, "permissions", &input.permissions);
        let name = input.name.trim().to_owned();
        if builtin_roles().iter().any(|r| r.name.eq_ignore_ascii_case(&name)) {
            v.push("name", "taken", "a built-in role has this name");
        }
        v.finish(|| ()).map_err(IdentityError::Invalid)?;
        let mut permissions = input.permissions;
        permissions.sort();
        permissions.dedup();
        let role = Role { id: Uuid::now_v7(), name, permissions, builtin: false };
        match self.repo().insert_role(&role).await {
            Err(RepoError::Duplicate { .. }) => Err(invalid("name", "taken", "a role has this name")),
            other => other.map(|()| role).map_err(Into::into),
        }
    }

    /// Creates an API key; the secret is in the answer only.
    ///
    /// # Errors
    /// `Invalid` for a bad name, no permissions, or permissions the creator lacks.
    pub async fn create_api_key(&self, by: &Principal, input: ApiKeyInput) -> Result<CreatedApiKey> {
        let mut v = Validation::new();
        check_name(&mut v, "name", &input.name);
        if input.permissions.is_empty() {
            v.push("permissions", "empty", "a key needs at least one permission");
        }
        by.check_grant(&mut v, "permissions", &input.permissions);
        v.finish(|| ()).map_err(IdentityError::Invalid)?;
        let created_by = match by.actor {
            Actor::Staff(id) | Actor::ApiKey(id) => id,
        };
        let id = Uuid::now_v7();
        let (random, _) = crate::tokens::new_secret();
        let secret = format!("{API_KEY_PREFIX}{}_{random}", id.simple());
        let mut permissions = input.permissions;
        permissions.sort();
        permissions.dedup();
        let record = ApiKeyRecord {
            id,
            name: input.name.trim().to_owned(),
            hash: hash_secret(&secret),
            permissions,
            created_by,
            created_at: now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.repo().insert_api_key(&record).await?;
        tracing::info!(key = %id, "API key created");
        Ok(CreatedApiKey { key: key_view(&record), secret })
    }

    /// # Errors
    /// When the store fails.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyView>> {
        Ok(self.repo().api_keys().await?.iter().map(key_view).collect())
    }

    /// # Errors
    /// `Gone` when there is no such live key.
    pub async fn revoke_api_key(&self, id: Uuid) -> Result<()> {
        if self.repo().revoke_api_key(id, now()).await? { Ok(()) } else { Err(IdentityError::Gone) }
    }
}
