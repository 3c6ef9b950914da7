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
    let t = Instant::now();
    let popularity = Popularity::fit(&split);
    let train_ms = t.elapsed().as_millis();
    models.push(run(&split, &popularity, train_ms));
    // Item-kNN, k = 100 as the protocol names it (each target item keeps its 100 nearest).
    let t = Instant::now();
    let knn = ItemKnn::fit(&split, 100);
    let train_ms = t.elapsed().as_millis();
    models.push(run(&split, &knn, train_ms));
    // EASE^R: λ chosen on validation (HR@10, then NDCG@10), test computed once for it.
    let mut best: Option<(Ease, Figures, u128)> = None;
    for lambda in [100.0, 250.0, 500.0, 1000.0] {
        let t = Instant::now();
        let ease = Ease::fit(&split, lambda);
        let train_ms = t.elapsed().as_millis();
        let validation = evaluate(&split, Ranking::Validation, |u| ease.scores(u));
        println!(
            "{:<16} {:<10} {:>17} {:>17} {:>17} {:>11.4} {:>7}ms",
            ease.name(),
            "validation",
            validation.hr10.to_string(),
            validation.ndcg10.to_string(),
            validation.recall20.to_string(),
            validation.coverage10,
            train_ms
        );
        let better = best
            .as_ref()
            .is_none_or(|(_, b, _)| (validation.hr10.mean, validation.ndcg10.mean) > (b.hr10.mean, b.ndcg10.mean));
        if better {
            best = Some((ease, validation, train_ms));
        }
    }
    let (ease, _, train_ms) = best.expect("four λ tried");
    println!("chosen on validation: {}", ease.name());
    models.push(run(&split, &ease, train_ms));
    // The best baseline is the one validation prefers; test figures only report.
    let best = models
        .iter()
        .max_by(|a, b| {
            (a.validation.hr10.mean, a.validation.ndcg10.mean)
                .partial_cmp(&(b.validation.hr10.mean, b.validation.ndcg10.mean))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
        .expect("models ran");
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

/// Validation, then test (computed once), for one trained model.
fn run(split: &Split, model: &dyn Recommender, train_ms: u128) -> ModelReport {
    let t = Instant::now();
    let validation = evaluate(split, Ranking::Validation, |u| model.scores(u));
    let test = evaluate(split, Ranking::Test, |u| model.scores(u));
    let score_ms = t.elapsed().as_millis() / 2;
    for f in [&validation, &test] {
        let ranking = if f.ranking == Ranking::Validation { "validation" } else { "test" };
        println!(
            "{:<16} {:<10} {:>17} {:>17} {:>17} {:>11.4} {:>7}ms {:>7}ms",
            model.name(),
            ranking,
            f.hr10.to_string(),
            f.ndcg10.to_string(),
            f.recall20.to_string(),
            f.coverage10,
            train_ms,
            score_ms
        );
    }
    ModelReport { model: model.name(), train_ms, score_ms, validation, test }
}
