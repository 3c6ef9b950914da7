//! The model of our own, **sequence-aware EASE^R**: the items a customer has are not equal,
//! the latest say most about what she does next. Two parts, each trained on the train
//! sequences only:
//!
//! - EASE^R's item-to-item weights read with a *recency* input: the item she had `a` steps ago
//!   weighs e^(−a/τ) instead of 1 (long memory: τ around ten steps).
//! - *Transitions*: how often item j follows item i within a window of the next `window`
//!   steps in anyone's train sequence, 1/d for a follower d steps later, normalised like a cosine
//!   (÷ √(i's out-weight · j's in-weight)); read with a short-memory input (τ′ of a few steps).
//!
//! Score = recency-EASE + β · scale · transitions, `scale` making the two parts' root mean
//! squares equal over every user and item on train so β alone sets their balance. τ, τ′, β
//! and EASE's λ are chosen on validation.

use crate::models::{Ease, Recommender, weigh_rows};
use crate::split::Split;
use std::sync::Arc;

/// Item i's weight towards each follower j (row-major, `items` columns).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Transitions {
    pub window: usize,
    items: usize,
    weights: Vec<f32>,
}

impl Transitions {
    pub fn fit(split: &Split, window: usize) -> Self {
        Self::fit_sequences(&split.sequences, split.items(), window)
    }

    /// From sequences of item indexes below `n`, oldest first.
    pub fn fit_sequences(sequences: &[Vec<u32>], n: usize, window: usize) -> Self {
        let mut counts = vec![0f64; n * n];
        for seq in sequences {
            for (p, &i) in seq.iter().enumerate() {
                for (d, &j) in seq.iter().skip(p + 1).take(window).enumerate() {
                    if i != j {
                        counts[i as usize * n + j as usize] += 1.0 / (d + 1) as f64;
                    }
                }
            }
        }
        let out: Vec<f64> = (0..n).map(|i| counts[i * n..(i + 1) * n].iter().sum::<f64>().max(1.0)).collect();
        let mut into = vec![0f64; n];
        for i in 0..n {
            for (j, c) in counts[i * n..(i + 1) * n].iter().enumerate() {
                into[j] += c;
            }
        }
        let weights =
            counts.iter().enumerate().map(|(k, c)| (c / (out[k / n] * into[k % n].max(1.0)).sqrt()) as f32).collect();
        Self { window, items: n, weights }
    }

    /// Scores from weighted items: the sum of their rows.
    pub fn weigh(&self, input: impl IntoIterator<Item = (u32, f32)>) -> Vec<f32> {
        weigh_rows(&self.weights, self.items, input)
    }
}

