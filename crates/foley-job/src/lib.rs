//! One generation job, as `foley generate`, `foley serve` and `foley batch` all run it.
//!
//! A job goes through three steps, so that callers can check many requests cheaply, load models
//! once and share them:
//! 1. [`GenerateSpec`] (plain data: what the user asked) -> [`Plan::new`] checks everything that
//!    can be checked without models (input probe, options, output paths) and reserves the
//!    outputs; nothing is written yet.
//! 2. [`Models::load`] loads the generator and its encoders once; [`Models::fork`] gives another
//!    worker its own handle on the same weights.
//! 3. [`Plan::run`] generates, sets the level, writes the wav and muxes the mp4 (each published
//!    atomically: a failed job leaves neither), reporting progress through [`Progress`].

pub mod batch;
mod models;
mod run;
mod spec;

pub use models::{ModelChoice, Models};
pub use run::{Outputs, Progress, Timings};
pub use spec::{DecoderKind, EditRange, GenerateSpec, Plan, Precision, SamplerKind, default_output};

#[cfg(test)]
mod tests {
    /// Servers hand models and plans to worker threads.
    #[test]
    fn jobs_move_between_threads() {
        fn send<T: Send>() {}
        send::<super::Models>();
        send::<super::Plan>();
    }
}
