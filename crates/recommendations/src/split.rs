//! The protocol's split: every row one implicit interaction; each user's interactions sorted
//! by (timestamp, item id); the last is the test item, the one before the validation item, the
//! rest train. Items are every item in the file, indexed in ascending id order (so an index
//! order is an id order, which the ranking's tie-break needs).

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The digest the protocol publishes for MovieLens 100K.
pub const PROTOCOL_DIGEST: &str = "1043354bdc01bc9d7554d35e73718aa47da33e1b83092ccffa9aeda7e6ccc1fd";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SplitError {
    #[error("line {line}: {why}")]
    Malformed { line: usize, why: String },
    #[error("user {0} has fewer than three interactions: nothing to train on")]
    TooFew(u32),
    #[error("no interactions")]
    Empty,
}

/// Users (ascending id) with their train items and held-out items, as item indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub user_ids: Vec<u32>,
    /// Every item id, ascending: an item's index is its position here.
    pub item_ids: Vec<u32>,
    /// Each user's train items (indexes, ascending, without repeats).
    pub train: Vec<Vec<u32>>,
    /// Each user's train interactions in the protocol's order (by time, then item id), oldest
    /// first: the sequence models read it.
    pub sequences: Vec<Vec<u32>>,
    pub validation: Vec<u32>,
    pub test: Vec<u32>,
    /// Train interactions, repeats included.
    pub train_interactions: usize,
}

impl Split {
    /// Splits a `.inter` file's text (tab-separated, a header line, then `user item rating
    /// timestamp` rows).
    ///
    /// # Errors
    /// A malformed line, a user with fewer than three interactions, or no rows.
    pub fn from_inter(text: &str) -> Result<Split, SplitError> {
        let mut by_user: BTreeMap<u32, Vec<(f64, u32)>> = BTreeMap::new();
        for (n, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |why: &str| SplitError::Malformed { line: n + 1, why: why.to_owned() };
            let mut cols = line.split('\t');
            let user = cols.next().and_then(|c| c.trim().parse::<u32>().ok()).ok_or_else(|| bad("no user id"))?;
            let item = cols.next().and_then(|c| c.trim().parse::<u32>().ok()).ok_or_else(|| bad("no item id"))?;
            let _rating = cols.next().ok_or_else(|| bad("no rating"))?;
            let at = cols.next().and_then(|c| c.trim().parse::<f64>().ok()).ok_or_else(|| bad("no timestamp"))?;
            by_user.entry(user).or_default().push((at, item));
        }
        if by_user.is_empty() {
            return Err(SplitError::Empty);
        }
        let mut item_ids: Vec<u32> = by_user.values().flatten().map(|(_, i)| *i).collect();
        item_ids.sort_unstable();
        item_ids.dedup();
        let index = |id: u32| item_ids.binary_search(&id).expect("every item is indexed") as u32;
        let mut split = Split {
            user_ids: vec![],
            item_ids: item_ids.clone(),
            train: vec![],
            sequences: vec![],
            validation: vec![],
            test: vec![],
            train_interactions: 0,
        };
        for (user, mut rows) in by_user {
            if rows.len() < 3 {
                return Err(SplitError::TooFew(user));
            }
            rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let test = rows.pop().expect("three or more").1;
            let validation = rows.pop().expect("two or more").1;
            split.train_interactions += rows.len();
            let sequence: Vec<u32> = rows.iter().map(|(_, i)| index(*i)).collect();
            let mut train = sequence.clone();
            train.sort_unstable();
            train.dedup();
            split.sequences.push(sequence);
            split.user_ids.push(user);
            split.train.push(train);
            split.validation.push(index(validation));
            split.test.push(index(test));
        }
        Ok(split)
    }

    /// SHA-256 of `"{user}\t{validation item}\t{test item}\n"` for users in ascending id order.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for (u, user) in self.user_ids.iter().enumerate() {
            let (v, t) = (self.item_ids[self.validation[u] as usize], self.item_ids[self.test[u] as usize]);
            h.update(format!("{user}\t{v}\t{t}\n").as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn users(&self) -> usize {
        self.user_ids.len()
    }

    pub fn items(&self) -> usize {
        self.item_ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTER: &str = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n\
        2\t30\t5\t100\n1\t10\t3\t50\n1\t20\t1\t50\n1\t40\t4\t60\n1\t30\t4\t70\n2\t10\t2\t90\n2\t40\t1\t80\n";

    #[test]
    fn the_last_two_by_time_then_item_are_held_out() {
        let s = Split::from_inter(INTER).unwrap();
        assert_eq!((s.user_ids.clone(), s.item_ids.clone()), (vec![1, 2], vec![10, 20, 30, 40]));
        // User 1 in order: (50, 10), (50, 20), (60, 40), (70, 30).
        assert_eq!((s.train[0].clone(), s.validation[0], s.test[0]), (vec![0, 1], 3, 2));
        assert_eq!(s.sequences, [vec![0, 1], vec![3]]);
        // User 2: (80, 40), (90, 10), (100, 30).
        assert_eq!((s.train[1].clone(), s.validation[1], s.test[1]), (vec![3], 0, 2));
        assert_eq!(s.train_interactions, 3);
        let mut h = Sha256::new();
        h.update(b"1\t40\t30\n2\t10\t30\n");
        let expected: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(s.digest(), expected);
    }

    #[test]
    fn equal_times_are_ordered_by_item_id_and_bad_input_is_named() {
        let tie = "h\n1\t9\t1\t5\n1\t2\t1\t5\n1\t3\t1\t4\n1\t7\t1\t5\n";
        let s = Split::from_inter(tie).unwrap();
        assert_eq!((s.item_ids[s.validation[0] as usize], s.item_ids[s.test[0] as usize]), (7, 9));
        // Train in order: 3 (earlier), then 2 (same time as 7 and 9, smaller id).
        assert_eq!(s.sequences[0].iter().map(|&i| s.item_ids[i as usize]).collect::<Vec<_>>(), [3, 2]);
        assert_eq!(Split::from_inter("h\n1\t2\t3\t4\n1\t2\t3\t5\n"), Err(SplitError::TooFew(1)));
        assert!(matches!(Split::from_inter("h\n1\tx\t3\t4\n"), Err(SplitError::Malformed { line: 2, .. })));
        assert_eq!(Split::from_inter("h\n"), Err(SplitError::Empty));
    }
}
