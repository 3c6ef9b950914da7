//! The recommenders: each scores every item for a user, trained on the split's train items.

use crate::split::Split;

pub trait Recommender {
    fn name(&self) -> String;
    /// The user's score of every item (by index); higher is better.
    fn scores(&self, user: usize) -> Vec<f32>;
}

impl<R: Recommender + ?Sized> Recommender for std::sync::Arc<R> {
    fn name(&self) -> String {
        (**self).name()
    }

    fn scores(&self, user: usize) -> Vec<f32> {
        (**self).scores(user)
    }
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
        weigh_rows(&self.sims, self.items, self.train[user].iter().map(|&i| (i, 1.0)))
    }
}

/// The sum of `rows` of an n-column row-major matrix, each row times its weight.
pub(crate) fn weigh_rows(m: &[f32], n: usize, rows: impl IntoIterator<Item = (u32, f32)>) -> Vec<f32> {
    let mut s = vec![0f32; n];
    for (i, weight) in rows {
        for (x, w) in s.iter_mut().zip(&m[i as usize * n..(i as usize + 1) * n]) {
            *x += weight * w;
        }
    }
    s
}

/// EASE^R (Steck, 2019): item-to-item weights from the train matrix X, in closed form:
/// G = XᵀX + λI, P = G⁻¹, B = −P / diag(P) (each column by its diagonal entry), diag(B) = 0;
/// a user's score of an item is the sum of its weights from the items she has.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Ease {
    pub lambda: f64,
    items: usize,
    /// B, row-major: row i holds item i's weights towards every item.
    weights: Vec<f32>,
    /// The users' items, for scoring them offline (not kept with a trained model).
    #[serde(skip)]
    train: Vec<Vec<u32>>,
}

impl Ease {
    /// # Panics
    /// When `lambda` is not positive (G is then not positive definite in general).
    pub fn fit(split: &Split, lambda: f64) -> Self {
        Self::fit_sets(&split.train, split.items(), lambda)
    }

    /// From each user's set of items (indexes below `n`, without repeats).
    ///
    /// # Panics
    /// When `lambda` is not positive.
    pub fn fit_sets(train: &[Vec<u32>], n: usize, lambda: f64) -> Self {
        assert!(lambda > 0.0, "EASE needs a positive λ");
        let mut gram = faer::Mat::<f64>::zeros(n, n);
        for items in train {
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
        Self { lambda, items: n, weights, train: train.to_vec() }
    }

    /// Item i's weight towards item j.
    pub fn weight(&self, i: u32, j: u32) -> f32 {
        self.weights[i as usize * self.items + j as usize]
    }

    /// Item i's row of weights.
    pub fn row(&self, i: u32) -> &[f32] {
        &self.weights[i as usize * self.items..(i as usize + 1) * self.items]
    }
}

impl Recommender for Ease {
    fn name(&self) -> String {
        format!("ease(λ={})", self.lambda)
    }

