//! A soundtrack written while it is generated (`foley generate --stream`): mono 32-bit float
//! WAV to standard output or to a file that grows block by block.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::MediaError;
use crate::audio::WavAppender;

/// Where streamed audio goes.
pub enum WavStream {
    /// Standard output: the RIFF and data sizes are marked unknown (0xFFFFFFFF), as players
    /// reading a pipe expect.
    Stdout(std::io::BufWriter<std::io::Stdout>),
    /// A file whose header is rewritten after every block, so it is a valid WAV at any moment.
    /// Removed again if generation fails.
    File { wav: Option<WavAppender>, path: PathBuf },
}

/// The header of a mono float WAV of unknown length.
fn streaming_header(sample_rate: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    h.extend_from_slice(&1u16.to_le_bytes()); // mono
    h.extend_from_slice(&sample_rate.to_le_bytes());
    h.extend_from_slice(&(sample_rate * 4).to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&32u16.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&u32::MAX.to_le_bytes());
    h
}

impl WavStream {
    /// `-` is standard output; anything else a file, created now (its folder must exist).
    pub fn create(dest: &Path, sample_rate: u32) -> Result<Self, MediaError> {
        if dest == Path::new("-") {
            let mut out = std::io::BufWriter::new(std::io::stdout());
            out.write_all(&streaming_header(sample_rate)).and_then(|_| out.flush()).map_err(|e| MediaError::io(dest, e))?;
            return Ok(Self::Stdout(out));
        }
        Ok(Self::File { wav: Some(WavAppender::create(dest, sample_rate)?), path: dest.to_path_buf() })
    }

    /// Whether the stream is standard output (which then carries nothing else).
    pub fn is_stdout(&self) -> bool {
        matches!(self, Self::Stdout(_))
    }

    /// Appends samples and makes them visible to readers at once.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), MediaError> {
        match self {
            Self::Stdout(out) => {
                let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
                out.write_all(&bytes).and_then(|_| out.flush()).map_err(|e| MediaError::io(Path::new("-"), e))
            }
            Self::File { wav, .. } => {
                let wav = wav.as_mut().expect("open until finished");
                wav.push(samples)?;
                wav.flush()
            }
        }
    }

    /// Completes the stream (the file's header gets its final sizes).
    pub fn finish(mut self) -> Result<(), MediaError> {
        match &mut self {
            Self::Stdout(out) => out.flush().map_err(|e| MediaError::io(Path::new("-"), e)),
            Self::File { wav, .. } => wav.take().expect("open until finished").finish(),
        }
    }
}

impl Drop for WavStream {
    fn drop(&mut self) {
        // Not finished: generation failed, and a partial stream file must not look like a result.
        if let Self::File { wav: Some(_), path } = self {
            let _ = std::fs::remove_file(path);
        }
    }
}
