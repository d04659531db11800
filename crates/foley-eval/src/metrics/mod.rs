//! The field's metrics, on plain vectors (embeddings, logits, onset times, envelopes).

pub mod frechet;
pub mod kl;
pub mod onsets;

pub use frechet::{Gaussian, frechet_distance, frechet_distance_sets};
pub use kl::{PairedKl, inception_score, paired_kl};
pub use onsets::{OnsetScores, SyncOffset, onset_scores, sync_offset};
