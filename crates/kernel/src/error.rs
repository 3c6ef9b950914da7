use serde::Serialize;

/// One invalid field of a request: where (`field`, a dotted path), what rule (`code`), and a
/// sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

/// Collects every invalid field of one input, so a client learns all its mistakes at once.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Validation {
    errors: Vec<FieldError>,
}

impl Validation {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.errors.push(FieldError { field: field.into(), code, message: message.into() });
    }

    /// Runs a parse and records its error under `field`; returns the value when it parsed.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, code, e.to_string());
                None
            }
        }
    }

    pub fn extend(&mut self, prefix: &str, other: Validation) {
        for mut e in other.errors {
            e.field = if e.field.is_empty() { prefix.to_string() } else { format!("{prefix}.{}", e.field) };
            self.errors.push(e);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// `Ok(value)` when nothing was recorded, the collected errors otherwise.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<FieldError>> {
        if self.errors.is_empty() { Ok(value()) } else { Err(self.errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_errors_carry_their_path() {
        let mut inner = Validation::new();
        inner.push("sku", "invalid", "bad sku");
        let mut outer = Validation::new();
        outer.extend("variants[0]", inner);
        assert_eq!(outer.errors()[0].field, "variants[0].sku");
        assert!(outer.finish(|| ()).is_err());
    }
}
