//! Audio decoding to mono f32 and WAV/FLAC writing.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use crate::ffmpeg::{ffmpeg, run, spawn, stderr_summary};
use crate::{AtomicOutput, MediaError, probe};

/// The first audio stream of `path` as mono f32 at `sample_rate` Hz (channels averaged, as
/// MMAudio's `waveform.mean(dim=0)`; resampled by libswresample).
pub fn decode_audio(path: &Path, sample_rate: u32) -> Result<Vec<f32>, MediaError> {
    decode_audio_segment(path, sample_rate, 0.0, None)
}

/// Like [`decode_audio`], over `[start, start + duration)` seconds (to the end if `None`).
pub fn decode_audio_segment(path: &Path, sample_rate: u32, start: f64, duration: Option<f64>) -> Result<Vec<f32>, MediaError> {
    if sample_rate == 0 {
        return Err(MediaError::InvalidArgument("sample rate must be positive".into()));
    }
    let info = probe(path)?;
    if info.audio.is_empty() {
        return Err(MediaError::NoAudio { path: path.into() });
    }
    let mut cmd = ffmpeg()?;
    if start > 0.0 {
        cmd.args(["-ss", &format!("{start}")]);
    }
    cmd.arg("-i").arg(path).args(["-map", "0:a:0", "-vn", "-sn", "-dn"]);
    if let Some(d) = duration {
        cmd.args(["-t", &format!("{d}")]);
    }
    // An explicit mean: ffmpeg's own `-ac 1` downmix sums stereo at -3 dB ((L+R)/sqrt 2),
    // which is louder than the mean and can exceed full scale.
    let channels = info.audio[0].channels;
    if channels > 1 {
        let gain = 1.0 / channels as f64;
        let terms: Vec<String> = (0..channels).map(|c| format!("{gain}*c{c}")).collect();
        cmd.args(["-af", &format!("pan=mono|c0={}", terms.join("+"))]);
    }
    cmd.args(["-ac", "1", "-ar", &sample_rate.to_string(), "-f", "f32le", "pipe:1"]);
    let bytes = run(cmd, path)?;
    Ok(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

/// Writes mono 32-bit float WAV (lossless for our f32 pipeline), atomically.
pub fn write_wav(path: &Path, samples: &[f32], sample_rate: u32) -> Result<(), MediaError> {
    let out = AtomicOutput::new(path)?;
    let spec = hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
    let hound_err = |e: hound::Error| MediaError::io(path, std::io::Error::other(e));
    let mut writer = hound::WavWriter::create(out.path(), spec).map_err(hound_err)?;
    for &s in samples {
        writer.write_sample(s).map_err(hound_err)?;
    }
    writer.finalize().map_err(hound_err)?;
    out.commit()
}

/// A mono 32-bit float WAV written block by block (long soundtracks never sit in memory whole).
/// Write it to a temporary path (e.g. [`AtomicOutput::path`]); [`WavAppender::finish`] fixes
/// the header.
pub struct WavAppender {
    path: std::path::PathBuf,
    writer: hound::WavWriter<std::io::BufWriter<std::fs::File>>,
}

impl WavAppender {
    pub fn create(path: &Path, sample_rate: u32) -> Result<Self, MediaError> {
        let spec = hound::WavSpec { channels: 1, sample_rate, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
        let writer = hound::WavWriter::create(path, spec).map_err(|e| MediaError::io(path, std::io::Error::other(e)))?;
        Ok(Self { path: path.into(), writer })
    }

    /// Appends samples.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        samples.iter().try_for_each(|&s| self.writer.write_sample(s)).map_err(|e| MediaError::io(&self.path, std::io::Error::other(e)))
    }

    /// Appends `n` samples of silence.
    pub fn push_silence(&mut self, n: usize) -> Result<(), MediaError> {
        (0..n).try_for_each(|_| self.writer.write_sample(0f32)).map_err(|e| MediaError::io(&self.path, std::io::Error::other(e)))
    }

    /// Writes buffered samples and updates the header, so the file is complete as it stands.
    pub fn flush(&mut self) -> Result<(), MediaError> {
        self.writer.flush().map_err(|e| MediaError::io(&self.path, std::io::Error::other(e)))
    }

    pub fn finish(self) -> Result<(), MediaError> {
        self.writer.finalize().map_err(|e| MediaError::io(&self.path, std::io::Error::other(e)))
    }
}

/// Copies the float WAV `src` (as [`WavAppender`] writes it) to `dest` with every sample
/// multiplied by `gain`, streaming.
pub fn copy_wav_scaled(src: &Path, dest: &Path, gain: f32) -> Result<(), MediaError> {
    fn err(p: &Path) -> impl Fn(hound::Error) -> MediaError + '_ {
        move |e| MediaError::io(p, std::io::Error::other(e))
    }
    let reader = hound::WavReader::open(src).map_err(err(src))?;
    let mut out = WavAppender::create(dest, reader.spec().sample_rate)?;
    let mut block = Vec::with_capacity(1 << 14);
    for s in reader.into_samples::<f32>() {
        block.push(s.map_err(err(src))? * gain);
        if block.len() == block.capacity() {
            out.push(&block)?;
            block.clear();
        }
    }
    out.push(&block)?;
    out.finish()
}

/// Writes mono 16-bit FLAC through ffmpeg's encoder, atomically.
pub fn write_flac(path: &Path, samples: &[f32], sample_rate: u32) -> Result<(), MediaError> {
    let out = AtomicOutput::new(path)?;
    let mut cmd = ffmpeg()?;
    cmd.args(["-f", "f32le", "-ar", &sample_rate.to_string(), "-ac", "1", "-i", "pipe:0"])
        .args(["-c:a", "flac", "-sample_fmt", "s16", "-y"])
        .arg(out.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let (mut child, _guard) = spawn(&mut cmd, path)?;
    let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let write_result = child.stdin.take().expect("stdin is piped").write_all(&bytes);
    let output = child.wait_with_output().map_err(|e| MediaError::io(path, e))?;
    if !output.status.success() || write_result.is_err() {
        let detail = stderr_summary(&String::from_utf8_lossy(&output.stderr));
        return Err(MediaError::Ffmpeg { path: path.into(), detail });
    }
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_and_flac_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let sr = 16_000;
        let x: Vec<f32> = (0..sr).map(|i| 0.5 * (i as f32 * 0.0625).sin()).collect();
        let wav = dir.path().join("a.wav");
        write_wav(&wav, &x, sr).unwrap();
        let y = decode_audio(&wav, sr).unwrap();
        assert_eq!(x, y, "float WAV must round-trip exactly");
        let flac = dir.path().join("a.flac");
        write_flac(&flac, &x, sr).unwrap();
        let z = decode_audio(&flac, sr).unwrap();
        assert_eq!(z.len(), x.len());
        let err = x.iter().zip(&z).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(err <= 1.0 / 32768.0 + 1e-7, "16-bit FLAC error {err}");
        // Nothing but the two outputs is left in the directory (no temporaries).
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
