//! The behaviours every identity store must show, through the identity service.

use crate::raw::RawRows;
use rouge_identity::ports::{AuditRepository, IdentityRepository, StaffRepository};
use rouge_identity::service::{
    EmailRequested, IdentityError, IdentitySettings, LockoutPolicy, MeUpdate, RegisterInput,
};
use rouge_identity::{Actor, AuditFilter, AuditInput, ChainError};
use rouge_identity::{ApiKeyInput, Permission, RoleInput, StaffInput};
use rouge_identity::{BeautyProfile, HashCost, IdentityService, PasswordHasher, Secret32, TokenKeys, Vault};
use rouge_kernel::Outbox;
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn service<S: IdentityRepository>(store: S, vault: Vault) -> IdentityService<S> {
    let settings = IdentitySettings {
        lockout: LockoutPolicy {
            free_failures: 2,
            account_lock_after: 4,
            address_lock_after: 1000,
            lock_secs: 900,
            window_secs: 900,
        },
        ..IdentitySettings::default()
    };
    IdentityService::new(
        store,
        Arc::new(vault),
        PasswordHasher::new(HashCost::TEST).unwrap(),
        Arc::new(TokenKeys::ephemeral("rouge", "rouge-api")),
        settings,
    )
}

fn reg(email: &str, name: &str) -> RegisterInput {
    RegisterInput { email: email.into(), password: "correct horse battery".into(), name: Some(name.into()) }
}

/// The link token of the newest email of `template` in the outbox.
pub async fn last_link<S: IdentityRepository + Outbox>(svc: &IdentityService<S>, store: &S, template: &str) -> String {
    let events = store.events_after(0, 10_000).await.unwrap();
    let ev = events
        .iter()
        .rev()
        .filter(|e| e.event_type == "EmailRequested" && e.payload["template"] == template)
        .map(|e| serde_json::from_value::<EmailRequested>(e.payload.clone()).unwrap())
        .next()
        .unwrap_or_else(|| panic!("no {template} email in the outbox"));
    let mail = svc.render_email(&ev, "https://shop.example").await.unwrap().unwrap();
    mail.body.split("token=").nth(1).unwrap().split_whitespace().next().unwrap().to_owned()
}

/// Registers and follows the verification link, as a customer who can log in has done.
pub async fn registered<S: IdentityRepository + Outbox>(svc: &IdentityService<S>, store: &S, email: &str, name: &str) {
    svc.register(reg(email, name)).await.unwrap();
    svc.verify_email(&last_link(svc, store, "verify_email").await).await.unwrap();
}

pub async fn register_login_and_read_back<S: IdentityRepository + Outbox>(store: S) {
    let svc = service(store.clone(), Vault::ephemeral());
    svc.register(reg(" Ana@Example.com", "Ana Silva")).await.unwrap();
    let first_link = last_link(&svc, &store, "verify_email").await;
    // Until she follows the link the account opens for nobody (a squatter could have made
    // it); the right password gets her a new link.
    assert_eq!(
        svc.login("ana@example.com", "correct horse battery", "203.0.113.9").await.unwrap_err(),
        IdentityError::Unverified
    );
    let second_link = last_link(&svc, &store, "verify_email").await;
    assert_ne!(first_link, second_link, "a new link was mailed");
    svc.verify_email(&second_link).await.unwrap();
    let s = svc.login("ana@example.com", "correct horse battery", "203.0.113.9").await.unwrap();
    let claims = svc.tokens().verify(&s.access_token).unwrap();
    let me = svc.me(claims.sub).await.unwrap();
    assert_eq!(
        (me.email.as_str(), me.name.as_deref(), me.email_verified),
        ("ana@example.com", Some("Ana Silva"), true)
    );
    assert_eq!(svc.verify_email("made-up").await, Err(IdentityError::BadLink));
    // Registering a taken address answers the same and creates nothing; its owner is told.
    svc.register(reg("ana@example.com", "Someone Else")).await.unwrap();
    assert_eq!(svc.me(claims.sub).await.unwrap().name.as_deref(), Some("Ana Silva"));
    let events = store.events_after(0, 100).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.event_type == "CustomerRegistered").count(), 1);
    assert!(events.iter().any(|e| e.payload["template"] == "already_registered"));
    assert_eq!(
        svc.login("ana@example.com", "wrong password!", "203.0.113.9").await.unwrap_err(),
        IdentityError::BadCredentials
    );
    assert_eq!(
        svc.login("nobody@example.com", "correct horse battery", "203.0.113.9").await.unwrap_err(),
        IdentityError::BadCredentials
    );
    let bad = svc.register(RegisterInput { email: "not-an-email".into(), password: "short".into(), name: None }).await;
    let Err(IdentityError::Invalid(fields)) = bad else { panic!("{bad:?}") };
    assert_eq!(fields.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(), ["email", "password"]);
}

