use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};

/// An opaque pagination cursor: the position after the last item a client has seen, encoded
/// so clients pass it back without building or reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one this server issued (pass back `next_cursor` unchanged)")]
pub struct CursorError;

impl Cursor {
    pub fn encode<T: Serialize>(position: &T) -> Self {
        let json = serde_json::to_vec(position).expect("cursor positions serialise");
        Self(URL_SAFE_NO_PAD.encode(json))
    }

    pub fn decode<T: DeserializeOwned>(raw: &str) -> Result<T, CursorError> {
        if raw.len() > 512 {
            return Err(CursorError);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| CursorError)?;
        serde_json::from_slice(&bytes).map_err(|_| CursorError)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let c = Cursor::encode(&("price_asc", 1299_i64, "abc"));
        let back: (String, i64, String) = Cursor::decode(c.as_str()).unwrap();
        assert_eq!(back, ("price_asc".to_string(), 1299, "abc".to_string()));
        assert!(Cursor::decode::<(String, i64, String)>("not base64!").is_err());
        assert!(Cursor::decode::<(String, i64, String)>(&"A".repeat(600)).is_err());
        assert!(Cursor::decode::<(String, i64, String)>(&Cursor::encode(&42).into_string()).is_err());
    }
}
