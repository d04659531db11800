//! Rendering a scene: in memory (frames, waveform, events) for training without any encoding,
//! or to disk as `scene.mp4` (H.264 + AAC), `scene.wav` (f32) and `events.json`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::bank::Bank;
use crate::events::{EVENTS_VERSION, Event, EventsFile};
use crate::mix::{MixConfig, mix};
use crate::scene::{Scene, SceneConfig, SourceInfo};

/// A rendered scene in memory.
#[derive(Debug, Clone)]
pub struct Clip {
    pub config: SceneConfig,
    /// Packed RGB frames, `num_frames x height x width x 3`, frame `k` at `k / fps`.
    pub frames: Vec<u8>,
    pub num_frames: usize,
    /// Mono soundtrack at `sample_rate`.
    pub waveform: Vec<f32>,
    pub sample_rate: u32,
    pub events: Vec<Event>,
    pub sources: Vec<SourceInfo>,
}

impl Clip {
    /// Bytes of one frame.
    pub fn frame_bytes(&self) -> usize {
        (self.config.width * self.config.height * 3) as usize
    }

    /// Frame `k` as packed RGB.
    pub fn frame(&self, k: usize) -> &[u8] {
        let n = self.frame_bytes();
        &self.frames[k * n..(k + 1) * n]
    }

    /// The `events.json` contents.
    pub fn events_file(&self) -> EventsFile {
        events_file(&self.config, self.sample_rate, self.num_frames, self.waveform.len(), &self.sources, &self.events)
    }
}

fn events_file(config: &SceneConfig, sr: u32, frames: usize, samples: usize, sources: &[SourceInfo], events: &[Event]) -> EventsFile {
    EventsFile {
        version: EVENTS_VERSION,
        scene: config.clone(),
        sample_rate: sr,
        num_frames: frames,
        num_samples: samples,
        sources: sources.to_vec(),
        events: events.to_vec(),
    }
}

/// Renders `config` fully in memory, drawing frames on all cores (bit-identical to one core).
pub fn render_clip(config: &SceneConfig, bank: &Bank, mix_cfg: &MixConfig) -> Result<Clip> {
    let scene = Scene::generate(config)?;
    let mixed = mix(&scene, bank, mix_cfg)?;
    let frames = render_frames(&scene);
    Ok(Clip {
        config: config.clone(),
        num_frames: scene.num_frames(),
        frames,
        waveform: mixed.waveform,
        sample_rate: bank.sample_rate,
        events: mixed.events,
        sources: scene.sources(),
    })
}

/// All frames of `scene`, packed RGB, rendered in parallel chunks.
pub fn render_frames(scene: &Scene) -> Vec<u8> {
    let n = scene.num_frames();
    let fb = (scene.config.width * scene.config.height * 3) as usize;
    let mut frames = vec![0u8; n * fb];
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).clamp(1, 8);
    let per = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        for (c, chunk) in frames.chunks_mut(per * fb).enumerate() {
            s.spawn(move || {
                let mut canvas = scene.canvas();
                let mut rgb = Vec::with_capacity(fb);
                for (j, out) in chunk.chunks_mut(fb).enumerate() {
                    scene.render_frame(c * per + j, &mut canvas);
                    canvas.write_rgb(&mut rgb);
                    out.copy_from_slice(&rgb);
                }
            });
        }
    });
    frames
}

/// Paths written by [`write_scene`].
#[derive(Debug, Clone)]
pub struct SceneFiles {
    pub mp4: PathBuf,
    pub wav: PathBuf,
    pub events: PathBuf,
    pub num_events: usize,
}

/// Renders `config` into `dir` as `scene.mp4`, `scene.wav` and `events.json`, streaming frames
/// into the encoder (constant memory, any duration). `progress(frame, total)` after each frame.
pub fn write_scene(config: &SceneConfig, bank: &Bank, mix_cfg: &MixConfig, dir: &Path, progress: &mut dyn FnMut(usize, usize)) -> Result<SceneFiles> {
    let scene = Scene::generate(config)?;
    let mixed = mix(&scene, bank, mix_cfg)?;
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create output directory", dir.display()))?;
    let files = SceneFiles { mp4: dir.join("scene.mp4"), wav: dir.join("scene.wav"), events: dir.join("events.json"), num_events: mixed.events.len() };
    let fps = foley_media::Rational::new(config.fps as i64, 1).expect("fps validated");
    let work = tempfile::Builder::new().prefix(".scene-").tempdir_in(dir)?;
    let silent = work.path().join("video.mp4");
    let mut writer = foley_media::Mp4Writer::create(&silent, config.width, config.height, fps)?;
    let (mut canvas, mut rgb) = (scene.canvas(), Vec::new());
    let n = scene.num_frames();
    for k in 0..n {
        scene.render_frame(k, &mut canvas);
        canvas.write_rgb(&mut rgb);
        writer.push_frame(&rgb)?;
        progress(k + 1, n);
    }
    writer.finish(None)?;
    // The soundtrack goes in through a 16-bit WAV: ffmpeg 5's AAC encoder refuses the "FL"
    // channel layout it infers for a mono float WAV.
    let pcm = work.path().join("audio.wav");
    write_pcm16(&pcm, &mixed.waveform, bank.sample_rate)?;
    foley_media::mux(&silent, &pcm, &files.mp4)?;
    foley_media::write_wav(&files.wav, &mixed.waveform, bank.sample_rate)?;
    let ev = events_file(config, bank.sample_rate, n, mixed.waveform.len(), &scene.sources(), &mixed.events);
    write_atomic(&files.events, &ev.to_json())?;
    Ok(files)
}

fn write_pcm16(path: &Path, x: &[f32], sample_rate: u32) -> Result<()> {
    let spec = hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).with_context(|| format!("{}: cannot write", path.display()))?;
    for v in x {
        w.write_sample((v.clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    w.finalize()?;
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("{}: cannot create a temporary file", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    // Temporary files are created private; outputs are ordinary files.
    #[cfg(unix)]
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

/// Writes frame `k` of `scene` as a PNG (for docs and inspection).
pub fn write_png(scene: &Scene, k: usize, path: &Path) -> Result<()> {
    let mut canvas = scene.canvas();
    scene.render_frame(k, &mut canvas);
    let mut rgb = Vec::new();
    canvas.write_rgb(&mut rgb);
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, scene.config.width, scene.config.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()?.write_image_data(&rgb)?;
    }
    write_atomic(path, &bytes)
}