/// Account pre-hijacking: someone registers her address before she does. He cannot log in
/// (the address is not verified), and when she signs in through the shop's identity provider,
/// which vouches for the address, the account becomes hers: his password no longer opens it,
/// nothing he typed stays in it.
pub async fn a_verified_external_identity_takes_back_a_squatted_account<S: IdentityRepository + Outbox>(store: S) {
    let svc = service(store, Vault::ephemeral());
    svc.register(reg("nina@example.com", "Squatter")).await.unwrap();
    assert_eq!(
        svc.login("nina@example.com", "correct horse battery", "a").await.unwrap_err(),
        IdentityError::Unverified
    );
    let id = svc.external_customer("nina@example.com").await.unwrap();
    let me = svc.me(id).await.unwrap();
    assert_eq!((me.email.as_str(), me.email_verified, me.name.as_deref()), ("nina@example.com", true, None));
    assert_eq!(
        svc.login("nina@example.com", "correct horse battery", "a").await.unwrap_err(),
        IdentityError::BadCredentials,
        "the squatter's password is gone"
    );
    assert_eq!(svc.external_customer("nina@example.com").await.unwrap(), id, "hers from now on");
    assert_eq!(svc.me(id).await.unwrap().version, me.version, "reclaimed once");
}

pub async fn refresh_tokens_rotate_and_reuse_revokes_the_family<S: IdentityRepository + Outbox>(store: S) {
    let svc = service(store.clone(), Vault::ephemeral());
    registered(&svc, &store, "ana@example.com", "Ana").await;
    let first = svc.login("ana@example.com", "correct horse battery", "a").await.unwrap();
    let other_device = svc.login("ana@example.com", "correct horse battery", "a").await.unwrap();
    let second = svc.refresh(&first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(svc.refresh(&first.refresh_token).await.unwrap_err(), IdentityError::BadRefresh, "reuse");
    assert_eq!(
        svc.refresh(&second.refresh_token).await.unwrap_err(),
        IdentityError::BadRefresh,
        "the family is revoked"
    );
    let still = svc.refresh(&other_device.refresh_token).await.unwrap();
    // Two concurrent uses of one token: exactly one wins, and the family dies with the loser.
    let (a, b) = tokio::join!(svc.refresh(&still.refresh_token), svc.refresh(&still.refresh_token));
    assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} {b:?}");
    let winner = a.or(b).unwrap();
    assert_eq!(svc.refresh(&winner.refresh_token).await.unwrap_err(), IdentityError::BadRefresh);
    svc.logout("never-issued").await.unwrap();
}

