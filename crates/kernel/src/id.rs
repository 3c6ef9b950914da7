use uuid::Uuid;

/// A new time-ordered identifier (UUIDv7): sorts by creation time, so indexes stay compact.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_version_7_and_increase() {
        let a = super::new_id();
        let b = super::new_id();
        assert_eq!(a.get_version_num(), 7);
        assert!(b > a);
    }
}
