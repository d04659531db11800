//! `foley`: give a silent video a synchronized soundtrack.
//!
//! This crate is a thin command-line layer: each subcommand lives in `cmd/<name>.rs` as an
//! `Args` struct plus a `run` function that calls into the library crates.

mod cmd;
mod output;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Automatic Foley: synchronized sound for silent video.
#[derive(Parser)]
#[command(name = "foley", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Log verbosity filter (tracing syntax), e.g. `info` or `foley_media=debug`. Also read from RUST_LOG.
    #[arg(long, global = true, default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Describe a media file: container, duration, video and audio streams.
    Probe(cmd::probe::ProbeArgs),
    /// Sample frames at a target frame rate and write them as PNG files (for inspection).
    Frames(cmd::frames::FramesArgs),
    /// Compute MMAudio's log-mel spectrogram of a file's audio; write a PNG and/or a tensor.
    Mel(cmd::mel::MelArgs),
    /// Put an audio track on a video: copy the video stream bit-exactly, encode the audio as AAC.
    Mux(cmd::mux::MuxArgs),
    /// Turn a log-mel tensor back into a waveform without weights (Griffin-Lim).
    GriffinLim(cmd::griffin_lim::GriffinLimArgs),
    /// Fetch or list the pretrained encoder weights (EfficientNet-Lite0, MiniLM) in the model cache.
    Models(cmd::models::ModelsArgs),
    /// Extract conditioning features (semantic frames, mel, text) of many clips into shards.
    Extract(cmd::extract::ExtractArgs),
    /// Procedural audio-visual scenes with real recorded sounds and exact event times (foley-sim).
    Sim(cmd::sim::SimArgs),
    /// Score generated soundtracks against references: FD, KL, IS, onsets, sync, AV-Align.
    Eval(cmd::eval::EvalArgs),
    /// The flow network (MMAudio MM-DiT): one forward pass on tensors from a file, or a benchmark.
    Flow(cmd::flow::FlowArgs),
    /// Train a model (`foley train gen CONFIG.toml`: the generator; `envelope` / `vama`: its timing-envelope predictor / VAMA-pretrained semantic projection; `sync`: the sync backbone on foley-sim; `vocoder`: the neural vocoder on real recordings).
    Train(cmd::train::TrainArgs),
    /// Decode a mel (a `foley mel --tensor` file, or any file's audio) with foley's vocoder or Griffin-Lim.
    Vocode(cmd::vocode::VocodeArgs),
    /// Give a video a soundtrack: features -> flow sampling -> mel -> Griffin-Lim -> muxed mp4 + wav.
    Generate(cmd::generate::GenerateArgs),
    /// MMAudio's released pipeline part by part (`foley mmaudio check COMPONENT ...`): outputs on test tensors.
    Mmaudio(cmd::mmaudio::MmaudioArgs),
    /// Give every video of a folder or a CSV manifest a soundtrack; a bad file is reported and skipped.
    Batch(cmd::batch::BatchArgs),
    /// Serve an HTTP API and a web page for generation jobs (loopback only unless --addr says otherwise).
    Serve(cmd::serve::ServeArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    foley_kernels::heap::keep_freed_memory(matches!(cli.command, Command::Generate(_) | Command::Batch(_) | Command::Serve(_) | Command::Extract(_)));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cli.log));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    // Ctrl-C / SIGTERM: ffmpeg children killed, temporary outputs removed.
    // The server stops on its own signal handler (jobs cancelled, job folders removed).
    if !matches!(cli.command, Command::Serve(_))
        && let Err(e) = foley_media::install_signal_cleanup()
    {
        tracing::warn!("no cleanup on interrupt: {e}");
    }

    let result = match cli.command {
        Command::Probe(args) => cmd::probe::run(args),
        Command::Frames(args) => cmd::frames::run(args),
        Command::Mel(args) => cmd::mel::run(args),
        Command::Mux(args) => cmd::mux::run(args),
        Command::GriffinLim(args) => cmd::griffin_lim::run(args),
        Command::Models(args) => cmd::models::run(args),
        Command::Extract(args) => cmd::extract::run(args),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Flow(args) => cmd::flow::run(args),
        Command::Train(args) => cmd::train::run(args),
        Command::Vocode(args) => cmd::vocode::run(args),
        Command::Generate(args) => cmd::generate::run(args),
        Command::Mmaudio(args) => cmd::mmaudio::run(args),
        Command::Batch(args) => cmd::batch::run(args),
        Command::Serve(args) => cmd::serve::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