pub async fn failed_logins_slow_down_then_lock_alike_for_known_and_unknown_emails<S: IdentityRepository + Outbox>(
    store: S,
) {
    let svc = service(store, Vault::ephemeral());
    svc.register(reg("ana@example.com", "Ana")).await.unwrap();
    let mut seen = vec![];
    for email in ["ana@example.com", "nobody@example.com"] {
        let mut outcomes = vec![];
        for _ in 0..5 {
            outcomes.push(match svc.login(email, "wrong password!", "198.51.100.7").await.unwrap_err() {
                IdentityError::BadCredentials => "bad".to_owned(),
                IdentityError::Locked(s) if s <= 2 => "slowed".to_owned(),
                IdentityError::Locked(_) => "locked".to_owned(),
                e => format!("{e:?}"),
            });
        }
        seen.push(outcomes);
    }
    assert_eq!(seen[0], ["bad", "bad", "bad", "slowed", "slowed"]);
    assert_eq!(seen[0], seen[1], "an unknown email is throttled exactly like a known one");
    let locked = svc.login("ana@example.com", "correct horse battery", "198.51.100.7").await;
    assert!(matches!(locked, Err(IdentityError::Locked(_))), "even the right password waits: {locked:?}");
}

pub async fn password_reset_ends_every_session<S: IdentityRepository + Outbox>(store: S) {
    let svc = service(store.clone(), Vault::ephemeral());
    registered(&svc, &store, "ana@example.com", "Ana").await;
    let s = svc.login("ana@example.com", "correct horse battery", "a").await.unwrap();
    svc.request_password_reset("nobody@example.com").await.unwrap();
    svc.request_password_reset("ana@example.com").await.unwrap();
    let link = last_link(&svc, &store, "reset_password").await;
    assert!(matches!(svc.reset_password(&link, "short".into()).await, Err(IdentityError::Invalid(_))));
    svc.reset_password(&link, "a brand new passphrase".into()).await.unwrap();
    assert_eq!(
        svc.reset_password(&link, "another new passphrase".into()).await,
        Err(IdentityError::BadLink),
        "links work once"
    );
    assert_eq!(svc.refresh(&s.refresh_token).await.unwrap_err(), IdentityError::BadRefresh);
    assert!(svc.login("ana@example.com", "correct horse battery", "a").await.is_err());
    assert!(svc.login("ana@example.com", "a brand new passphrase", "a").await.is_ok());
}

pub async fn profile_updates_and_erasure<S: IdentityRepository + Outbox>(store: S) {
    let svc = service(store.clone(), Vault::ephemeral());
    registered(&svc, &store, "ana@example.com", "Ana").await;
    let s = svc.login("ana@example.com", "correct horse battery", "a").await.unwrap();
    let id = svc.tokens().verify(&s.access_token).unwrap().sub;
    let profile: BeautyProfile = serde_json::from_value(serde_json::json!({
        "skin_type": "sensitive", "concerns": ["redness"], "avoid_ingredients": ["fragrance", " Linalool "],
        "shade": {"undertone": "olive", "depth": 4}
    }))
    .unwrap();
    let me = svc
        .update_me(
            id,
            MeUpdate { name: Some(Some("Ana S.".into())), beauty_profile: Some(profile), ..MeUpdate::default() },
            Some(2),
        )
        .await
        .unwrap();
    assert_eq!(me.beauty_profile.avoid_ingredients, ["fragrance", "Linalool"]);
    assert_eq!(me.version, 3, "registered, verified, updated");
    let stale = svc.update_me(id, MeUpdate::default(), Some(1)).await;
    assert_eq!(stale.unwrap_err(), IdentityError::Stale);
    let export = svc.export(id).await.unwrap();
    assert_eq!(export["customer"]["email"], "ana@example.com");
    assert_eq!(export["customer"]["beauty_profile"]["skin_type"], "sensitive");
    svc.erase(id).await.unwrap();
    assert_eq!(svc.me(id).await.unwrap_err(), IdentityError::Gone);
    assert_eq!(svc.refresh(&s.refresh_token).await.unwrap_err(), IdentityError::BadRefresh);
    assert_eq!(
        svc.login("ana@example.com", "correct horse battery", "a").await.unwrap_err(),
        IdentityError::BadCredentials
    );
    // The address is free again.
    registered(&svc, &store, "ana@example.com", "Ana Again").await;
    assert!(svc.login("ana@example.com", "correct horse battery", "a").await.is_ok());
}

