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

/// Item-kNN: cosine similarity of items on the binary train matrix, co(i, j) / √(n_i n_j); each
/// *target* item keeps its `k` most similar items (ties to the smaller id), and a user's score
/// of item j sums its similarities to the items she has among j's neighbours.
pub struct ItemKnn {
    pub k: usize,
    items: usize,
    /// Row-major; row i holds item i's similarity towards every target j (0 outside j's k).
    sims: Vec<f32>,
    train: Vec<Vec<u32>>,
}

impl ItemKnn {
    pub fn fit(split: &Split, k: usize) -> Self {
        let n = split.items();
        let mut co = vec![0f32; n * n];
        let mut count = vec![0f32; n];
        for items in &split.train {
            for &i in items {
                count[i as usize] += 1.0;
                for &j in items {
                    if i != j {
                        co[i as usize * n + j as usize] += 1.0;
                    }
                }
            }
        }
        let mut sims = vec![0f32; n * n];
        let mut column: Vec<(f32, usize)> = Vec::with_capacity(n);
        for j in 0..n {
            column.clear();
            for i in 0..n {
                let c = co[i * n + j];
                if c > 0.0 {
                    column.push((c / (count[i] * count[j]).sqrt(), i));
                }
            }
            column.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(s, i) in column.iter().take(k) {
                sims[i * n + j] = s;
            }
        }
        Self { k, items: n, sims, train: split.train.clone() }
    }
}

impl Recommender for ItemKnn {
    fn name(&self) -> String {
        format!("item-knn(k={})", self.k)
    }

    fn scores(&self, user: usize) -> Vec<f32> {
        sum_rows(&self.sims, self.items, &self.train[user])
    }
}

/// The sum of `rows` of an n-column row-major matrix.
fn sum_rows(m: &[f32], n: usize, rows: &[u32]) -> Vec<f32> {
    let mut s = vec![0f32; n];
    for &i in rows {
        for (x, w) in s.iter_mut().zip(&m[i as usize * n..(i as usize + 1) * n]) {
            *x += w;
        }
    }
    s
}

/// EASE^R (Steck, 2019): item-to-item weights from the train matrix X, in closed form:
/// G = XᵀX + λI, P = G⁻¹, B = −P / diag(P) (each column by its diagonal entry), diag(B) = 0;
/// a user's score of an item is the sum of its weights from the items she has.
pub struct Ease {
    pub lambda: f64,
    items: usize,
    /// B, row-major: row i holds item i's weights towards every item.
    weights: Vec<f32>,
    train: Vec<Vec<u32>>,
}

impl Ease {
    /// # Panics
    /// When `lambda` is not positive (G is then not positive definite in general).
    pub fn fit(split: &Split, lambda: f64) -> Self {
        assert!(lambda > 0.0, "EASE needs a positive λ");
        let n = split.items();
        let mut gram = faer::Mat::<f64>::zeros(n, n);
        for items in &split.train {
            for &i in items {
                for &j in items {
                    gram[(i as usize, j as usize)] += 1.0;
                }
            }
        }
        for i in 0..n {
            gram[(i, i)] += lambda;
        }
        let llt = faer::linalg::solvers::Llt::new(gram.as_ref(), faer::Side::Lower)
            .expect("XᵀX + λI is positive definite for λ > 0");
        let p = faer::linalg::solvers::DenseSolveCore::inverse(&llt);
        let mut weights = vec![0f32; n * n];
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    weights[i * n + j] = (-p[(i, j)] / p[(j, j)]) as f32;
                }
            }
        }
        Self { lambda, items: n, weights, train: split.train.clone() }
    }
}

impl Recommender for Ease {
    fn name(&self) -> String {
        format!("ease(λ={})", self.lambda)
    }

    fn scores(&self, user: usize) -> Vec<f32> {
        sum_rows(&self.weights, self.items, &self.train[user])
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

    #[test]
    fn ease_scores_items_that_go_with_hers_and_never_an_item_by_itself() {
        // Items 1 and 2 always go together in train; item 3 never with them.
        let mut rows = String::from("h\n");
        for u in 1..=6 {
            let (a, b) = if u <= 4 { (1, 2) } else { (3, 4) };
            for (t, i) in [(1, a), (2, b), (3, 5), (4, 6)] {
                rows.push_str(&format!("{u}\t{i}\t1\t{t}\n"));
            }
        }
        // User 7 has item 1 only in train (then two held out).
        rows.push_str("7\t1\t1\t1\n7\t5\t1\t2\n7\t6\t1\t3\n");
        let s = Split::from_inter(&rows).unwrap();
        let e = Ease::fit(&s, 1.0);
        let scores = e.scores(6);
        // Indexes: items 1..=6 are 0..=5.
        assert!(scores[1] > 0.0 && scores[1] > scores[2], "2 goes with 1: {scores:?}");
        assert_eq!(scores[0], 0.0, "no weight from an item to itself");
    }

    #[test]
    fn item_knn_keeps_each_targets_nearest_and_scores_by_cosine() {
        // Train: user 1 {1, 2}, user 2 {1, 2}, user 3 {1, 3} (each then two held out).
        let mut rows = String::from("h\n");
        for (u, (a, b)) in [(1, (1, 2)), (2, (1, 2)), (3, (1, 3))] {
            for (t, i) in [(1, a), (2, b), (3, 8), (4, 9)] {
                rows.push_str(&format!("{u}\t{i}\t1\t{t}\n"));
            }
        }
        let s = Split::from_inter(&rows).unwrap();
        let knn = ItemKnn::fit(&s, 1);
        // Item 1 (index 0) seen by 3 users, item 2 by 2, item 3 by 1: cos(1, 2) = 2/√6,
        // cos(1, 3) = 1/√3. User 3 has {1, 3}: item 2's one neighbour is item 1.
        let scores = knn.scores(2);
        assert!((scores[1] - 2.0 / 6f32.sqrt()).abs() < 1e-6, "{scores:?}");
        // Item 1's one neighbour is item 2 (2/√6 > 1/√3), which she lacks: 0 from item 3.
        assert_eq!(scores[0], 0.0, "{scores:?}");
    }
}
