//! `rouge recs eval`: replays the offline evaluation protocol (`RECSYS_PROTOCOL.md`) on the
//! MovieLens 100K file: the split and its digest (refused unless it matches), then every
//! model's validation and test figures with standard errors, train and score times, and a JSON
//! report.

use anyhow::Context;
use rouge_recommendations::{
    Ease, Figures, ItemKnn, PROTOCOL_DIGEST, Popularity, Ranking, Recommender, Split, evaluate,
};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

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
        "{:<16} {:<10} {:>17} {:>17} {:>17} {:>11} {:>9} {:>9}",
        "model", "ranking", "HR@10", "NDCG@10", "Recall@20", "coverage@10", "train", "score"
    );
    let mut models = vec![];
    let popularity = Fitted::of(|| Popularity::fit(&split));
    models.push(popularity.report(&split, popularity.validate(&split)));
    // Item-kNN, k = 100 as the protocol names it (each target item keeps its 100 nearest).
    let knn = Fitted::of(|| ItemKnn::fit(&split, 100));
    models.push(knn.report(&split, knn.validate(&split)));
    // EASE^R: λ chosen on validation (HR@10, then NDCG@10), test computed once for it.
    let mut best: Option<(Fitted<Ease>, Validated)> = None;
    for lambda in [100.0, 250.0, 500.0, 1000.0] {
        let ease = Fitted::of(|| Ease::fit(&split, lambda));
        let validation = ease.validate(&split);
        row(&ease.model.name(), &validation.figures, ease.train_ms, None);
        if best.as_ref().is_none_or(|(_, b)| by_validation(&validation.figures, &b.figures).is_gt()) {
            best = Some((ease, validation));
        }
    }
    let (ease, validation) = best.expect("four λ tried");
    println!("chosen on validation: {}", ease.model.name());
    models.push(ease.report(&split, validation));
    // The best baseline is the one validation prefers; test figures only report.
    let best = models.iter().max_by(|a, b| by_validation(&a.validation, &b.validation)).expect("models ran");
    println!("best baseline on validation: {}", best.model);
    for other in models.iter().filter(|m| m.model != best.model) {
        let d = rouge_recommendations::paired(&best.test, &other.test);
        println!("paired, test HR@10: {} − {} = {d}", best.model, other.model);
    }
    let report_doc = Report {
        users: split.users(),
        items: split.items(),
        train_interactions: split.train_interactions,
        digest,
        models,
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

impl<M: Recommender> Fitted<M> {
    fn of(fit: impl FnOnce() -> M) -> Self {
        let t = Instant::now();
        let model = fit();
        Fitted { model, train_ms: t.elapsed().as_millis() }
    }

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
        "{model:<16} {ranking:<10} {:>17} {:>17} {:>17} {:>11.4} {train_ms:>7}ms{score}",
        f.hr10.to_string(),
        f.ndcg10.to_string(),
        f.recall20.to_string(),
        f.coverage10,
    );
}
