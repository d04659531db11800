//! The sound bank: real recorded effects from Debian game packages, labelled into
//! [`SoundClass`]es, trimmed to their onset, peak-normalized, at 16 kHz and 44.1 kHz.
//!
//! Built by [`build`] (`foley sim bank`) into [`default_dir`]; never installed, never committed.
//! Layout: `bank.json` (manifest with every recording's package, path and licence),
//! `ATTRIBUTION.md`, and `<rate>/<class>/<id>.wav` (mono f32).

pub(crate) mod build;
pub mod copyright;
pub mod labels;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::classes::SoundClass;
pub use build::{BuildReport, build};

/// Bumped whenever the bank's contents or layout change; an older bank is rebuilt.
pub const BANK_VERSION: u32 = 1;
/// Debian packages the bank is made from.
pub const PACKAGES: [&str; 3] = ["minetest-data", "openarena-data", "teeworlds-data"];
/// Sample rates the bank is stored at.
pub const SAMPLE_RATES: [u32; 2] = [16_000, 44_100];
/// Environment variable that overrides the bank location.
pub const BANK_ENV: &str = "FOLEY_SIM_BANK";

/// `$FOLEY_SIM_BANK`, else `${XDG_CACHE_HOME:-$HOME/.cache}/foley/sound-bank`.
pub fn default_dir() -> PathBuf {
    if let Some(p) = std::env::var_os(BANK_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
    cache.join("foley").join("sound-bank")
}

/// A Debian package the bank was built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageInfo {
    pub name: String,
    pub version: String,
}

/// One recording of the bank, with where it came from and its licence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingInfo {
    /// Unique id, also the file stem (`minetest-data.default_grass_footstep.1`).
    pub id: String,
    pub class: SoundClass,
    pub package: String,
    /// Path inside the package; `archive.pk3!member` for files inside a pk3.
    pub source: String,
    /// Licence short name from the package's `debian/copyright` (e.g. `CC-BY-SA-3.0`).
    pub license: String,
    pub copyright: String,
    /// Seconds of leading silence removed so the recording starts at its onset.
    pub trimmed_start: f64,
    /// Duration after trimming, seconds.
    pub duration: f64,
}

impl RecordingInfo {
    /// Path of the recording at `rate`, relative to the bank directory.
    pub fn file(&self, rate: u32) -> PathBuf {
        PathBuf::from(rate.to_string()).join(self.class.name()).join(format!("{}.wav", self.id))
    }
}

/// `bank.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub packages: Vec<PackageInfo>,
    pub recordings: Vec<RecordingInfo>,
}

impl Manifest {
    /// Reads `dir/bank.json`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join("bank.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}: no sound bank here; build it with `foley sim bank`", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not a valid bank manifest", path.display()))
    }
}

/// A recording in memory.
#[derive(Debug, Clone)]
pub struct Recording {
    pub info: RecordingInfo,
    /// Mono samples at the bank's rate, peak 1, starting at the onset.
    pub samples: Vec<f32>,
}

/// The recordings of every class at one sample rate.
#[derive(Debug, Clone)]
pub struct Bank {
    pub sample_rate: u32,
    pub recordings: Vec<Recording>,
    by_class: Vec<Vec<usize>>,
}

impl Bank {
    /// Loads the bank in `dir` at `sample_rate` (16000 or 44100).
    pub fn load(dir: &Path, sample_rate: u32) -> Result<Bank> {
        if !SAMPLE_RATES.contains(&sample_rate) {
            bail!("the sound bank is stored at {SAMPLE_RATES:?} Hz, not {sample_rate}");
        }
        let manifest = Manifest::read(dir)?;
        if manifest.version != BANK_VERSION {
            bail!("{}: bank version {} but this build needs {BANK_VERSION}; rerun `foley sim bank`", dir.display(), manifest.version);
        }
        let mut recordings = Vec::with_capacity(manifest.recordings.len());
        for info in manifest.recordings {
            let path = dir.join(info.file(sample_rate));
            let samples = read_wav(&path, sample_rate)?;
            recordings.push(Recording { info, samples });
        }
        Ok(Self::from_recordings(sample_rate, recordings))
    }

    /// A bank from recordings already in memory.
    pub fn from_recordings(sample_rate: u32, recordings: Vec<Recording>) -> Bank {
        let mut by_class = vec![Vec::new(); SoundClass::ALL.len()];
        for (i, r) in recordings.iter().enumerate() {
            by_class[r.info.class.index()].push(i);
        }
        Bank { sample_rate, recordings, by_class }
    }

    /// The recordings of `class`.
    pub fn of_class(&self, class: SoundClass) -> impl Iterator<Item = &Recording> {
        self.by_class[class.index()].iter().map(|&i| &self.recordings[i])
    }

    /// The recording of `class` chosen by the random bits `pick`.
    pub fn pick(&self, class: SoundClass, pick: u64) -> Result<&Recording> {
        let ids = &self.by_class[class.index()];
        if ids.is_empty() {
            bail!("the sound bank has no recording of class {}", class.name());
        }
        Ok(&self.recordings[ids[(pick % ids.len() as u64) as usize]])
    }
}

/// Reads a mono WAV written by the bank builder, checking its rate.
pub fn read_wav(path: &Path, sample_rate: u32) -> Result<Vec<f32>> {
    let reader = hound::WavReader::open(path).with_context(|| format!("{}: cannot read bank recording", path.display()))?;
    let spec = reader.spec();
    if spec.sample_rate != sample_rate || spec.channels != 1 || spec.sample_format != hound::SampleFormat::Float {
        bail!("{}: expected mono f32 at {sample_rate} Hz, found {:?}", path.display(), spec);
    }
    reader.into_samples::<f32>().collect::<Result<Vec<f32>, _>>().with_context(|| format!("{}: truncated WAV", path.display()))
}
