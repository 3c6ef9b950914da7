//! Validation of staff-defined attribute values against their definitions.

use crate::model::{AttributeDefinition, AttributeKind};
use rouge_kernel::Validation;
use serde_json::Value;

const MAX_TEXT: usize = 500;

/// Checks one value against its definition; the error says what was expected.
pub fn check_value(def: &AttributeDefinition, value: &Value) -> Result<(), String> {
    match (&def.kind, value) {
        (AttributeKind::Text, Value::String(s)) if s.chars().count() <= MAX_TEXT => Ok(()),
        (AttributeKind::Text, _) => Err(format!("`{}` takes a text of at most {MAX_TEXT} characters", def.name)),
        (AttributeKind::Number { .. }, Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => Ok(()),
        (AttributeKind::Number { unit }, _) => Err(format!(
            "`{}` takes a number{}",
            def.name,
            unit.as_deref().map(|u| format!(" in {u}")).unwrap_or_default()
        )),
        (AttributeKind::Enum { values }, Value::String(s)) if values.contains(s) => Ok(()),
        (AttributeKind::Enum { values }, _) => Err(format!("`{}` takes one of: {}", def.name, values.join(", "))),
        (AttributeKind::Boolean, Value::Bool(_)) => Ok(()),
        (AttributeKind::Boolean, _) => Err(format!("`{}` takes true or false", def.name)),
        (AttributeKind::List, Value::Array(items))
            if items.len() <= 50 && items.iter().all(|i| i.as_str().is_some_and(|s| s.chars().count() <= 200)) =>
        {
            Ok(())
        }
        (AttributeKind::List, _) => Err(format!("`{}` takes a list of at most 50 texts", def.name)),
    }
}

/// Validates a product's attribute map against the definitions for its product type.
pub fn validate(attrs: &std::collections::BTreeMap<String, Value>, defs: &[AttributeDefinition], v: &mut Validation) {
    for (name, value) in attrs {
        let field = format!("attributes.{name}");
        match defs.iter().find(|d| &d.name == name && !d.archived) {
            None => {
                v.push(field, "unknown_attribute", format!("no attribute `{name}` is defined for this product type"))
            }
            Some(def) => {
                if let Err(msg) = check_value(def, value) {
                    v.push(field, "invalid_attribute", msg);
                }
            }
        }
    }
}

/// Whether a stored value matches a filter given as text in a query string.
pub fn matches_filter(kind: &AttributeKind, value: &Value, wanted: &str) -> bool {
    match (kind, value) {
        (AttributeKind::Boolean, Value::Bool(b)) => wanted.parse::<bool>().is_ok_and(|w| w == *b),
        (AttributeKind::Number { .. }, Value::Number(n)) => {
            wanted.parse::<f64>().ok().zip(n.as_f64()).is_some_and(|(w, n)| (w - n).abs() < 1e-9)
        }
        (AttributeKind::List, Value::Array(items)) => {
            items.iter().any(|i| i.as_str().is_some_and(|s| s.eq_ignore_ascii_case(wanted)))
        }
        (_, Value::String(s)) => s.eq_ignore_ascii_case(wanted),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::ProductType;
    use serde_json::json;

    fn def(name: &str, kind: AttributeKind) -> AttributeDefinition {
        AttributeDefinition {
            id: rouge_kernel::new_id(),
            product_type: ProductType::Tools,
            name: name.into(),
            label: name.into(),
            kind,
            filterable: true,
            archived: false,
            version: 1,
        }
    }

    #[test]
    fn values_must_match_their_kind() {
        let bristle = def("bristle", AttributeKind::Enum { values: vec!["synthetic".into(), "natural".into()] });
        assert!(check_value(&bristle, &json!("synthetic")).is_ok());
        assert!(check_value(&bristle, &json!("plastic")).unwrap_err().contains("synthetic, natural"));
        let len = def("length", AttributeKind::Number { unit: Some("mm".into()) });
        assert!(check_value(&len, &json!(120)).is_ok());
        assert!(check_value(&len, &json!("120")).unwrap_err().contains("in mm"));
        assert!(check_value(&def("b", AttributeKind::Boolean), &json!(1)).is_err());
        assert!(check_value(&def("l", AttributeKind::List), &json!(["a", "b"])).is_ok());
        assert!(check_value(&def("l", AttributeKind::List), &json!(["a", 1])).is_err());
    }

    #[test]
    fn unknown_attributes_are_reported_by_field() {
        let defs = vec![def("length", AttributeKind::Number { unit: None })];
        let attrs = [("colour".to_string(), json!("red"))].into_iter().collect();
        let mut v = Validation::new();
        validate(&attrs, &defs, &mut v);
        assert_eq!(v.errors()[0].field, "attributes.colour");
    }

    #[test]
    fn filters_compare_by_kind() {
        assert!(matches_filter(&AttributeKind::Boolean, &json!(true), "true"));
        assert!(matches_filter(&AttributeKind::Number { unit: None }, &json!(30), "30"));
        assert!(matches_filter(&AttributeKind::List, &json!(["Vegan", "x"]), "vegan"));
        assert!(!matches_filter(&AttributeKind::Text, &json!("a"), "b"));
    }
}
