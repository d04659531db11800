//! `foley mel`: MMAudio's log-mel spectrogram of a file's audio, as a picture and/or a tensor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use foley_dsp::{Mel, MelSpectrogram};
use foley_eval::report::{MelPanel, write_comparison_png};
use foley_flow::io::safetensors_bytes;
use foley_flow::weights::RawTensor;
use foley_seq::MelConfig;

use crate::output::write_atomic;

/// Compute the log-mel spectrogram of a file's first audio stream.
#[derive(Args)]
pub struct MelArgs {
    /// Any file with an audio stream (video or audio); several files make a picture with one
    /// panel each, top to bottom (e.g. an original and its resyntheses).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Spectrogram picture (PNG) with a time axis in seconds.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Also write the mel as `.safetensors`: tensor `mel` of shape (n_mels, frames), plus
    /// `sample_rate` and `hop` as one-element tensors.
    #[arg(long)]
    pub tensor: Option<PathBuf>,
    /// Times to mark on the picture, seconds after --start (repeatable or comma-separated), e.g.
    /// the window switches of a long-form generation.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub mark: Vec<f64>,
    /// Mel geometry: MMAudio's 16 kHz (80 mels, log10) or 44.1 kHz (128 mels, ln) converter.
    #[arg(long, value_enum, default_value_t = Geometry::Mmaudio16k)]
    pub geometry: Geometry,
    /// Start time in seconds.
    #[arg(long, default_value_t = 0.0)]
    pub start: f64,
    /// Duration in seconds (default: to the end).
    #[arg(long)]
    pub duration: Option<f64>,
}

/// The two mel converters of MMAudio.
#[derive(Clone, Copy, ValueEnum)]
pub enum Geometry {
    /// 16 kHz, n_fft 1024, hop 256, 80 Slaney mels up to 8 kHz, log10.
    #[value(name = "16k")]
    Mmaudio16k,
    /// 44.1 kHz, n_fft 2048, hop 512, 128 Slaney mels up to 22.05 kHz, natural log.
    #[value(name = "44k")]
    Mmaudio44k,
}

impl Geometry {
    fn config(self) -> MelConfig {
        match self {
            Geometry::Mmaudio16k => MelConfig::MMAUDIO_16K,
            Geometry::Mmaudio44k => MelConfig::MMAUDIO_44K,
        }
    }
}

pub fn run(args: MelArgs) -> Result<()> {
    if args.output.is_none() && args.tensor.is_none() {
        bail!("nothing to write: give -o OUT.png and/or --tensor OUT.safetensors");
    }
    if args.tensor.is_some() && args.files.len() > 1 {
        bail!("--tensor writes one file's mel: give one input file");
    }
    let inputs: Vec<&Path> = args.files.iter().map(PathBuf::as_path).collect();
    for out in args.output.iter().chain(&args.tensor) {
        foley_media::ensure_not_input(out, &inputs)?;
    }
    if let Some(bad) = args.mark.iter().find(|t| !t.is_finite() || **t < 0.0) {
        bail!("--mark {bad}: marks are seconds >= 0");
    }
    let config = args.geometry.config();
    let converter = MelSpectrogram::new(config);
    let mut mels = Vec::new();
    for file in &args.files {
        let audio = foley_media::decode_audio_segment(file, config.sample_rate, args.start, args.duration)?;
        if audio.is_empty() {
            bail!("{}: the audio stream decodes to no samples in the requested range", file.display());
        }
        mels.push((file, converter.compute(&audio), audio.len() as f64 / config.sample_rate as f64));
    }

    if let Some(png) = &args.output {
        let titles: Vec<String> = mels
            .iter()
            .map(|(file, _, _)| {
                let name = file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
                format!("{name} — log-mel, {} Hz, {} mels, hop {}", config.sample_rate, config.n_mels, config.hop)
            })
            .collect();
        let panels: Vec<MelPanel> = mels
            .iter()
            .zip(&titles)
            .map(|((_, mel, _), title)| MelPanel {
                title: title.clone(),
                n_mels: mel.n_mels,
                n_frames: mel.n_frames,
                data: &mel.data,
                frame_rate: config.frames_per_second(),
                onsets: &args.mark,
            })
            .collect();
        write_atomic(png, |tmp| write_comparison_png(tmp, &panels).map_err(anyhow::Error::msg))?;
        let (_, mel, seconds) = &mels[0];
        println!("wrote {} ({} panel(s); the first {} frames, {seconds:.2} s)", png.display(), panels.len(), mel.n_frames);
    }
    if let Some(path) = &args.tensor {
        let (_, mel, _) = &mels[0];
        write_atomic(path, |tmp| Ok(std::fs::write(tmp, mel_tensor_bytes(mel, &config)?)?))?;
        println!("wrote {} (mel {}x{})", path.display(), mel.n_mels, mel.n_frames);
    }
    Ok(())
}

/// `.safetensors` bytes of a mel with its geometry, the format `foley griffin-lim` reads.
pub fn mel_tensor_bytes(mel: &Mel, config: &MelConfig) -> Result<Vec<u8>> {
    let scalar = |v: f32| RawTensor { shape: vec![1], data: vec![v] };
    let tensors = BTreeMap::from([
        ("mel".to_string(), RawTensor { shape: vec![mel.n_mels, mel.n_frames], data: mel.data.clone() }),
        ("sample_rate".to_string(), scalar(config.sample_rate as f32)),
        ("hop".to_string(), scalar(config.hop as f32)),
    ]);
    Ok(safetensors_bytes(&tensors)?)
}
