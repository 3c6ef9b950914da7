//! Codes as shoppers type them, and batches of unique codes generated for staff.

/// Letters and digits that cannot be mistaken for one another when read aloud or printed
/// (no 0/O, 1/I/L): 31 of them.
const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A code in its one spelling: trimmed, upper case; `None` when it cannot be one
/// (3 to 32 letters, digits, `-` or `_`).
pub fn normalize(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    let ok = (3..=32).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    ok.then_some(code)
}

/// `count` random codes `PREFIX` + `length` characters from [`ALPHABET`] (bytes from 248 up
/// are drawn again, so every character is equally likely). Collisions with existing codes are left to
/// the store's uniqueness check (the caller draws again); at 10 characters there are 31^10
/// ≈ 8·10^14 codes.
pub fn generate(prefix: &str, length: usize, count: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(count);
    let mut byte = [0u8; 1];
    for _ in 0..count {
        let mut code = String::from(prefix);
        while code.len() < prefix.len() + length {
            aws_lc_rs::rand::fill(&mut byte).expect("the system random source");
            if byte[0] < 248 {
                code.push(char::from(ALPHABET[usize::from(byte[0] % 31)]));
            }
        }
        out.push(code);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_one_spelling() {
        assert_eq!(normalize("  spring-20 ").as_deref(), Some("SPRING-20"));
        assert_eq!(normalize("ab"), None, "too short");
        assert_eq!(normalize("no spaces"), None);
        assert_eq!(normalize("É20"), None);
    }

    #[test]
    fn generated_codes_are_valid_distinct_and_unambiguous() {
        let codes = generate("VIP-", 10, 2000);
        let distinct: std::collections::HashSet<&String> = codes.iter().collect();
        assert_eq!(distinct.len(), 2000);
        for c in &codes {
            assert_eq!(normalize(c).as_ref(), Some(c));
            assert!(c.starts_with("VIP-") && c.len() == 14);
            assert!(!c[4..].contains(['0', 'O', '1', 'I', 'L']), "{c}");
        }
    }
}