    fn scores(&self, user: usize) -> Vec<f32> {
        self.weigh(self.train[user].iter().map(|&i| (i, 1.0)))
    }
}

impl Ease {
    /// Scores from weighted items (an item weighs 1 in the plain model).
    pub fn weigh(&self, input: impl IntoIterator<Item = (u32, f32)>) -> Vec<f32> {
        weigh_rows(&self.weights, self.items, input)
    }
}

/// ALS on implicit feedback (Hu, Koren & Volinsky, 2008): user and item factors of `factors`
/// dimensions minimising Σ c_ui (p_ui − x_uᵀy_i)² + λ(‖x‖² + ‖y‖²) over *every* user–item pair,
/// where p_ui = 1 for a train interaction (else 0) and its confidence c_ui = 1 + α (else 1).
/// Each half step solves every user (then item) with the other side fixed:
/// (YᵀY + α Y_uᵀY_u + λI) x_u = (1 + α) Σ_{i ∈ u} y_i, by three steps of conjugate gradient
/// started from the previous x_u (Takács, Pilászy & Tikk, 2011: as good as the exact solve
/// after a few alternations, and f times cheaper, so f = 128 trains in seconds). Factors
/// start small and pseudo-random from a fixed seed, so a fit is repeatable.
pub struct Als {
    pub factors: usize,
    pub lambda: f64,
    pub alpha: f64,
    /// Row-major, `factors` columns.
    users: Vec<f64>,
    items: Vec<f64>,
}

/// Conjugate-gradient steps per solve.
const CG_STEPS: usize = 3;

impl Als {
    pub fn fit(split: &Split, factors: usize, lambda: f64, alpha: f64, iterations: usize) -> Self {
        let mut seed = 0x5eed_u64;
        let mut start = |rows: usize| (0..rows * factors).map(|_| 0.01 * unit_normalish(&mut seed)).collect::<Vec<_>>();
        let mut users = start(split.users());
        let mut items = start(split.items());
        let mut by_item = vec![vec![]; split.items()];
        for (u, train) in split.train.iter().enumerate() {
            for &i in train {
                by_item[i as usize].push(u as u32);
            }
        }
        let solve = Solve { factors, lambda, alpha };
        for _ in 0..iterations {
            solve.half_step(&mut users, &items, &split.train);
            solve.half_step(&mut items, &users, &by_item);
        }
        Self { factors, lambda, alpha, users, items }
    }
}

struct Solve {
    factors: usize,
    lambda: f64,
    alpha: f64,
}

impl Solve {
    /// Every row of `rows` given the other side (`fixed`) and each row's interactions; the
    /// rows are shared out between the machine's cores.
    fn half_step(&self, rows: &mut [f64], fixed: &[f64], seen: &[Vec<u32>]) {
        let f = self.factors;
        let mut gram = vec![0f64; f * f];
        for y in fixed.chunks_exact(f) {
            for (a, ya) in y.iter().enumerate() {
                for (g, yb) in gram[a * f..(a + 1) * f].iter_mut().zip(y) {
                    *g += ya * yb;
                }
            }
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let per = seen.len().div_ceil(cores).max(1);
        std::thread::scope(|scope| {
            for (xs, seen) in rows.chunks_mut(per * f).zip(seen.chunks(per)) {
                let gram = &gram;
                scope.spawn(move || {
                    for (x, seen) in xs.chunks_exact_mut(f).zip(seen) {
                        self.solve_row(x, gram, fixed, seen);
                    }
                });
            }
        });
    }

    /// A x = b by conjugate gradient from the current x, A = YᵀY + α Y_sᵀY_s + λI and
    /// b = (1 + α) Σ_s y, without forming A: A v = YᵀY v + α Σ_s y (y·v) + λv.
    fn solve_row(&self, x: &mut [f64], gram: &[f64], fixed: &[f64], seen: &[u32]) {
        let f = self.factors;
        let y = |i: u32| &fixed[i as usize * f..(i as usize + 1) * f];
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
        let times_a = |v: &[f64], out: &mut [f64]| {
            for (o, g) in out.iter_mut().zip(gram.chunks_exact(f)) {
                *o = dot(g, v);
            }
            for (o, vi) in out.iter_mut().zip(v) {
                *o += self.lambda * vi;
            }
            for &i in seen {
                let yi = y(i);
                let k = self.alpha * dot(yi, v);
                for (o, w) in out.iter_mut().zip(yi) {
                    *o += k * w;
                }
            }
        };
        let mut ax = vec![0f64; f];
        times_a(x, &mut ax);
        let mut r = vec![0f64; f];
        for &i in seen {
            for (b, w) in r.iter_mut().zip(y(i)) {
                *b += (1.0 + self.alpha) * w;
            }
        }
        for (r, a) in r.iter_mut().zip(&ax) {
            *r -= a;
        }
        let mut p = r.clone();
        let mut rr = dot(&r, &r);
        let mut ap = vec![0f64; f];
        for _ in 0..CG_STEPS {
            if rr < 1e-20 {
                break;
            }
            times_a(&p, &mut ap);
            let step = rr / dot(&p, &ap);
            for k in 0..f {
                x[k] += step * p[k];
                r[k] -= step * ap[k];
            }
            let next = dot(&r, &r);
            for (p, r) in p.iter_mut().zip(&r) {
                *p = r + next / rr * *p;
            }
            rr = next;
        }
    }
}

/// A repeatable pseudo-random number, roughly standard normal (the sum of four uniforms,
/// centred and scaled; splitmix64 underneath): enough to break the symmetry of ALS's start.
fn unit_normalish(state: &mut u64) -> f64 {
    let mut sum = 0.0;
    for _ in 0..4 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        sum += (z >> 11) as f64 / (1u64 << 53) as f64;
    }
    (sum - 2.0) * 3f64.sqrt()
}

impl Recommender for Als {
    fn name(&self) -> String {
        format!("als(f={},λ={},α={})", self.factors, self.lambda, self.alpha)
    }

    fn scores(&self, user: usize) -> Vec<f32> {
        let f = self.factors;
        let x = &self.users[user * f..(user + 1) * f];
        self.items.chunks_exact(f).map(|y| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>() as f32).collect()
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

    #[test]
    fn als_puts_an_item_of_her_crowd_above_one_of_the_other() {
        // Users 1–6 take items 1–3, users 7–12 items 4–6 (two in train, one held out each).
        let mut rows = String::from("h\n");
        for u in 1..=12 {
            let base = if u <= 6 { 0 } else { 3 };
            for k in 0..3 {
                let item = base + 1 + (u + k) % 3;
                rows.push_str(&format!("{u}\t{item}\t1\t{k}\n"));
            }
            rows.push_str(&format!("{u}\t{}\t1\t9\n", 7 + u % 2));
        }
        let s = Split::from_inter(&rows).unwrap();
        let als = Als::fit(&s, 4, 0.1, 10.0, 15);
        // User 1 has two of items 1–3 in train; the third (her crowd's) beats any of 4–6.
        let scores = als.scores(0);
        let missing = (0..3).find(|i| !s.train[0].contains(i)).unwrap() as usize;
        assert!((3..6).all(|other| scores[missing] > scores[other]), "{scores:?}");
        // Repeatable: the same fit gives the same scores.
        assert_eq!(Als::fit(&s, 4, 0.1, 10.0, 15).scores(0), scores);
    }
}
