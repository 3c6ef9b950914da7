//! INCI ingredient names from outside (product input, filters, `/v1/ingredients/{name}`):
//! normalising never panics and is idempotent; display and lookups take whatever it gives.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rouge_catalog::inci::{IngredientBook, display, normalise};

fuzz_target!(|raw: &str| {
    let key = normalise(raw);
    assert_eq!(normalise(&key), key, "normalising twice changed the key");
    let _ = display(&key);
    let book = IngredientBook::get();
    let _ = book.resolve(raw);
    let _ = book.is_allergen(&key);
});
