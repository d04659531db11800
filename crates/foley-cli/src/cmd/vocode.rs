//! `foley vocode`: a mel back to a waveform through foley's vocoder (or Griffin-Lim), for
//! listening checks of the decoder on its own.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Args, ValueEnum};
use foley_decoder::vocos::train::loss::resynthesis_distance;
use foley_decoder::vocos::{self, Vocoder};
use foley_dsp::{GriffinLim, MelSpectrogram};
use foley_seq::MelConfig;

use crate::output::write_atomic;

/// Decode a log-mel to audio: a `foley mel --tensor` file, or any file with audio (resynthesized
/// through its own 16 kHz mel).
#[derive(Args)]
pub struct VocodeArgs {
    /// `.safetensors` with a tensor `mel` (80 mels, MMAudio's 16 kHz geometry), or a video or
    /// audio file whose soundtrack is turned into that mel first.
    pub input: PathBuf,
    /// Output WAV (32-bit float, 16 kHz).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Which decoder turns the mel into a waveform.
    #[arg(long, value_enum, default_value_t = DecoderKind::Vocoder)]
    pub decoder: DecoderKind,
    /// Vocoder weights (default: $FOLEY_VOCODER_MODEL, else models/vocoder/vocoder.safetensors).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Griffin-Lim iterations (with --decoder griffin-lim).
    #[arg(long, default_value_t = 64)]
    pub iterations: usize,
    /// With an audio input: also print how far the resynthesis is from it (log10-mel L1 and
    /// multi-resolution STFT distance).
    #[arg(long)]
    pub score: bool,
}

/// The mel -> waveform decoders foley has at 16 kHz.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecoderKind {
    /// foley's Vocos vocoder, trained on real recordings (`foley train vocoder`).
    Vocoder,
    /// Weight-free phase reconstruction (fast Griffin-Lim).
    GriffinLim,
}

pub fn run(args: VocodeArgs) -> Result<()> {
    foley_media::ensure_not_input(&args.output, &[&args.input])?;
    let is_tensor = args.input.extension().is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    if is_tensor && args.score {
        bail!("--score compares a resynthesis with its original audio: give an audio or video file, not a mel tensor");
    }
    let mut original = Vec::new();
    let (config, mel) = if is_tensor {
        super::griffin_lim::read_mel(&args.input)?
    } else {
        original = foley_media::decode_audio(&args.input, MelConfig::MMAUDIO_16K.sample_rate)?;
        if original.is_empty() {
            bail!("{}: the audio stream is empty", args.input.display());
        }
        (MelConfig::MMAUDIO_16K, MelSpectrogram::new(MelConfig::MMAUDIO_16K).compute(&original))
    };
    if config != MelConfig::MMAUDIO_16K {
        bail!("{}: a {}-mel input; foley's decoders read MMAudio's 16 kHz mel (80 bins)", args.input.display(), mel.n_mels);
    }
    let started = Instant::now();
    let audio = match args.decoder {
        DecoderKind::Vocoder => {
            let path = args.model.clone().unwrap_or_else(vocos::default_model_path);
            let vocoder = Vocoder::load(&path, &Device::flex())
                .with_context(|| format!("{}: no vocoder (train one with `foley train vocoder CONFIG.toml`, or pass --decoder griffin-lim)", path.display()))?;
            vocoder.decode(&mel)?
        }
        DecoderKind::GriffinLim => GriffinLim { iterations: args.iterations, ..GriffinLim::default() }.invert(&MelSpectrogram::new(config), &mel)?.0,
    };
    let seconds = audio.len() as f64 / config.sample_rate as f64;
    let wall = started.elapsed().as_secs_f64();
    write_atomic(&args.output, |tmp| Ok(foley_media::write_wav(tmp, &audio, config.sample_rate)?))?;
    println!(
        "wrote {} ({seconds:.2} s at {} Hz; decoded in {wall:.2} s, {:.0}x real time)",
        args.output.display(),
        config.sample_rate,
        seconds / wall.max(1e-9)
    );
    if args.score {
        let (mel_l1, stft) = resynthesis_distance(&config, &audio, &original);
        println!("distance to the original: mel L1 {mel_l1:.4}, multi-resolution STFT {stft:.4}");
    }
    Ok(())
}
