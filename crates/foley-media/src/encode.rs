//! Writing mp4 files from raw RGB frames (and an optional soundtrack) through ffmpeg.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};

use crate::cleanup::ChildGuard;
use crate::ffmpeg::{ffmpeg, run, spawn, stderr_summary};
use crate::{AtomicOutput, MediaError, Rational, write_wav};

/// Streams RGB frames into an H.264 mp4. Nothing appears at the destination until
/// [`Mp4Writer::finish`] succeeds.
pub struct Mp4Writer {
    dest: PathBuf,
    video: AtomicOutput,
    child: Child,
    _child_guard: ChildGuard,
    stdin: Option<ChildStdin>,
    frame_bytes: usize,
    frames: usize,
}

impl Mp4Writer {
    /// Starts an encoder for `width x height` frames at `fps` (yuv420p needs even sizes).
    pub fn create(dest: &Path, width: u32, height: u32, fps: Rational) -> Result<Self, MediaError> {
        if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
            return Err(MediaError::InvalidArgument(format!("{}: mp4 frame size must be even and non-zero, got {width}x{height}", dest.display())));
        }
        let video = AtomicOutput::new(&with_extension_tag(dest, "video"))?;
        let mut cmd = ffmpeg()?;
        cmd.args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &format!("{width}x{height}")])
            .args(["-framerate", &fps.to_string(), "-i", "pipe:0"])
            .args(["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p"])
            .args(["-movflags", "+faststart", "-f", "mp4", "-y"])
            .arg(video.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let (mut child, _child_guard) = spawn(&mut cmd, dest)?;
        let stdin = child.stdin.take();
        Ok(Self { dest: dest.into(), video, child, _child_guard, stdin, frame_bytes: (width * height * 3) as usize, frames: 0 })
    }

    /// Appends one packed RGB frame.
    pub fn push_frame(&mut self, rgb: &[u8]) -> Result<(), MediaError> {
        if rgb.len() != self.frame_bytes {
            return Err(MediaError::InvalidArgument(format!("{}: frame has {} bytes, expected {}", self.dest.display(), rgb.len(), self.frame_bytes)));
        }
        let stdin = self.stdin.as_mut().expect("stdin open until finish");
        if stdin.write_all(rgb).is_err() {
            return Err(self.encoder_failure());
        }
        self.frames += 1;
        Ok(())
    }

    /// Closes the video and, with `audio = Some((samples, rate))`, adds it as AAC; then moves
    /// the file into place.
    pub fn finish(mut self, audio: Option<(&[f32], u32)>) -> Result<(), MediaError> {
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| MediaError::io(&self.dest, e))?;
        if !status.success() || self.frames == 0 {
            return Err(self.encoder_failure());
        }
        let Some((samples, rate)) = audio else {
            std::fs::rename(self.video.path(), &self.dest).map_err(|e| MediaError::io(&self.dest, e))?;
            return Ok(());
        };
        let wav = AtomicOutput::new(&with_extension_tag(&self.dest, "audio.wav"))?;
        write_wav(wav.path(), samples, rate)?;
        let out = AtomicOutput::new(&self.dest)?;
        let mut cmd = ffmpeg()?;
        cmd.arg("-i").arg(self.video.path()).arg("-i").arg(wav.path());
        // `-ac 1`: the WAV header says "1 channel (FL)", a layout the AAC encoder refuses.
        cmd.args(["-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "160k", "-ac", "1"])
            .args(["-movflags", "+faststart", "-f", "mp4", "-y"])
            .arg(out.path());
        run(cmd, &self.dest)?;
        out.commit()
    }

    fn encoder_failure(&mut self) -> MediaError {
        let _ = self.child.kill();
        let mut log = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut log);
        }
        MediaError::Ffmpeg { path: self.dest.clone(), detail: stderr_summary(&log) }
    }
}

/// `dir/name.ext` -> `dir/name.<tag>.mp4`-style sibling used for intermediate files.
fn with_extension_tag(dest: &Path, tag: &str) -> PathBuf {
    let stem = dest.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let tag = if tag.contains('.') { tag.to_string() } else { format!("{tag}.mp4") };
    dest.with_file_name(format!("{stem}.{tag}"))
}
