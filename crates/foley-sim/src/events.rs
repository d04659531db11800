//! Event ground truth and the `events.json` file.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::classes::SoundClass;
use crate::scene::{SceneConfig, SourceInfo};

/// Version of the `events.json` layout.
pub const EVENTS_VERSION: u32 = 1;

/// One sound in the soundtrack, with its exact timing and its visible cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Seconds; the recording's first sample is at `round(onset * sample_rate)`.
    pub onset: f64,
    /// Seconds; the end of the recording (one-shots) or of the source's activity (continuous).
    pub offset: f64,
    pub class: SoundClass,
    /// Id of the source in [`EventsFile::sources`].
    pub source: u32,
    /// Linear gain applied to the peak-normalized recording (physics x class level x mix scale);
    /// for continuous sources the peak of the gain curve.
    pub gain: f32,
    /// First video frame at or after the onset (`ceil(onset * fps)`): the first frame showing it.
    pub frame: usize,
    /// Where the cause is visible: `[x0, y0, x1, y1]` in pixels, clipped to the frame.
    pub bbox: [u32; 4],
    /// Id of the bank recording voicing it.
    pub recording: String,
}

impl Event {
    /// True for continuous sources (fire, cart, water).
    pub fn is_continuous(&self) -> bool {
        self.class.is_continuous()
    }
}

/// Everything `events.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventsFile {
    pub version: u32,
    pub scene: SceneConfig,
    pub sample_rate: u32,
    pub num_frames: usize,
    pub num_samples: usize,
    pub sources: Vec<SourceInfo>,
    pub events: Vec<Event>,
}

impl EventsFile {
    /// Pretty JSON bytes (deterministic: same scene, same bytes).
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("events serialize");
        v.push(b'\n');
        v
    }

    /// Reads an `events.json`.
    pub fn read(path: &Path) -> Result<EventsFile> {
        let text = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        serde_json::from_slice(&text).with_context(|| format!("{}: not a foley-sim events file", path.display()))
    }
}

/// Rounds seconds to the microsecond for readable, stable JSON.
pub fn round_time(t: f64) -> f64 {
    (t * 1e6).round() / 1e6
}
