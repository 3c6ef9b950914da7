//! Recommendations. So far the offline evaluation of `../shared/RECSYS_PROTOCOL.md`: the
//! MovieLens 100K interactions, their leave-last-two-out split and its digest
//! ([`split`]), full-ranking metrics with standard errors and paired differences
//! ([`metrics`]), and the baselines so far: popularity, item-kNN and EASE^R ([`models`]). No I/O: callers read the
//! data file (it ships in a registry package whose licence forbids redistributing it).

pub mod behaviour;
pub mod contexts;
pub mod metrics;
pub mod models;
pub mod sequence;
pub mod serving;
pub mod split;
pub mod training;

pub use behaviour::{
    Accepted, BehaviourEvent, BehaviourRepository, EventBatch, EventInput, EventKind, purchase_id, unsuitable,
};
pub use metrics::{Figures, Mean, Ranking, evaluate, paired};
pub use models::{Als, Ease, ItemKnn, Popularity, Recommender};
pub use sequence::{SequenceEase, Transitions};
pub use split::{PROTOCOL_DIGEST, Split, SplitError};
