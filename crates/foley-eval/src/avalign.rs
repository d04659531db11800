//! AV-Align (Yariv et al., "Diverse and Aligned Audio-to-Video Generation via Text-to-Audio
//! Translation"): training-free audio-visual alignment.
//!
//! Video peaks are local maxima (above 0.1 px) of the mean optical-flow magnitude between
//! consecutive frames (OpenCV Farneback, the reference's parameters); audio peaks are librosa
//! onsets. An audio peak is matched if some video peak lies within one frame (`± 1 / fps`,
//! exclusive); the score is the IoU `matched / (audio + video - matched)`.

use std::path::Path;

use foley_media::{FrameReader, FrameRequest, Resize};
use rayon::prelude::*;

use crate::flow::{Expansion, FarnebackParams, Image, mean_flow_magnitude};
use crate::pipeline::EvalError;

/// A video's flow trajectory and AV-Align peaks.
#[derive(Debug, Clone)]
pub struct VideoFlow {
    /// Native frame rate (OpenCV's `CAP_PROP_FPS`).
    pub fps: f64,
    /// Mean flow magnitude per frame; entry 0 repeats entry 1 like the reference.
    pub trajectory: Vec<f64>,
    /// Peak times in seconds.
    pub peaks: Vec<f64>,
}

/// Frames decoded per parallel batch (bounds memory: an HD frame's expansion is ~25 MB).
const FLOW_BATCH: usize = 8;

/// Decodes every frame at the native rate and finds AV-Align's video peaks.
pub fn video_flow_peaks(path: &Path) -> Result<VideoFlow, EvalError> {
    let info = foley_media::probe(path)?;
    let fps =
        info.video.as_ref().and_then(|v| v.fps).ok_or_else(|| EvalError::Input { path: path.into(), detail: "no video stream with a frame rate".into() })?;
    let request = FrameRequest { fps, start: 0.0, duration: None, resize: Resize::Native };
    let params = FarnebackParams::AV_ALIGN;
    // Frames are decoded in order; each batch's expansions and flows run on all cores. The
    // last expansion of a batch is the first frame of the next pair.
    let mut previous: Option<Expansion> = None;
    let mut trajectory = Vec::new();
    let mut frames = FrameReader::open(path, &request)?;
    loop {
        let batch: Vec<_> = frames.by_ref().take(FLOW_BATCH).collect::<Result<_, _>>()?;
        if batch.is_empty() {
            break;
        }
        let expansions: Vec<Expansion> =
            batch.par_iter().map(|f| Expansion::new(&Image::from_rgb(f.width as usize, f.height as usize, &f.rgb), &params)).collect();
        let chain: Vec<&Expansion> = previous.iter().chain(&expansions).collect();
        trajectory.extend(chain.par_windows(2).map(|w| mean_flow_magnitude(w[0], w[1], &params)).collect::<Vec<_>>());
        previous = expansions.into_iter().last();
    }
    if let Some(&first) = trajectory.first() {
        trajectory.insert(0, first);
    }
    let fps = fps.as_f64();
    Ok(VideoFlow { fps, peaks: flow_peaks(&trajectory, fps), trajectory })
}

/// Mean flow magnitude a video peak must exceed (pixels per frame).
pub const FLOW_PEAK_THRESHOLD: f64 = 0.1;

/// Times (`i / fps`) of strict local maxima of the flow trajectory above the threshold.
pub fn flow_peaks(trajectory: &[f64], fps: f64) -> Vec<f64> {
    (1..trajectory.len().saturating_sub(1))
        .filter(|&i| {
            let (a, b, c) = (trajectory[i - 1], trajectory[i], trajectory[i + 1]);
            a < b && b > c && b > FLOW_PEAK_THRESHOLD
        })
        .map(|i| i as f64 / fps)
        .collect()
}

/// The AV-Align IoU between audio onset times and video peak times. Both empty gives 0 (the
/// reference would divide by zero).
pub fn iou(audio_peaks: &[f64], video_peaks: &[f64], fps: f64) -> f64 {
    let window = 1.0 / fps;
    let hits = audio_peaks.iter().filter(|&&a| video_peaks.iter().any(|&v| v - window < a && a < v + window)).count();
    let union = audio_peaks.len() + video_peaks.len() - hits;
    if union == 0 { 0.0 } else { hits as f64 / union as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_counts_audio_peaks_within_one_frame() {
        // fps 10: window ±0.1 s (exclusive). 0.55 hits 0.5; 1.0 misses 1.1 (exactly one frame).
        let iou = iou(&[0.55, 1.0, 3.0], &[0.5, 1.1], 10.0);
        assert!((iou - 1.0 / 4.0).abs() < 1e-12);
    }

    #[test]
    fn flow_peaks_are_strict_local_maxima_above_threshold() {
        let t = [0.0, 0.5, 0.2, 0.05, 0.09, 0.02, 0.3, 0.3, 0.1];
        assert_eq!(flow_peaks(&t, 10.0), vec![0.1]);
    }
}
