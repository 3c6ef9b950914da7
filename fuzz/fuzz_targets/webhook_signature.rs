//! Stripe webhook signatures (`Stripe-Signature` headers from outside): any header, payload
//! and clock never panic, and a header signed with the secret verifies.
#![no_main]
use hmac::{KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use rouge_payments::stripe::verify_signature;

fuzz_target!(|data: (&str, &str, &[u8], i64)| {
    let (secret, header, payload, now) = data;
    let _ = verify_signature(secret, header, payload, now);
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(now.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let signed = format!("t={now},v1={sig}");
    assert!(verify_signature(secret, &signed, payload, now).is_ok(), "a fresh, correct signature was refused");
});
