//! `rouge recs train`: has a running shop train its recommendations now and waits for what it
//! made. `rouge recs eval`: replays the offline evaluation protocol (`RECSYS_PROTOCOL.md`) on the
//! MovieLens 100K file: the split and its digest (refused unless it matches), then every
//! model's validation and test figures with standard errors, train and score times, and a JSON
//! report.

use anyhow::Context;
use rouge_recommendations::{
    Als, Ease, Figures, ItemKnn, Mean, PROTOCOL_DIGEST, Popularity, Ranking, Recommender, SequenceEase, Split,
    Transitions, evaluate,
};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// EASE^R's λ, as the protocol names them.
const EASE_LAMBDAS: [f64; 4] = [100.0, 250.0, 500.0, 1000.0];
/// ALS's (factors, λ, α).
const ALS_GRID: [(usize, f64, f64); 8] = [
    (64, 1.0, 1.0),
    (64, 1.0, 5.0),
    (64, 10.0, 1.0),
    (64, 10.0, 5.0),
    (128, 1.0, 1.0),
    (128, 1.0, 5.0),
    (128, 10.0, 1.0),
    (128, 10.0, 5.0),
];
/// Sequence-aware EASE^R's (τ, τ′, β), each with every λ above; β = 0 is recency alone.
const SEQUENCE_GRID: [(f32, f32, f32); 10] = [
    (10.0, 3.0, 0.0),
    (20.0, 3.0, 0.0),
    (10.0, 3.0, 0.5),
    (10.0, 3.0, 1.0),
    (10.0, 10.0, 0.5),
    (10.0, 10.0, 1.0),
    (20.0, 3.0, 0.5),
    (20.0, 3.0, 1.0),
    (20.0, 10.0, 0.5),
    (20.0, 10.0, 1.0),
];
/// How many next steps a transition looks ahead.
const TRANSITION_WINDOW: usize = 10;
/// The target for our model against the best baseline on test.
const TARGET_GAIN: f64 = 0.015;
const TARGET_COVERAGE: f64 = 0.30;

#[derive(Serialize)]
struct ModelReport {
    model: String,
    train_ms: u128,
    score_ms: u128,
    validation: Figures,
    test: Figures,
}

#[derive(Serialize)]
struct Report {
    users: usize,
    items: usize,
    train_interactions: usize,
    digest: String,
    models: Vec<ModelReport>,
    verdict: Verdict,
}

/// Our model against the best baseline (both chosen on validation), on test.
#[derive(Serialize)]
struct Verdict {
    ours: String,
    best_baseline: String,
    /// Paired test HR@10 difference, ours − the best baseline.
    gain: Mean,
    target_met: bool,
}

