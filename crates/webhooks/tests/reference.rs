//! Rouge's signatures checked by the Standard Webhooks reference library (the
//! `standardwebhooks` package from PyPI, installed by `.ci/run`): a delivery signed during a
//! rotation verifies under the new secret and under the old one, and not under another secret
//! or with its body changed.

use rouge_webhooks::{Secret, sign};
use std::process::Command;

/// Verifies with the reference library; `None` when it is not installed (and not required).
fn verify(secret: &str, headers: &rouge_webhooks::Headers, body: &str) -> Option<Result<(), String>> {
    let script = "import json, os, sys\n\
        from standardwebhooks.webhooks import Webhook\n\
        h = {'webhook-id': os.environ['ID'], 'webhook-timestamp': os.environ['TS'], 'webhook-signature': os.environ['SIG']}\n\
        try:\n    Webhook(os.environ['SECRET']).verify(os.environ['BODY'], h)\n    print('verified')\n\
        except Exception as e:\n    print('refused', type(e).__name__, e)\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .env("SECRET", secret)
        .env("ID", &headers.id)
        .env("TS", &headers.timestamp)
        .env("SIG", &headers.signature)
        .env("BODY", body)
        .output();
    let out = match out {
        Ok(o) if !String::from_utf8_lossy(&o.stderr).contains("ModuleNotFoundError") => o,
        other => {
            let required = std::env::var("ROUGE_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
            assert!(!required, "the standardwebhooks package is required (ROUGE_REQUIRE_SERVICES=1): {other:?}");
            eprintln!("SKIPPED: the standardwebhooks package is not installed (.ci/run installs it)");
            return None;
        }
    };
    let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Some(if said == "verified" { Ok(()) } else { Err(format!("{said}{}", String::from_utf8_lossy(&out.stderr))) })
}

#[test]
fn the_reference_library_verifies_rouges_signatures_during_a_rotation() {
    let (old, new, stranger) = (Secret::generate(), Secret::generate(), Secret::generate());
    let body = serde_json::json!({"type": "order.placed", "data": {"id": "01a2", "total": 5800}}).to_string();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let headers = sign(&[&new, &old], "msg_01a22e3f", now, body.as_bytes());
    let Some(with_new) = verify(&new.expose(), &headers, &body) else { return };
    assert_eq!(with_new, Ok(()), "the new secret");
    assert_eq!(verify(&old.expose(), &headers, &body), Some(Ok(())), "the old secret, during the rotation");
    assert!(verify(&stranger.expose(), &headers, &body).is_some_and(|r| r.is_err()), "another secret");
    let tampered = body.replace("5800", "1");
    assert!(verify(&new.expose(), &headers, &tampered).is_some_and(|r| r.is_err()), "a changed body");
    let stale = sign(&[&new], "msg_01a22e3f", now - 3600, body.as_bytes());
    assert!(verify(&new.expose(), &stale, &body).is_some_and(|r| r.is_err()), "an hour-old timestamp");
}