pub async fn master_key_rotation_rewraps_every_data_key<S: IdentityRepository + Outbox>(store: S) {
    let m1 = Secret32::random();
    let index = Secret32::random();
    let v1 = Vault::new(BTreeMap::from([("m1".to_owned(), m1.clone())]), "m1", index.clone()).unwrap();
    let svc = service(store.clone(), v1);
    for n in ["ana", "bea", "cleo"] {
        registered(&svc, &store, &format!("{n}@example.com"), n).await;
    }
    let m2 = Secret32::random();
    let both = Vault::new(BTreeMap::from([("m1".to_owned(), m1), ("m2".to_owned(), m2.clone())]), "m2", index.clone())
        .unwrap();
    assert_eq!(store.people_by_master().await.unwrap(), [("m1".to_owned(), 3)], "whose data each master key opens");
    assert_eq!(service(store.clone(), both.clone()).rotate_keys().await.unwrap(), 3);
    assert_eq!(service(store.clone(), both).rotate_keys().await.unwrap(), 0, "idempotent");
    assert_eq!(store.people_by_master().await.unwrap(), [("m2".to_owned(), 3)]);
    let only_new = service(store, Vault::new(BTreeMap::from([("m2".to_owned(), m2)]), "m2", index).unwrap());
    let s = only_new.login("bea@example.com", "correct horse battery", "a").await.unwrap();
    let me = only_new.me(only_new.tokens().verify(&s.access_token).unwrap().sub).await.unwrap();
    assert_eq!(me.email, "bea@example.com");
}

pub async fn no_plaintext_personal_data_in_the_store<S: IdentityRepository + StaffRepository + Outbox + RawRows>(
    store: S,
) {
    let svc = service(store.clone(), Vault::ephemeral());
    svc.create_owner("olga.plaintext@shop.example", "Olga Plaintextova", "owner passphrase").await.unwrap();
    registered(&svc, &store, "ana.plaintext@example.com", "Anastasia Plaintext").await;
    let s = svc.login("ana.plaintext@example.com", "correct horse battery", "192.0.2.77").await.unwrap();
    let _ = svc.login("ana.plaintext@example.com", "wrong password!", "192.0.2.77").await;
    let id = svc.tokens().verify(&s.access_token).unwrap().sub;
    let profile: BeautyProfile = serde_json::from_value(
        serde_json::json!({"avoid_ingredients": ["Methylisothiazolinone"], "concerns": ["hyperpigmentation"]}),
    )
    .unwrap();
    let address: rouge_identity::Address = serde_json::from_value(serde_json::json!({
        "name": "Anastasia Plaintext", "line1": "12 Rue Secretvalley", "city": "Lyonnaisville", "postal_code": "69001", "country": "FR"
    }))
    .unwrap();
    let update = MeUpdate {
        beauty_profile: Some(profile),
        phone: Some(Some("+33 6 98 76 54 32".into())),
        addresses: Some(vec![address]),
        ..MeUpdate::default()
    };
    svc.update_me(id, update, None).await.unwrap();
    let me = svc.me(id).await.unwrap();
    assert_eq!((me.phone.as_deref(), me.addresses[0].city.as_str()), (Some("+33 6 98 76 54 32"), "Lyonnaisville"));
    let raw = store.raw_rows().await;
    assert!(
        raw.contains(&id.to_string()) || raw.contains(&id.simple().to_string()),
        "the dump reads the customer's row"
    );
    for secret in [
        "ana.plaintext",
        "Anastasia",
        "Plaintext",
        "Methylisothiazolinone",
        "hyperpigmentation",
        "192.0.2.77",
        "correct horse",
    ] {
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(!raw.contains(secret) && !raw.contains(&hex), "`{secret}` is stored in plaintext");
    }
}

