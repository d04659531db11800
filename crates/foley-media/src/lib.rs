//! Video and audio I/O for foley, through `ffmpeg`/`ffprobe` subprocesses with raw pipes.
//!
//! Subprocesses give crash isolation, every format ffmpeg reads, and a trivial build.
//!
//! - [`probe`]: container, duration, video and audio streams.
//! - [`FrameReader`]: streaming frame sampling at a target rate with MMAudio's selection rule
//!   (for each instant `k / fps`, the first decoded frame whose timestamp is at or after it).
//! - [`decode_audio`]: the first audio stream as mono f32 at a requested rate.
//! - [`write_wav`], [`write_flac`], [`Mp4Writer`], [`mux`]: outputs, always written to a
//!   temporary file beside the destination and renamed into place.

mod audio;
mod cleanup;
mod encode;
mod error;
mod ffmpeg;
mod frames;
mod mux;
mod output;
mod probe;
mod rational;
mod stream;
mod wav_stream;

pub use audio::{WavAppender, copy_wav_scaled, decode_audio, decode_audio_segment, write_flac, write_wav};
pub use cleanup::{install_signal_cleanup, is_exiting};
pub use encode::Mp4Writer;
pub use error::MediaError;
pub use ffmpeg::{check_input, check_tools};
pub use frames::{Frame, FrameReader, FrameRequest, Resize, drop_prefetched, prefetch};
pub use mux::{check_muxable, mux};
pub use output::{AtomicOutput, StagingDir, ensure_not_input, parent_dir};
pub use probe::{AudioStream, MediaInfo, VideoStream, probe};
pub use rational::Rational;
pub use stream::{FrameStream, SourceFrames};
pub use wav_stream::WavStream;

/// Largest frame side accepted, in pixels (8K is 7680; anything beyond is refused as suspect).
pub const MAX_FRAME_SIDE: u32 = 16_384;
