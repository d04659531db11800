//! One module per subcommand: an `Args` struct (clap) and a `run` function.

pub mod batch;
pub mod eval;
pub mod extract;
pub mod flow;
pub mod frames;
pub mod generate;
pub mod griffin_lim;
pub mod mel;
pub mod mmaudio;
pub mod models;
pub mod mux;
pub mod probe;
pub mod serve;
pub mod sim;
pub mod train;
pub mod train_envelope;
pub mod train_gen;
pub mod train_sync;
pub mod train_vama;
pub mod train_vocoder;
pub mod vocode;
