//! Training segments: random cuts of real recordings at random levels, with the input mel
//! computed exactly as MMAudio's converter does (the mel a generator predicts).

use std::path::Path;

use anyhow::{Context, Result, ensure};
use burn::tensor::{Device, Tensor, TensorData};
use foley_dsp::MelSpectrogram;
use foley_sim::corpus::{self, Corpus, Split};
use foley_weights::noise::SplitMix64;

/// Segments quieter than this peak are redrawn: silence teaches nothing.
const MIN_SOURCE_PEAK: f32 = 1e-3;
/// Draws before a quiet segment is accepted anyway.
const MAX_DRAWS: usize = 8;

/// Recordings held in memory (16 kHz mono).
pub struct Audio {
    pub recordings: Vec<Vec<f32>>,
}

/// A batch: waveforms `(B, L)` and their mels `(B, n_mels, T)`, `L = T * hop`.
pub struct Batch {
    pub audio: Tensor<2>,
    pub mel: Tensor<3>,
}

impl Audio {
    /// Reads every file of `split` of the vocoder corpus in `dir` (`foley sim corpus`).
    pub fn from_corpus(dir: &Path, split: Split) -> Result<Audio> {
        let corpus = Corpus::read(dir)?;
        let recordings = corpus
            .files(split)
            .map(|f| corpus::read_audio(dir, f).with_context(|| format!("{}: cannot read corpus file {}", dir.display(), f.id)))
            .collect::<Result<Vec<_>>>()?;
        ensure!(!recordings.is_empty(), "{}: the corpus has no {split:?} files; rebuild it with `foley sim corpus`", dir.display());
        Ok(Audio { recordings })
    }

    /// Total seconds at `sample_rate`.
    pub fn seconds(&self, sample_rate: u32) -> f64 {
        self.recordings.iter().map(|r| r.len()).sum::<usize>() as f64 / sample_rate as f64
    }

    /// One segment of `len` samples from recording `i`, starting at a random offset (a shorter
    /// recording is placed at a random offset in silence).
    fn cut(&self, i: usize, len: usize, rng: &mut SplitMix64) -> Vec<f32> {
        let r = &self.recordings[i];
        if r.len() >= len {
            let start = (rng.next_u64() % (r.len() - len + 1) as u64) as usize;
            return r[start..start + len].to_vec();
        }
        let mut out = vec![0f32; len];
        let at = (rng.next_u64() % (len - r.len() + 1) as u64) as usize;
        out[at..at + r.len()].copy_from_slice(r);
        out
    }

    /// A random segment scaled to a random peak in `[min_db, max_db]` dBFS (files drawn uniformly,
    /// so long ambiences do not crowd out short effects).
    pub fn segment(&self, len: usize, min_db: f64, max_db: f64, rng: &mut SplitMix64) -> Vec<f32> {
        let mut x = Vec::new();
        for _ in 0..MAX_DRAWS {
            let i = (rng.next_u64() % self.recordings.len() as u64) as usize;
            x = self.cut(i, len, rng);
            if peak(&x) >= MIN_SOURCE_PEAK {
                break;
            }
        }
        let target = 10f64.powf((min_db + (max_db - min_db) * rng.next_f64()) / 20.0) as f32;
        let p = peak(&x);
        if p > 0.0 {
            x.iter_mut().for_each(|v| *v *= target / p);
        }
        x
    }

    /// The `n`-th fixed validation segment: the loudest-starting cut of recording `n % len`
    /// at -6 dBFS peak (the same segments at every evaluation).
    pub fn validation_segment(&self, n: usize, len: usize) -> Vec<f32> {
        let r = &self.recordings[n % self.recordings.len()];
        let start = if r.len() > len { (n / self.recordings.len()) * len % (r.len() - len + 1) } else { 0 };
        let mut x: Vec<f32> = r[start..(start + len).min(r.len())].to_vec();
        x.resize(len, 0.0);
        let p = peak(&x).max(1e-9);
        let target = 10f32.powf(-6.0 / 20.0);
        x.iter_mut().for_each(|v| *v *= target / p);
        x
    }
}

fn peak(x: &[f32]) -> f32 {
    x.iter().fold(0f32, |m, v| m.max(v.abs()))
}

/// Stacks segments into a batch, computing each mel with `mel`.
pub fn batch(segments: &[Vec<f32>], mel: &MelSpectrogram, device: &Device) -> Result<Batch> {
    let b = segments.len();
    let len = segments[0].len();
    let mut audio = Vec::with_capacity(b * len);
    let mut mels = Vec::new();
    let mut frames = 0;
    for s in segments {
        anyhow::ensure!(s.len() == len, "segments of one batch must have one length");
        audio.extend_from_slice(s);
        let m = mel.compute(s);
        frames = m.n_frames;
        mels.extend(m.data);
    }
    let n_mels = mel.config().n_mels;
    Ok(Batch { audio: Tensor::from_data(TensorData::new(audio, [b, len]), device), mel: Tensor::from_data(TensorData::new(mels, [b, n_mels, frames]), device) })
}
