//! The one error type of the media layer: every variant names the file and the problem.

use std::path::PathBuf;

/// What went wrong with which file.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{path}: no such file")]
    NotFound { path: PathBuf },
    #[error("{path}: is a directory, expected a media file")]
    IsDirectory { path: PathBuf },
    #[error("{path}: file is empty (0 bytes)")]
    Empty { path: PathBuf },
    #[error("{path}: not a media file ffmpeg can read ({detail})")]
    Unreadable { path: PathBuf, detail: String },
    #[error("{path}: the file is truncated ({detail})")]
    Truncated { path: PathBuf, detail: String },
    #[error("{path}: has no video stream")]
    NoVideo { path: PathBuf },
    #[error("{path}: has no audio stream")]
    NoAudio { path: PathBuf },
    #[error("{path}: the video stream has no frames{detail}")]
    NoFrames { path: PathBuf, detail: String },
    #[error("{path}: frame size {width}x{height} is beyond the supported {max}x{max}")]
    TooLarge { path: PathBuf, width: u32, height: u32, max: u32 },
    #[error("{path}: ffmpeg failed: {detail}")]
    Ffmpeg { path: PathBuf, detail: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: refusing to overwrite an input file; choose another output path")]
    OverwriteInput { path: PathBuf },
    #[error("`{tool}` was not found on PATH; run scripts/setup.sh (it installs ffmpeg from Debian)")]
    MissingTool { tool: &'static str },
    #[error("{0}")]
    InvalidArgument(String),
}

impl MediaError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MediaError::Io { path: path.into(), source }
    }
}
