//! Sealed values kept as text: a value sealed by the shop's [`Sealer`] (its own data key,
//! wrapped by the current master key) written as `rouge-sealed-v1:{json}`, so a column or a
//! blob holds it as it held the plain value. Stored answers of the idempotency layer and
//! webhook endpoints' signing secrets are kept this way.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rouge_orders::{Sealed, Sealer};

const PREFIX: &[u8] = b"rouge-sealed-v1:";

/// The stored form of a sealed value.
pub fn encode(s: &Sealed) -> Vec<u8> {
    let doc = serde_json::json!({"m": s.master_id, "k": STANDARD.encode(&s.key), "d": STANDARD.encode(&s.data)});
    [PREFIX, doc.to_string().as_bytes()].concat()
}

/// # Errors
/// When `bytes` is not a sealed value.
pub fn decode(bytes: &[u8]) -> Result<Sealed, String> {
    let doc = bytes.strip_prefix(PREFIX).ok_or("not a sealed value")?;
    let v: serde_json::Value = serde_json::from_slice(doc).map_err(|e| e.to_string())?;
    let field = |name: &str| v[name].as_str().map(str::to_owned).ok_or(format!("no `{name}`"));
    let bin = |name: &str| STANDARD.decode(field(name)?).map_err(|e| e.to_string());
    Ok(Sealed { master_id: field("m")?, key: bin("k")?, data: bin("d")? })
}

/// `plain` sealed for `owner`, as text.
pub fn seal_text(sealer: &dyn Sealer, owner: &str, plain: &str) -> String {
    // The encoding is ASCII: a prefix, then JSON of base64 strings.
    String::from_utf8_lossy(&encode(&sealer.seal(owner, plain.as_bytes()))).into_owned()
}

/// The value of a sealed text; a value stored before it was sealed is read as it is.
///
/// # Errors
/// When it does not open (a master key missing from the key directory, a damaged value).
pub fn open_text(sealer: &dyn Sealer, owner: &str, stored: &str) -> Result<String, String> {
    if !stored.as_bytes().starts_with(PREFIX) {
        return Ok(stored.to_owned());
    }
    let plain = sealer.open(owner, &decode(stored.as_bytes())?)?;
    String::from_utf8(plain).map_err(|e| e.to_string())
}

/// The text as it should be stored now: a plain value sealed, a sealed one whose key is
/// wrapped by an older master key re-wrapped; `None` when it is as it should be.
///
/// # Errors
/// When a sealed value's key cannot be re-wrapped.
pub fn reseal_text(sealer: &dyn Sealer, owner: &str, stored: &str) -> Result<Option<String>, String> {
    if !stored.as_bytes().starts_with(PREFIX) {
        return Ok(Some(seal_text(sealer, owner, stored)));
    }
    let mut sealed = decode(stored.as_bytes())?;
    let Some((master, key)) = sealer.rewrap(owner, &sealed.master_id, &sealed.key)? else { return Ok(None) };
    (sealed.master_id, sealed.key) = (master, key);
    Ok(Some(String::from_utf8_lossy(&encode(&sealed)).into_owned()))
}
