//! The one error type of the media layer: every variant names the file and the problem.

use std::path::PathBuf;

/// What went wrong with which file.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{path}: no such file")]
    NotFound { path: PathBuf },
    #[error("{path}: is a directory, expected a media file")]
    IsDirectory { path: PathBuf },
    #[error("{path}: is {kind}, expected a regular media file")]
    NotRegular { path: PathBuf, kind: &'static str },
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
    /// The OS error is part of the message, not a separate cause (it would print twice).
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: directory is not writable; choose another output location")]
    NotWritable { path: PathBuf },
    #[error("{path}: refusing to overwrite an input file; choose another output path")]
    OverwriteInput { path: PathBuf },
    #[error("`{tool}` was not found on PATH; run scripts/setup.sh (it installs ffmpeg from Debian)")]
    MissingTool { tool: &'static str },
    #[error("{0}")]
    InvalidArgument(String),
}

impl MediaError {
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        MediaError::Io { path: path.into(), error }
    }

    /// Creating something in directory `dir` failed: unwritable directories (permissions, a
    /// read-only file system, a pseudo file system) are named as such.
    pub(crate) fn create_in(dir: &std::path::Path, error: std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        match error.kind() {
            PermissionDenied | ReadOnlyFilesystem | NotFound => MediaError::NotWritable { path: dir.into() },
            // tempfile adds the temporary's name to the message; the OS error alone is clearer.
            _ => MediaError::io(dir, error.raw_os_error().map_or(error, std::io::Error::from_raw_os_error)),
        }
    }
}
