//! Full ranking over every item not in the user's train set; the held-out item's 1-based rank
//! among them by score, highest first, equal scores to the smaller item id first. HR@10,
//! NDCG@10 and Recall@20 averaged over users with their standard errors; coverage@10 the share
//! of items in some user's top ten; models compared paired over users.

use crate::split::Split;
use serde::Serialize;

/// Which held-out item is ranked (the other one is a candidate like any unseen item).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ranking {
    Validation,
    Test,
}

/// A mean over users and its standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mean {
    pub mean: f64,
    pub se: f64,
}

impl Mean {
    pub fn of(xs: &[f64]) -> Mean {
        let n = xs.len() as f64;
        if xs.is_empty() {
            return Mean { mean: 0.0, se: 0.0 };
        }
        let mean = xs.iter().sum::<f64>() / n;
        let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
        Mean { mean, se: (var / n).sqrt() }
    }
}

impl std::fmt::Display for Mean {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.4} ± {:.4}", self.mean, self.se)
    }
}

/// A model's figures on one ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub ranking: Ranking,
    pub hr10: Mean,
    pub ndcg10: Mean,
    pub recall20: Mean,
    pub coverage10: f64,
    /// Each user's held-out rank (for paired comparisons).
    #[serde(skip)]
    pub ranks: Vec<usize>,
}

/// The held-out item's rank among the candidates (items outside `train`, which is sorted).
pub fn rank(scores: &[f32], train: &[u32], held: u32) -> usize {
    let s = scores[held as usize];
    let ahead = scores
        .iter()
        .enumerate()
        .filter(|(i, x)| {
            let i = *i as u32;
            (**x > s || (**x == s && i < held)) && train.binary_search(&i).is_err()
        })
        .count();
    ahead + 1
}

/// The ten best candidates, best first (ties to the smaller index).
pub fn top10(scores: &[f32], train: &[u32]) -> Vec<u32> {
    let mut best: Vec<(f32, u32)> = Vec::with_capacity(11);
    for (i, &x) in scores.iter().enumerate() {
        let i = i as u32;
        if train.binary_search(&i).is_ok() {
            continue;
        }
        if best.len() == 10 && x <= best[9].0 {
            continue;
        }
        let at = best.partition_point(|&(y, j)| y > x || (y == x && j < i));
        best.insert(at, (x, i));
        best.truncate(10);
    }
    best.into_iter().map(|(_, i)| i).collect()
}

/// Ranks every user's held-out item with `scores` (a user's score of every item).
pub fn evaluate(split: &Split, ranking: Ranking, scores: impl Fn(usize) -> Vec<f32>) -> Figures {
    let mut ranks = Vec::with_capacity(split.users());
    let mut seen = vec![false; split.items()];
    for u in 0..split.users() {
        let s = scores(u);
        let held = match ranking {
            Ranking::Validation => split.validation[u],
            Ranking::Test => split.test[u],
        };
        ranks.push(rank(&s, &split.train[u], held));
        for i in top10(&s, &split.train[u]) {
            seen[i as usize] = true;
        }
    }
    figures(ranking, ranks, seen.iter().filter(|s| **s).count() as f64 / split.items() as f64)
}

fn figures(ranking: Ranking, ranks: Vec<usize>, coverage10: f64) -> Figures {
    let of = |f: fn(usize) -> f64| Mean::of(&ranks.iter().map(|r| f(*r)).collect::<Vec<_>>());
    Figures {
        ranking,
        hr10: of(|r| f64::from(u8::from(r <= 10))),
        ndcg10: of(|r| if r <= 10 { 1.0 / ((r + 1) as f64).log2() } else { 0.0 }),
        recall20: of(|r| f64::from(u8::from(r <= 20))),
        coverage10,
        ranks,
    }
}

/// `a` − `b` in HR@10, paired over users: the mean difference and its paired standard error.
pub fn paired(a: &Figures, b: &Figures) -> Mean {
    let hit = |r: usize| f64::from(u8::from(r <= 10));
    Mean::of(&a.ranks.iter().zip(&b.ranks).map(|(x, y)| hit(*x) - hit(*y)).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_skip_train_items_and_break_ties_by_the_smaller_id() {
        let scores = [0.9, 0.5, 0.5, 0.7, 0.5];
        // Item 0 is in train: item 3 leads, then 1, 2, 4 by id among equals.
        assert_eq!(rank(&scores, &[0], 3), 1);
        assert_eq!(rank(&scores, &[0], 1), 2);
        assert_eq!(rank(&scores, &[0], 4), 4);
        assert_eq!(rank(&scores, &[], 4), 5);
        assert_eq!(top10(&scores, &[0]), [3, 1, 2, 4]);
    }

    #[test]
    fn metrics_follow_their_definitions() {
        let f = figures(Ranking::Test, vec![1, 10, 11, 20, 21], 0.5);
        assert!((f.hr10.mean - 0.4).abs() < 1e-12);
        assert!((f.recall20.mean - 0.8).abs() < 1e-12);
        let ndcg = (1.0 + 1.0 / 11f64.log2()) / 5.0;
        assert!((f.ndcg10.mean - ndcg).abs() < 1e-12);
        // Sample standard error of [1, 1, 0, 0, 0]: sqrt(0.3 / 5).
        assert!((f.hr10.se - (0.3f64 / 5.0).sqrt()).abs() < 1e-12);
        let g = figures(Ranking::Test, vec![1, 1, 1, 30, 30], 0.5);
        let d = paired(&g, &f);
        assert!((d.mean - 0.2).abs() < 1e-12, "{d:?}");
    }
}