/// Each distinct item of a sequence (oldest first) weighted e^(−age/τ), its age counted in
/// steps from the latest (0); a repeated item takes its latest occurrence.
pub fn recency(sequence: &[u32], tau: f32) -> Vec<(u32, f32)> {
    let n = sequence.len();
    let mut weighted: Vec<(u32, f32)> = vec![];
    for (p, &i) in sequence.iter().enumerate().rev() {
        if !weighted.iter().any(|(j, _)| *j == i) {
            weighted.push((i, (-((n - 1 - p) as f32) / tau).exp()));
        }
    }
    weighted
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct SequenceEase {
    #[serde(with = "crate::shared")]
    ease: Arc<Ease>,
    #[serde(with = "crate::shared")]
    transitions: Arc<Transitions>,
    pub tau: f32,
    pub short_tau: f32,
    pub beta: f32,
    scale: f32,
    /// The users' sequences, for scoring them offline (not kept with a trained model).
    #[serde(skip)]
    sequences: Vec<Vec<u32>>,
}

impl SequenceEase {
    /// Over these users' sequences (the scale is theirs).
    pub fn from_sequences(
        sequences: Vec<Vec<u32>>,
        ease: Arc<Ease>,
        transitions: Arc<Transitions>,
        tau: f32,
        short_tau: f32,
        beta: f32,
    ) -> Self {
        let mut model = Self { ease, transitions, tau, short_tau, beta, scale: 1.0, sequences };
        let (mut long, mut short) = (0f64, 0f64);
        for seq in &model.sequences {
            let (e, t) = model.parts(seq);
            long += e.iter().map(|x| f64::from(x * x)).sum::<f64>();
            short += t.iter().map(|x| f64::from(x * x)).sum::<f64>();
        }
        if short > 0.0 {
            model.scale = (long / short).sqrt() as f32;
        }
        model
    }

    /// Its EASE^R part.
    pub fn ease(&self) -> &Ease {
        &self.ease
    }

    /// The recency-EASE part and the (unscaled) transitions part of a sequence's scores.
    fn parts(&self, sequence: &[u32]) -> (Vec<f32>, Vec<f32>) {
        (self.ease.weigh(recency(sequence, self.tau)), self.transitions.weigh(recency(sequence, self.short_tau)))
    }

    /// The scores of every item after `sequence` (item indexes, oldest first).
    pub fn scores_of(&self, sequence: &[u32]) -> Vec<f32> {
        let (mut scores, follow) = self.parts(sequence);
        let k = self.beta * self.scale;
        for (s, t) in scores.iter_mut().zip(follow) {
            *s += k * t;
        }
        scores
    }
}

impl Recommender for SequenceEase {
    fn name(&self) -> String {
        format!(
            "seq-ease(λ={},τ={},τ′={},β={},w={})",
            self.ease.lambda, self.tau, self.short_tau, self.beta, self.transitions.window
        )
    }

    fn scores(&self, user: usize) -> Vec<f32> {
        self.scores_of(&self.sequences[user])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recency_weighs_the_latest_most_and_counts_a_repeat_once() {
        let w = recency(&[5, 7, 5, 9], 2.0);
        assert_eq!(w.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [9, 5, 7]);
        let expect = [1.0, (-0.5f32).exp(), (-1f32).exp()];
        for ((_, got), want) in w.iter().zip(expect) {
            assert!((got - want).abs() < 1e-6, "{w:?}");
        }
    }

    /// Ten users who each watch 1 → 2 → 3 → 4 (then hold out 5 and 6), and one who watched
    /// 3 then 1 then 2: what follows her latest matters more than what she had long ago.
    fn ordered() -> Split {
        let mut rows = String::from("h\n");
        for u in 1..=10 {
            for (t, i) in [1, 2, 3, 4, 5, 6].iter().enumerate() {
                rows.push_str(&format!("{u}\t{i}\t1\t{t}\n"));
            }
        }
        for (t, i) in [3, 1, 2, 7, 8].iter().enumerate() {
            rows.push_str(&format!("11\t{i}\t1\t{t}\n"));
        }
        Split::from_inter(&rows).unwrap()
    }

    #[test]
    fn transitions_weigh_followers_by_how_soon_they_follow() {
        let s = ordered();
        let t = Transitions::fit(&s, 2);
        let after = |i: u32| t.weigh([(i, 1.0)]);
        // Item 1 (index 0) is followed next by 2 (eleven times), then by 3 (ten times, two
        // steps later: half weight each); never by 4 within the window. Normalised:
        // (11 / 5) · √(15 / 11.5) ≈ 2.5 (without the 1/d decay it would be 1.4).
        let a = after(0);
        assert!(a[1] > 2.0 * a[2] && a[2] > 0.0 && a[3] == 0.0, "{a:?}");
        // Nothing follows an item to itself, and nothing precedes 1.
        assert_eq!((a[0], after(1)[0]), (0.0, 0.0));
    }

    #[test]
    fn the_sequence_part_ranks_what_follows_her_latest_item() {
        let s = ordered();
        let ease = Arc::new(Ease::fit(&s, 1.0));
        let transitions = Arc::new(Transitions::fit(&s, 3));
        // User 11 had 3, 1, 2 in train: 3 (which follows 2) before 4 once order counts.
        let ours = SequenceEase::from_sequences(s.sequences.clone(), ease.clone(), transitions.clone(), 2.0, 1.0, 1.0);
        let scores = ours.scores(10);
        assert!(scores[3] > 0.0, "4 follows 2 and 3: {scores:?}");
        // β = 0 drops the transitions: scores are recency-EASE alone.
        let alone = SequenceEase::from_sequences(s.sequences.clone(), ease.clone(), transitions, 2.0, 1.0, 0.0);
        assert_eq!(alone.scores(10), ease.weigh(recency(&s.sequences[10], 2.0)));
        assert!(scores[3] > alone.scores(10)[3], "transitions add 4 after 2: {scores:?}");
    }
}
