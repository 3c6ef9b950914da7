//! Recommendations. So far the offline evaluation of `../shared/RECSYS_PROTOCOL.md`: the
//! MovieLens 100K interactions, their leave-last-two-out split and its digest
//! ([`split`]), full-ranking metrics with standard errors and paired differences
//! ([`metrics`]), and the baselines so far: popularity, item-kNN and EASE^R ([`models`]). No I/O: callers read the
//! data file (it ships in a registry package whose licence forbids redistributing it).

pub mod behaviour;
pub mod contexts;
pub mod impressions;
pub mod metrics;
pub mod models;
pub mod sequence;
pub mod serving;
pub mod split;
pub mod training;

/// A value behind an `Arc` (shared by two parts of a model), written and read as the value.
mod shared {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    pub fn serialize<T: Serialize, S: Serializer>(value: &Arc<T>, s: S) -> Result<S::Ok, S::Error> {
        T::serialize(value, s)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Arc<T>, D::Error> {
        T::deserialize(d).map(Arc::new)
    }
}

pub use behaviour::{
    Accepted, BehaviourEvent, BehaviourRepository, EventBatch, EventInput, EventKind, purchase_id, unsuitable,
};
pub use impressions::{Impression, ImpressionRepository};
pub use metrics::{Figures, Mean, Ranking, evaluate, paired};
pub use models::{Als, Ease, ItemKnn, Popularity, Recommender};
pub use sequence::{SequenceEase, Transitions};
pub use split::{PROTOCOL_DIGEST, Split, SplitError};