/// Runs the evaluation on the `.inter` file at `path`; writes the JSON report to `report`.
///
/// # Errors
/// An unreadable or malformed file, a digest that does not match the protocol's, an
/// unwritable report.
pub fn eval(path: &Path, report: Option<&Path>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let split = Split::from_inter(&text).with_context(|| format!("{} is not a .inter file", path.display()))?;
    let digest = split.digest();
    println!(
        "split: {} users, {} items, {} train interactions; digest {digest}",
        split.users(),
        split.items(),
        split.train_interactions
    );
    anyhow::ensure!(
        digest == PROTOCOL_DIGEST,
        "the split digest is not the protocol's ({PROTOCOL_DIGEST}): this is not MovieLens 100K as the protocol reads it"
    );
    println!("digest matches the protocol");
    println!(
        "{:<40} {:<10} {:>17} {:>17} {:>17} {:>11} {:>9} {:>9}",
        "model", "ranking", "HR@10", "NDCG@10", "Recall@20", "coverage@10", "train", "score"
    );
    let mut models = vec![];
    let popularity = Fitted::of(|| Popularity::fit(&split));
    models.push(popularity.report(&split, popularity.validate(&split)));
    // Item-kNN, k = 100 as the protocol names it (each target item keeps its 100 nearest).
    let knn = Fitted::of(|| ItemKnn::fit(&split, 100));
    models.push(knn.report(&split, knn.validate(&split)));
    // EASE^R: λ chosen on validation (HR@10, then NDCG@10), test computed once for it.
    let eases: Vec<Fitted<Arc<Ease>>> =
        EASE_LAMBDAS.iter().map(|&lambda| Fitted::of(|| Arc::new(Ease::fit(&split, lambda)))).collect();
    let (ease, validation) = choose(&split, eases.iter().map(Fitted::by_ref));
    models.push(ease.report(&split, validation));
    // ALS: factors, λ and α chosen on validation, twenty alternations each.
    let als = ALS_GRID.iter().map(|&(f, lambda, alpha)| Fitted::of(|| Als::fit(&split, f, lambda, alpha, 20)));
    let (als, validation) = choose(&split, als);
    models.push(als.report(&split, validation));
    // The best baseline is the one validation prefers; test figures only report.
    let best = models.iter().max_by(|a, b| by_validation(&a.validation, &b.validation)).expect("models ran");
    println!("best baseline on validation: {}", best.model);
    for other in models.iter().filter(|m| m.model != best.model) {
        let d = rouge_recommendations::paired(&best.test, &other.test);
        println!("paired, test HR@10: {} − {} = {d}", best.model, other.model);
    }
    // Ours: sequence-aware EASE^R over the EASE fits above and one transition fit; every
    // setting chosen on validation.
    let transitions = Fitted::of(|| Arc::new(Transitions::fit(&split, TRANSITION_WINDOW)));
    let ours = eases.iter().flat_map(|ease| {
        let (ease, transitions, split) = (ease, &transitions, &split);
        SEQUENCE_GRID.iter().map(move |&(tau, short_tau, beta)| {
            let mut fitted = Fitted::of(|| {
                SequenceEase::from_sequences(
                    split.sequences.clone(),
                    ease.model.clone(),
                    transitions.model.clone(),
                    tau,
                    short_tau,
                    beta,
                )
            });
            fitted.train_ms += ease.train_ms + transitions.train_ms;
            fitted
        })
    });
    let (ours, validation) = choose(&split, ours);
    let ours = ours.report(&split, validation);
    for baseline in &models {
        let d = rouge_recommendations::paired(&ours.test, &baseline.test);
        println!("paired, test HR@10: {} − {} = {d}", ours.model, baseline.model);
    }
    let best = models.iter().max_by(|a, b| by_validation(&a.validation, &b.validation)).expect("models ran");
    let gain = rouge_recommendations::paired(&ours.test, &best.test);
    let target_met = gain.mean >= TARGET_GAIN && gain.mean > 2.0 * gain.se && ours.test.coverage10 >= TARGET_COVERAGE;
    println!(
        "target (test HR@10 ≥ {TARGET_GAIN} above the best baseline, {}, by more than two paired SE; coverage@10 ≥ {TARGET_COVERAGE}): {}",
        best.model,
        if target_met { "met" } else { "NOT met" }
    );
    let verdict = Verdict { ours: ours.model.clone(), best_baseline: best.model.clone(), gain, target_met };
    models.push(ours);
    let report_doc = Report {
        users: split.users(),
        items: split.items(),
        train_interactions: split.train_interactions,
        digest,
        models,
        verdict,
    };
    if let Some(out) = report {
        std::fs::write(out, serde_json::to_vec_pretty(&report_doc)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("report written to {}", out.display());
    }
    Ok(())
}

/// How models are chosen on validation: by HR@10, then NDCG@10.
fn by_validation(a: &Figures, b: &Figures) -> std::cmp::Ordering {
    a.hr10.mean.total_cmp(&b.hr10.mean).then(a.ndcg10.mean.total_cmp(&b.ndcg10.mean))
}

/// The candidate validation prefers (each one's validation row printed as it goes).
fn choose<M: Recommender>(split: &Split, candidates: impl IntoIterator<Item = Fitted<M>>) -> (Fitted<M>, Validated) {
    let mut best: Option<(Fitted<M>, Validated)> = None;
    for fitted in candidates {
        let validation = fitted.validate(split);
        row(&fitted.model.name(), &validation.figures, fitted.train_ms, None);
        if best.as_ref().is_none_or(|(_, b)| by_validation(&validation.figures, &b.figures).is_gt()) {
            best = Some((fitted, validation));
        }
    }
    let (fitted, validation) = best.expect("candidates to choose from");
    println!("chosen on validation: {}", fitted.model.name());
    (fitted, validation)
}

/// A trained model and how long training took.
struct Fitted<M> {
    model: M,
    train_ms: u128,
}

/// Validation figures and how long scoring took.
struct Validated {
    figures: Figures,
    score_ms: u128,
}

impl<M> Fitted<M> {
    fn of(fit: impl FnOnce() -> M) -> Self {
        let t = Instant::now();
        let model = fit();
        Fitted { model, train_ms: t.elapsed().as_millis() }
    }
}

impl<M> Fitted<Arc<M>> {
    fn by_ref(&self) -> Fitted<Arc<M>> {
        Fitted { model: self.model.clone(), train_ms: self.train_ms }
    }
}

impl<M: Recommender> Fitted<M> {
    fn validate(&self, split: &Split) -> Validated {
        let t = Instant::now();
        let figures = evaluate(split, Ranking::Validation, |u| self.model.scores(u));
        Validated { figures, score_ms: t.elapsed().as_millis() }
    }

    /// Its validation figures and its test figures, computed once; both printed.
    fn report(&self, split: &Split, validation: Validated) -> ModelReport {
        let test = evaluate(split, Ranking::Test, |u| self.model.scores(u));
        let name = self.model.name();
        for f in [&validation.figures, &test] {
            row(&name, f, self.train_ms, Some(validation.score_ms));
        }
        ModelReport {
            model: name,
            train_ms: self.train_ms,
            score_ms: validation.score_ms,
            validation: validation.figures,
            test,
        }
    }
}

/// One line of the table.
fn row(model: &str, f: &Figures, train_ms: u128, score_ms: Option<u128>) {
    let ranking = if f.ranking == Ranking::Validation { "validation" } else { "test" };
    let score = score_ms.map(|ms| format!(" {ms:>7}ms")).unwrap_or_default();
    println!(
        "{model:<40} {ranking:<10} {:>17} {:>17} {:>17} {:>11.4} {train_ms:>7}ms{score}",
        f.hr10.to_string(),
        f.ndcg10.to_string(),
        f.recall20.to_string(),
        f.coverage10,
    );
}

/// Starts a training on the shop at `url` and waits (up to `timeout`) for its figures, telling
/// how long it has been going every few seconds.
///
/// # Errors
/// The shop unreachable, the key refused, or no result within `timeout`.
pub async fn train(url: &str, api_key: &str, timeout: std::time::Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build()?;
    let base = url.trim_end_matches('/');
    let status = |client: &reqwest::Client| {
        client.get(format!("{base}/v1/admin/recommendations/training")).bearer_auth(api_key).send()
    };
    let res = status(&client).await.with_context(|| format!("cannot reach {base}"))?;
    anyhow::ensure!(res.status().is_success(), "{base} answered {}: {}", res.status(), res.text().await?);
    let before: serde_json::Value = res.json().await?;
    let res = client.post(format!("{base}/v1/admin/recommendations/train")).bearer_auth(api_key).send().await?;
    anyhow::ensure!(res.status().is_success(), "{base} answered {}: {}", res.status(), res.text().await?);
    eprintln!("training started on {base}");
    let started = Instant::now();
    let mut told = 0;
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let now: serde_json::Value = status(&client).await?.json().await?;
        if now["running"] == false && now["finished_at"] != before["finished_at"] {
            println!("{}", serde_json::to_string_pretty(&now)?);
            return Ok(());
        }
        let secs = started.elapsed().as_secs();
        anyhow::ensure!(started.elapsed() < timeout, "no result after {secs} s; the training goes on in the shop");
        if secs >= told + 5 {
            told = secs;
            eprintln!("training… {secs} s");
        }
    }
}