pub async fn staff_roles_and_api_keys<S: IdentityRepository + StaffRepository + Outbox>(store: S) {
    let svc = service(store.clone(), Vault::ephemeral());
    let owner = svc.create_owner("Olga@Shop.example", "Olga Owner", "owner passphrase").await.unwrap();
    let again = svc.create_owner("olga@shop.example", "Olga Again", "owner passphrase").await;
    assert!(matches!(again, Err(IdentityError::Invalid(ref f)) if f[0].code == "taken"), "{again:?}");
    let session = svc.staff_login("olga@shop.example", "owner passphrase", "a").await.unwrap();
    let boss = svc.authorize(&session.access_token).await.unwrap();
    assert!(Permission::ALL.iter().all(|p| boss.may(*p)));
    assert_eq!(
        svc.staff_login("olga@shop.example", "wrong passphrase", "a").await.unwrap_err(),
        IdentityError::BadCredentials
    );

    let role = svc
        .create_role(
            &boss,
            RoleInput {
                name: "Stock keeper".into(),
                permissions: vec![Permission::CatalogRead, Permission::CatalogRead],
            },
        )
        .await
        .unwrap();
    assert_eq!(role.permissions, [Permission::CatalogRead]);
    assert!(
        svc.create_role(&boss, RoleInput { name: "Stock keeper".into(), permissions: vec![Permission::OrdersRead] })
            .await
            .is_err()
    );
    assert!(
        svc.create_role(&boss, RoleInput { name: "owner".into(), permissions: vec![Permission::OrdersRead] })
            .await
            .is_err()
    );
    assert_eq!(svc.roles().await.unwrap().len(), 5);
    let input = |role_id| StaffInput {
        email: "sam@shop.example".into(),
        name: "Sam".into(),
        password: "keeper passphrase".into(),
        role_id,
    };
    assert!(
        matches!(svc.create_staff(&boss, input(uuid::Uuid::now_v7())).await, Err(IdentityError::Invalid(_))),
        "unknown role"
    );
    let sam = svc.create_staff(&boss, input(role.id)).await.unwrap();
    let sam_token = svc.staff_login("sam@shop.example", "keeper passphrase", "a").await.unwrap().access_token;
    let p = svc.authorize(&sam_token).await.unwrap();
    assert_eq!(p.permissions, [Permission::CatalogRead]);
    // Role changes follow the grant rules and take effect at once.
    let manager = rouge_identity::builtin_roles().into_iter().find(|r| r.name == "manager").unwrap();
    let promote = rouge_identity::StaffUpdate { role_id: Some(manager.id), disabled: None };
    let refused = svc.update_staff(&p, sam.id, promote.clone()).await;
    assert!(matches!(refused, Err(IdentityError::Invalid(ref f)) if f[0].code == "not_yours"), "{refused:?}");
    svc.update_staff(&boss, sam.id, promote).await.unwrap();
    assert!(svc.authorize(&sam_token).await.unwrap().may(Permission::OrdersRefund));
    let disable = rouge_identity::StaffUpdate { disabled: Some(true), role_id: None };
    svc.update_staff(&boss, sam.id, disable).await.unwrap();
    assert_eq!(svc.authorize(&sam_token).await.unwrap_err(), IdentityError::BadCredentials, "disabled at once");
    assert_eq!(
        svc.list_staff().await.unwrap().iter().map(|s| s.email.as_str()).collect::<Vec<_>>(),
        ["olga@shop.example", "sam@shop.example"]
    );

    let key_input = |permissions| ApiKeyInput { name: "Warehouse sync".into(), permissions };
    let too_much = svc.create_api_key(&p, key_input(vec![Permission::CatalogWrite])).await;
    assert!(matches!(too_much, Err(IdentityError::Invalid(ref f)) if f[0].code == "not_yours"), "{too_much:?}");
    let created = svc.create_api_key(&boss, key_input(vec![Permission::CatalogWrite])).await.unwrap();
    assert!(created.secret.starts_with("rk_"));
    let by_key = svc.authorize(&created.secret).await.unwrap();
    assert_eq!(by_key.permissions, [Permission::CatalogWrite]);
    let forged = format!("{}x", &created.secret[..created.secret.len() - 1]);
    assert_eq!(svc.authorize(&forged).await.unwrap_err(), IdentityError::BadCredentials);
    let listed = svc.list_api_keys().await.unwrap();
    assert!(listed[0].last_used_at.is_some(), "last use is recorded");
    assert_eq!(listed[0].created_by, owner.id);
    svc.revoke_api_key(created.key.id).await.unwrap();
    assert_eq!(svc.authorize(&created.secret).await.unwrap_err(), IdentityError::BadCredentials);
    assert_eq!(svc.revoke_api_key(created.key.id).await.unwrap_err(), IdentityError::Gone);
    // A customer's token is no staff credential.
    registered(&svc, &store, "cust@example.com", "Cust").await;
    let c = svc.login("cust@example.com", "correct horse battery", "a").await.unwrap();
    assert_eq!(svc.authorize(&c.access_token).await.unwrap_err(), IdentityError::BadCredentials);
}

