//! Running a checked job: long-form generation, the output level, the wav and the mux.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use foley_dsp::{LevelMeter, StreamLevel};
use foley_gen::generate::Request;
use foley_gen::longform::{DEFAULT_OVERLAP, LongRequest, Splice, generate_long, overlap_tokens, quantum, reference_prefix};
use foley_gen::windows::{EmbeddedModel, WindowModel};

use crate::models::Models;
use crate::spec::{EditRange, Plan};

/// What a job tells its caller while it runs.
pub trait Progress {
    /// A stage begins: "generating", "level and wav", "mux".
    fn stage(&mut self, _name: &'static str) {}
    /// `done` of `total` windows are final. An error stops the job (cancellation, a time limit);
    /// nothing is published then.
    fn windows(&mut self, _done: usize, _total: usize) -> Result<()> {
        Ok(())
    }
}

/// No progress display.
impl Progress for () {}

/// The files a finished job published.
#[derive(Debug, Clone)]
pub struct Outputs {
    pub mp4: PathBuf,
    pub wav: PathBuf,
    /// Seconds of video given sound, and where they start.
    pub start: f64,
    pub duration: f64,
    pub timings: Timings,
}

impl Plan {
    /// Generate with `models` (loaded from `self.choice`), then publish the wav and mp4.
    pub fn run(self, models: &mut Models, progress: &mut dyn Progress) -> Result<Outputs> {
        anyhow::ensure!(*models.choice() == self.choice, "the job asks for {:?} but the loaded models are {:?}", self.choice, models.choice());
        match models {
            Models::Embedded { generator, encoders, decoder, .. } => {
                let name = decoder.name();
                self.produce(&mut EmbeddedModel::new(generator, encoders, decoder), progress, name)
            }
            Models::Mmaudio { model, .. } => self.produce(model, progress, "vae and vocoder"),
        }
    }

