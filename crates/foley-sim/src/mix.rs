//! The soundtrack: bank recordings placed sample-accurately at the cue times with gains from
//! the scene physics; continuous sources loop with their gain and rate curves; optional room
//! reverb and a noise floor; never clipped.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::bank::{Bank, Recording};
use crate::events::{Event, round_time};
use crate::rng::Rng;
use crate::scene::{CONTROL_RATE, Cue, Scene, Sustain};

/// Mixing options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MixConfig {
    /// Wet level of the room reverb (0 = dry).
    pub reverb: f32,
    /// RMS level of the background noise in dBFS (`None` = digital silence).
    pub noise_floor_db: Option<f32>,
    /// The mix is scaled down (never up) so its peak stays at or below this level in dBFS.
    pub ceiling_db: f32,
}

impl Default for MixConfig {
    fn default() -> Self {
        Self { reverb: 0.0, noise_floor_db: Some(-60.0), ceiling_db: -1.0 }
    }
}

/// A mixed soundtrack and its events.
#[derive(Debug, Clone)]
pub struct Mix {
    pub waveform: Vec<f32>,
    pub events: Vec<Event>,
    /// Scale applied to keep the peak under the ceiling (1 when none was needed).
    pub scale: f32,
}

/// Crossfade of a loop seam.
const LOOP_FADE: f64 = 0.05;
/// Fade in/out of a continuous source at its onset/offset.
const EDGE_FADE: f64 = 0.01;

fn db(x: f32) -> f32 {
    10f32.powf(x / 20.0)
}

/// Mixes the cues of `scene` from `bank` (its sample rate is the output rate).
pub fn mix(scene: &Scene, bank: &Bank, cfg: &MixConfig) -> Result<Mix> {
    let sr = bank.sample_rate;
    let cfg_scene = &scene.config;
    let n = (cfg_scene.duration * sr as f64).round() as usize;
    let mut out = vec![0f32; n];
    let mut events = Vec::with_capacity(scene.cues().len());
    for (source, cue) in scene.cues() {
        let rec = bank.pick(cue.class, cue.pick)?;
        let level = cue.gain * db(cue.class.level_db());
        let start = (cue.onset * sr as f64).round() as usize;
        let (offset, peak_gain) = match &cue.sustain {
            None => {
                add_one_shot(&mut out, start, &rec.samples, level);
                ((cue.onset + rec.samples.len() as f64 / sr as f64).min(cfg_scene.duration), level)
            }
            Some(s) => {
                add_sustain(&mut out, start, rec, s, level, sr);
                let peak = s.gain.iter().fold(0f32, |m, g| m.max(*g));
                (s.offset, level * peak)
            }
        };
        events.push(event(scene, *source, cue, offset, peak_gain, rec));
    }
    if cfg.reverb > 0.0 {
        reverb(&mut out, sr, cfg.reverb);
    }
    if let Some(floor) = cfg.noise_floor_db {
        add_noise(&mut out, db(floor), &mut Rng::new(cfg_scene.seed).fork(0x004E_015E));
    }
    let peak = out.iter().fold(0f32, |m, v| m.max(v.abs()));
    let ceiling = db(cfg.ceiling_db);
    let scale = if peak > ceiling { ceiling / peak } else { 1.0 };
    if scale < 1.0 {
        out.iter_mut().for_each(|v| *v *= scale);
        events.iter_mut().for_each(|e| e.gain *= scale);
    }
    Ok(Mix { waveform: out, events, scale })
}

fn event(scene: &Scene, source: u32, cue: &Cue, offset: f64, gain: f32, rec: &Recording) -> Event {
    let c = &scene.config;
    let px = |v: f32, size: u32| (v * size as f32).round().clamp(0.0, size as f32) as u32;
    let [x0, y0, x1, y1] = cue.bbox;
    Event {
        onset: round_time(cue.onset),
        offset: round_time(offset),
        class: cue.class,
        source,
        gain,
        frame: (cue.onset * c.fps as f64 - 1e-9).ceil() as usize,
        bbox: [px(x0, c.width), px(y0, c.height), px(x1, c.width), px(y1, c.height)],
        recording: rec.info.id.clone(),
    }
}

/// Adds `x * gain` starting at sample `start`, cut at the end of `out`.
fn add_one_shot(out: &mut [f32], start: usize, x: &[f32], gain: f32) {
    if start >= out.len() {
        return;
    }
    for (o, v) in out[start..].iter_mut().zip(x) {
        *o += v * gain;
    }
}

