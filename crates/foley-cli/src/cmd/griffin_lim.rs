//! `foley griffin-lim`: weightless decoding of a log-mel tensor back to a waveform.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use foley_dsp::{GriffinLim, Mel, MelSpectrogram};
use foley_flow::io::read_tensors;
use foley_seq::MelConfig;

use crate::output::spinner;

/// Reconstruct a waveform from a log-mel tensor (Griffin-Lim, no weights).
#[derive(Args)]
pub struct GriffinLimArgs {
    /// `.safetensors` with a tensor `mel` of shape (n_mels, frames) or (1, n_mels, frames), as
    /// written by `foley mel --tensor`. 80 mels means MMAudio's 16 kHz geometry, 128 the 44.1 kHz one.
    pub mel: PathBuf,
    /// Output audio: `.wav` (32-bit float) or `.flac` (16-bit).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Projection iterations (more = cleaner phase, linear cost).
    #[arg(long, default_value_t = 64)]
    pub iterations: usize,
    /// Fast Griffin-Lim momentum in [0, 1); 0 is the classic algorithm.
    #[arg(long, default_value_t = 0.99)]
    pub momentum: f64,
    /// Seed of the random initial phases (same seed, same output).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(args: GriffinLimArgs) -> Result<()> {
    if !(0.0..1.0).contains(&args.momentum) {
        bail!("--momentum must be in [0, 1), got {}", args.momentum);
    }
    foley_media::ensure_not_input(&args.output, &[&args.mel])?;
    let (config, mel) = read_mel(&args.mel)?;
    let converter = MelSpectrogram::new(config);
    let bar = spinner("griffin-lim");
    let gl = GriffinLim { iterations: args.iterations, momentum: args.momentum, seed: args.seed };
    let (audio, report) = gl.invert(&converter, &mel)?;
    bar.finish_and_clear();
    let is_flac = args.output.extension().is_some_and(|e| e.eq_ignore_ascii_case("flac"));
    if is_flac {
        foley_media::write_flac(&args.output, &audio, config.sample_rate)?;
    } else {
        foley_media::write_wav(&args.output, &audio, config.sample_rate)?;
    }
    println!(
        "wrote {} ({:.2} s at {} Hz); spectral convergence {:.4}",
        args.output.display(),
        audio.len() as f64 / config.sample_rate as f64,
        config.sample_rate,
        report.spectral_convergence
    );
    Ok(())
}

/// The `mel` tensor of a `foley mel --tensor` file and the MMAudio geometry its bin count names.
pub(super) fn read_mel(path: &Path) -> Result<(MelConfig, Mel)> {
    let mut tensors = read_tensors(path).with_context(|| format!("{}: cannot read tensors", path.display()))?;
    let Some(raw) = tensors.remove("mel") else {
        bail!("{}: no tensor named `mel` (write one with `foley mel FILE --tensor OUT.safetensors`)", path.display());
    };
    let (n_mels, n_frames) = match raw.shape.as_slice() {
        [m, t] | [1, m, t] => (*m, *t),
        other => bail!("{}: `mel` has shape {other:?}, expected (n_mels, frames)", path.display()),
    };
    let config = match n_mels {
        80 => MelConfig::MMAUDIO_16K,
        128 => MelConfig::MMAUDIO_44K,
        n => bail!("{}: `mel` has {n} mel bins; MMAudio's geometries have 80 (16 kHz) or 128 (44.1 kHz)", path.display()),
    };
    let mel = Mel::new(n_mels, n_frames, raw.data).with_context(|| format!("{}", path.display()))?;
    Ok((config, mel))
}