    fn produce<M: WindowModel>(self, model: &mut M, progress: &mut dyn Progress, decoder: &'static str) -> Result<Outputs> {
        let mut clock = Timings::new();
        let Plan { spec, window, video_duration, options, edit, level, mp4, wav, wav_out, mp4_out, .. } = self;
        let input = spec.input.as_path();
        progress.stage("generating");
        // Raw samples stream to a scratch wav as windows finish (memory does not grow with the
        // clip) while the loudness meter follows; the final wav is that file at the output level.
        let window_seq = model.sequence(model.window_duration());
        let sr = window_seq.sample_rate();
        let scratch = foley_media::AtomicOutput::new(&mp4.with_extension("raw.wav"))?;
        let mut raw = foley_media::WavAppender::create(scratch.path(), sr)?;
        let request = Request { video: input, window, prompt: spec.prompt.as_deref(), negative: spec.negative.as_deref(), options };
        let mut long = LongRequest::new(request, spec.overlap);
        let mut splice = None;
        if let (Some(range), Some(audio)) = (&edit, &spec.audio) {
            let existing = foley_media::decode_audio(audio, sr)?;
            let (from, to) = match *range {
                EditRange::Inpaint(a, b) => (a, b),
                EditRange::Extend(s) => {
                    let end = existing.len() as f64 / sr as f64;
                    (end, (end + s).min(video_duration))
                }
            };
            let plan = Splice::new(model, &existing, from, to, video_duration, spec.overlap.max(DEFAULT_OVERLAP), &window_seq)
                .with_context(|| audio.display().to_string())?;
            long.request.window = plan.window;
            long.given = Some(plan.given.clone());
            splice = Some((plan, existing));
        } else if let Some(reference) = &spec.reference_audio {
            long.prefix = overlap_tokens(spec.overlap, &window_seq)?.max(quantum(&window_seq));
            let seconds = long.prefix as f64 / window_seq.latent_rate();
            let audio = foley_media::decode_audio_segment(reference, sr, spec.reference_start, Some(seconds + 0.1))?;
            long.given = Some(reference_prefix(model, &audio, long.prefix, &window_seq).with_context(|| reference.display().to_string())?);
        }
        let lead = (window.start * sr as f64).round() as usize;
        if splice.is_none() {
            raw.push_silence(lead)?;
        }
        let mut meter = LevelMeter::new(sr)?;
        let mut generated = Vec::new();
        // A stream carries the samples at their final level, decided causally.
        let mut stream = spec.stream.as_deref().map(|p| foley_media::WavStream::create(p, sr)).transpose()?;
        let mut stream_level = match (&stream, level) {
            (Some(_), Some(target)) => Some(StreamLevel::new(sr, target)?),
            _ => None,
        };
        if let Some(s) = &mut stream {
            s.push(&vec![0.0; lead])?;
        }
        let stages = generate_long(
            model,
            &long,
            &mut |samples| {
                if splice.is_some() {
                    generated.extend_from_slice(samples);
                    return Ok(());
                }
                let Some(s) = &mut stream else {
                    meter.add(samples)?;
                    return Ok(raw.push(samples)?);
                };
                let ready = match &mut stream_level {
                    Some(l) => l.push(samples)?,
                    None => samples.to_vec(),
                };
                raw.push(&ready)?;
                Ok(s.push(&ready)?)
            },
            &mut |done, total| progress.windows(done, total),
        )?;
        clock.add("features", stages.features);
        clock.add("sampling", stages.sampling);
        clock.add(decoder, stages.decoding);
        clock.lap("other generation");
        progress.stage("level and wav");
        // An edit keeps the existing audio as it is (the new part is matched to its loudness); a
        // stream is already at its level.
        let level = if let Some((plan, existing)) = &splice {
            raw.push(&plan.apply(existing, &generated, sr)?)?;
            None
        } else if let Some(mut s) = stream.take() {
            let rest = stream_level.take().map(StreamLevel::finish).unwrap_or_default();
            raw.push(&rest)?;
            s.push(&rest)?;
            s.finish()?;
            None
        } else {
            level
        };
        raw.finish()?;
        let gain = match level {
            Some(target) => {
                let report = meter.report(target)?;
                tracing::info!(
                    "output level: {:?} LUFS, true peak {:?} dBTP before; gain {:.1} dB",
                    report.loudness_lufs,
                    report.true_peak_dbtp,
                    report.gain_db
                );
                report.gain()
            }
            None => 1.0,
        };
        foley_media::copy_wav_scaled(scratch.path(), wav_out.path(), gain).with_context(|| format!("writing {}", wav.display()))?;
        drop(scratch);
        clock.lap("level and wav");
        progress.stage("mux");
        // The wav is published only once the mp4 exists: a failed mux leaves neither.
        foley_media::mux(input, wav_out.path(), mp4_out.path())?;
        mp4_out.commit()?;
        wav_out.commit()?;
        clock.lap("mux");
        Ok(Outputs { mp4, wav, start: window.start, duration: window.duration, timings: clock })
    }
}

/// Wall time per stage of one job.
#[derive(Debug, Clone)]
pub struct Timings {
    since: Instant,
    pub stages: Vec<(&'static str, Duration)>,
    /// Time already attributed inside the current lap (generation's own stages).
    attributed: Duration,
}

impl Timings {
    /// Starts counting now.
    pub fn new() -> Self {
        Self { since: Instant::now(), stages: Vec::new(), attributed: Duration::ZERO }
    }

    /// Closes the current lap as `name` (what `add` did not attribute of it).
    pub fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        let rest = (now - self.since).saturating_sub(std::mem::take(&mut self.attributed));
        self.stages.push((name, rest));
        self.since = now;
    }

    /// A stage measured inside the current lap.
    pub fn add(&mut self, name: &'static str, d: Duration) {
        self.stages.push((name, d));
        self.attributed += d;
    }

    /// Appends `other`'s stages (e.g. a job's, after the caller's own checks and loading).
    pub fn extend(&mut self, other: &Timings) {
        self.stages.extend_from_slice(&other.stages);
    }

    /// The sum of all stages.
    pub fn total(&self) -> Duration {
        self.stages.iter().map(|(_, d)| *d).sum()
    }
}

impl Default for Timings {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "timings:")?;
        for (name, d) in &self.stages {
            write!(f, " {name} {:.2} s |", d.as_secs_f64())?;
        }
        write!(f, " total {:.2} s (process start not counted)", self.total().as_secs_f64())
    }
}
