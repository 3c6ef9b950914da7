//! Pagination cursors from outside (`?cursor=`): decoding anything never panics, and a
//! position of the shape listings use decodes back to itself once encoded. (Arbitrary JSON
//! numbers are not compared: a float may differ in its last digit after a round trip, and no
//! cursor holds floats.)
#![no_main]
use libfuzzer_sys::fuzz_target;
use rouge_kernel::Cursor;

fuzz_target!(|raw: &str| {
    let _ = Cursor::decode::<serde_json::Value>(raw);
    if let Ok(position) = Cursor::decode::<(i64, String)>(raw) {
        let again = Cursor::encode(&position);
        assert_eq!(Cursor::decode::<(i64, String)>(again.as_str()).ok(), Some(position));
    }
});
