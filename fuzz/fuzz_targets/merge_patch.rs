//! RFC 7386 merge patches from outside (PATCH bodies): applying any patch to any document
//! never panics, and applying it twice changes nothing more (a merge patch is idempotent).
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Array(pair)) = serde_json::from_slice::<Value>(data) else { return };
    let [target, patch] = <[Value; 2]>::try_from(pair).unwrap_or_default();
    let mut once = target;
    rouge_kernel::merge_patch(&mut once, &patch);
    let mut twice = once.clone();
    rouge_kernel::merge_patch(&mut twice, &patch);
    assert_eq!(once, twice, "a merge patch applied twice changed more");
});