/// The recording made seamless as a loop: its end crossfaded into its start.
fn loop_buffer(x: &[f32], sr: u32) -> Vec<f32> {
    let fade = ((LOOP_FADE * sr as f64) as usize).min(x.len() / 4).max(1);
    let len = x.len() - fade;
    (0..len)
        .map(|i| {
            if i < fade {
                let k = i as f32 / fade as f32;
                x[i] * k + x[len + i] * (1.0 - k)
            } else {
                x[i]
            }
        })
        .collect()
}

/// Loops `rec` from `start` to the offset, reading at the rate curve and scaled by the gain curve.
fn add_sustain(out: &mut [f32], start: usize, rec: &Recording, s: &Sustain, level: f32, sr: u32) {
    let buf = loop_buffer(&rec.samples, sr);
    let len = buf.len();
    let end = ((s.offset * sr as f64).round() as usize).min(out.len());
    let ctl = |curve: &[f32], i: usize| {
        let x = i as f64 / sr as f64 * CONTROL_RATE;
        let j = (x.floor() as usize).min(curve.len() - 1);
        let f = (x - j as f64) as f32;
        curve[j] * (1.0 - f) + curve[(j + 1).min(curve.len() - 1)] * f
    };
    let edge = (EDGE_FADE * sr as f64).max(1.0) as usize;
    let mut pos = 0f64;
    for (i, o) in out[start.min(end)..end].iter_mut().enumerate() {
        let k = pos.floor() as usize % len;
        let f = pos.fract() as f32;
        let v = buf[k] * (1.0 - f) + buf[(k + 1) % len] * f;
        let fade = (i.min(end - start - 1 - i) as f32 / edge as f32).min(1.0);
        *o += v * level * ctl(&s.gain, i) * fade;
        pos += ctl(&s.rate, i) as f64;
    }
}

/// Schroeder-Freeverb room: four damped combs in parallel, two allpasses in series.
fn reverb(x: &mut [f32], sr: u32, wet: f32) {
    let scale = sr as f64 / 44_100.0;
    let combs = [1116, 1188, 1277, 1356].map(|d| ((d as f64 * scale) as usize).max(1));
    let allpasses = [556, 441].map(|d| ((d as f64 * scale) as usize).max(1));
    let (feedback, damp) = (0.8f32, 0.25f32);
    let mut wet_sig = vec![0f32; x.len()];
    for d in combs {
        let mut line = vec![0f32; d];
        let mut lp = 0f32;
        for (i, w) in wet_sig.iter_mut().enumerate() {
            let y = line[i % d];
            lp = y * (1.0 - damp) + lp * damp;
            line[i % d] = x[i] + lp * feedback;
            *w += y * 0.25;
        }
    }
    for d in allpasses {
        let mut line = vec![0f32; d];
        for (i, w) in wet_sig.iter_mut().enumerate() {
            let b = line[i % d];
            line[i % d] = *w + b * 0.5;
            *w = b - *w;
        }
    }
    for (v, w) in x.iter_mut().zip(&wet_sig) {
        *v += wet * w;
    }
}

/// Adds gently low-passed white noise with RMS `level` (deterministic per seed).
fn add_noise(x: &mut [f32], level: f32, rng: &mut Rng) {
    // A one-pole low-pass at a = 0.5 keeps 1/3 of white noise's power: compensate.
    let (a, norm) = (0.5f32, (3.0f32).sqrt());
    let mut lp = 0f32;
    for v in x.iter_mut() {
        let w = (rng.f64() as f32 * 2.0 - 1.0) * 3f32.sqrt();
        lp = a * lp + (1.0 - a) * w;
        *v += lp * norm * level;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_is_seamless_and_noise_has_its_level() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.05).sin()).collect();
        let l = loop_buffer(&x, 16_000);
        assert_eq!(l.len(), 750);
        // The seam joins the recording's own continuation: l[last] -> l[0] continues x.
        assert!((l[0] - x[750]).abs() < 1e-6 && (l[749] - x[749]).abs() < 1e-6);
        let mut y = vec![0f32; 100_000];
        add_noise(&mut y, 0.01, &mut Rng::new(1));
        let rms = (y.iter().map(|v| v * v).sum::<f32>() / y.len() as f32).sqrt();
        assert!((rms / 0.01 - 1.0).abs() < 0.05, "noise rms {rms}");
    }
}
