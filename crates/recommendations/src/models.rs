//! The recommenders: each scores every item for a user, trained on the split's train items.

use crate::split::Split;

pub trait Recommender {
    fn name(&self) -> String;
    /// The user's score of every item (by index); higher is better.
    fn scores(&self, user: usize) -> Vec<f32>;
}

/// Popularity: how many users have each item in train, the same for everyone.
pub struct Popularity {
    counts: Vec<f32>,
}

impl Popularity {
    pub fn fit(split: &Split) -> Self {
        let mut counts = vec![0f32; split.items()];
        for items in &split.train {
            for i in items {
                counts[*i as usize] += 1.0;
            }
        }
        Self { counts }
    }
}

impl Recommender for Popularity {
    fn name(&self) -> String {
        "popularity".into()
    }

    fn scores(&self, _user: usize) -> Vec<f32> {
        self.counts.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popularity_counts_users_in_train() {
        let s = Split::from_inter(
            "h\n1\t1\t1\t1\n1\t2\t1\t2\n1\t3\t1\t3\n1\t4\t1\t4\n2\t1\t1\t1\n2\t3\t1\t2\n2\t4\t1\t3\n",
        )
        .unwrap();
        // Train: user 1 {1, 2}, user 2 {1}.
        assert_eq!(Popularity::fit(&s).scores(0), [2.0, 1.0, 0.0, 0.0]);
    }
}