fn audit_input(n: i64, actor: uuid::Uuid, route: &str) -> AuditInput {
    AuditInput {
        id: uuid::Uuid::now_v7(),
        at_ms: 1_000 * n,
        actor: Actor::Staff(actor),
        address: "203.0.113.5".into(),
        action: "PATCH".into(),
        route: route.into(),
        path: format!("/v1/admin/brands/{n}"),
        status: 200,
        before: Some(serde_json::json!({"name": "Old", "n": n})),
        after: Some(serde_json::json!({"name": "New", "n": n})),
    }
}

pub async fn the_audit_chain_holds_and_tampering_is_detected<S: AuditRepository + RawRows>(store: S) {
    let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    // Concurrent appends still form one chain.
    let appends = (1..=12).map(|n| {
        let store = store.clone();
        async move {
            store
                .append_audit(&audit_input(
                    n,
                    if n % 3 == 0 { b } else { a },
                    if n % 2 == 0 { "/v1/admin/brands/{id}" } else { "/v1/admin/products/{id}" },
                ))
                .await
                .unwrap()
        }
    });
    let written = futures_join(appends).await;
    assert_eq!(written.len(), 12);
    let (chain, head) = store.audit_chain().await.unwrap();
    assert_eq!(rouge_identity::audit::verify(&chain, head), Ok(12));
    let by_b = store.audit(&AuditFilter { actor: Some(b), limit: 100, ..AuditFilter::default() }).await.unwrap();
    assert_eq!(by_b.len(), 4);
    assert!(by_b.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    let page = store
        .audit(&AuditFilter { route: Some("/v1/admin/brands/{id}".into()), limit: 2, ..AuditFilter::default() })
        .await
        .unwrap();
    let next = store
        .audit(&AuditFilter {
            route: Some("/v1/admin/brands/{id}".into()),
            limit: 100,
            before_seq: Some(page[1].seq),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.len() + next.len(), 6);
    let window = store
        .audit(&AuditFilter { since_ms: Some(3_000), until_ms: Some(6_000), limit: 100, ..AuditFilter::default() })
        .await
        .unwrap();
    let mut times: Vec<i64> = window.iter().map(|e| e.entry.at_ms).collect();
    times.sort_unstable();
    assert_eq!(times, [3_000, 4_000, 5_000], "the window is since-inclusive, until-exclusive");

    store.raw_exec("UPDATE audit_log SET entry = replace(entry, '\"New\"', '\"Forged\"') WHERE seq = 5").await;
    let (chain, head) = store.audit_chain().await.unwrap();
    assert_eq!(rouge_identity::audit::verify(&chain, head), Err(ChainError::Edited(5)));
    store.raw_exec("UPDATE audit_log SET entry = replace(entry, '\"Forged\"', '\"New\"') WHERE seq = 5").await;
    store.raw_exec("DELETE FROM audit_log WHERE seq = 7").await;
    let (chain, head) = store.audit_chain().await.unwrap();
    assert_eq!(rouge_identity::audit::verify(&chain, head), Err(ChainError::Missing(8)));
    store.raw_exec("DELETE FROM audit_log WHERE seq >= 7").await;
    let (chain, head) = store.audit_chain().await.unwrap();
    assert!(matches!(
        rouge_identity::audit::verify(&chain, head),
        Err(ChainError::Truncated { expected: 12, found: 6, .. })
    ));
}

async fn futures_join<F: std::future::Future<Output = T> + Send + 'static, T: Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<T> {
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = vec![];
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// A change made inside an audit scope writes its entry in its own transaction, with the
/// stored object as "before" and the saved one as "after"; a refused change writes none, and
/// nothing outside a scope is an entry.
pub async fn changes_in_an_audit_scope_carry_their_entry<S: AuditRepository + rouge_catalog::CatalogRepository>(
    store: S,
) {
    use rouge_identity::audit::{Scope, verify, within};
    let scope = |action: &str, route: &str, status| Scope {
        actor: Actor::Staff(uuid::Uuid::now_v7()),
        address: "203.0.113.5".into(),
        action: action.into(),
        route: route.into(),
        path: route.into(),
        status,
    };
    let catalog = rouge_catalog::CatalogService::new(store.clone());
    let created =
        within(scope("POST", "/v1/admin/brands", 201), catalog.create_brand(crate::fixtures::brand("Lumen Lab")))
            .await
            .unwrap();
    catalog.create_brand(crate::fixtures::brand("Outside Any Scope")).await.unwrap();
    let patch = serde_json::json!({"name": "Lumen Lab Paris"});
    within(scope("PATCH", "/v1/admin/brands/{id}", 200), catalog.update_brand(created.id, None, &patch)).await.unwrap();
    let taken =
        within(scope("POST", "/v1/admin/brands", 201), catalog.create_brand(crate::fixtures::brand("Lumen Lab")));
    assert!(taken.await.is_err(), "the slug is taken");

    let (chain, head) = store.audit_chain().await.unwrap();
    assert_eq!(verify(&chain, head), Ok(2), "the creation and the update, nothing else");
    let (first, second) = (&chain[0].entry, &chain[1].entry);
    assert_eq!((first.before.as_ref(), first.after.as_ref().map(|a| &a["name"])), (None, Some(&"Lumen Lab".into())));
    assert_eq!(first.status, 201);
    assert_eq!(second.before.as_ref().map(|b| &b["name"]), Some(&"Lumen Lab".into()));
    assert_eq!(second.after.as_ref().map(|a| &a["name"]), Some(&"Lumen Lab Paris".into()));
    assert_eq!((second.action.as_str(), second.route.as_str()), ("PATCH", "/v1/admin/brands/{id}"));

    // Audited changes at the same moment (each reads its "before" first, then writes) all go
    // through, one after the other, each with its entry.
    let mut brands = vec![];
    for n in 0..8 {
        brands.push(catalog.create_brand(crate::fixtures::brand(&format!("Brand {n}"))).await.unwrap());
    }
    let updates = brands.into_iter().map(|b| {
        let (catalog, scope) = (catalog.clone(), scope("PATCH", "/v1/admin/brands/{id}", 200));
        async move { within(scope, catalog.update_brand(b.id, None, &serde_json::json!({"name": "Renamed"}))).await }
    });
    assert!(futures_join(updates).await.iter().all(Result::is_ok));
    let (chain, head) = store.audit_chain().await.unwrap();
    assert_eq!(verify(&chain, head), Ok(10));
}
