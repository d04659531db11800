//! Running ffmpeg/ffprobe: input checks, command construction, failure messages.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::MediaError;

/// Confirms that `ffmpeg` and `ffprobe` can be started.
pub fn check_tools() -> Result<(), MediaError> {
    for tool in ["ffmpeg", "ffprobe"] {
        tool_command(tool)?;
    }
    Ok(())
}

/// A command for `tool`, or [`MediaError::MissingTool`] if it is not installed.
pub(crate) fn tool_command(tool: &'static str) -> Result<Command, MediaError> {
    static FFMPEG: OnceLock<bool> = OnceLock::new();
    static FFPROBE: OnceLock<bool> = OnceLock::new();
    let cell = if tool == "ffmpeg" { &FFMPEG } else { &FFPROBE };
    let found = *cell.get_or_init(|| Command::new(tool).arg("-version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok());
    if !found {
        return Err(MediaError::MissingTool { tool });
    }
    let mut cmd = Command::new(tool);
    cmd.arg("-hide_banner").stdin(Stdio::null());
    Ok(cmd)
}

/// An ffmpeg command with quiet logging and no interaction.
pub(crate) fn ffmpeg() -> Result<Command, MediaError> {
    let mut cmd = tool_command("ffmpeg")?;
    cmd.args(["-nostdin", "-nostats", "-loglevel", "error"]);
    Ok(cmd)
}

/// Rejects paths that cannot be media before ffmpeg sees them, with a precise reason.
pub(crate) fn check_input(path: &Path) -> Result<(), MediaError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => MediaError::NotFound { path: path.into() },
        _ => MediaError::io(path, e),
    })?;
    if meta.is_dir() {
        return Err(MediaError::IsDirectory { path: path.into() });
    }
    if meta.len() == 0 {
        return Err(MediaError::Empty { path: path.into() });
    }
    Ok(())
}

/// The last few meaningful lines of ffmpeg's stderr, for an error message.
pub(crate) fn stderr_summary(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty() && !l.contains("Parsed_showinfo")).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() { "no message".to_string() } else { tail.join("; ") }
}

/// Runs `cmd` to completion; a non-zero exit becomes [`MediaError::Ffmpeg`] about `path`.
pub(crate) fn run(mut cmd: Command, path: &Path) -> Result<Vec<u8>, MediaError> {
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output().map_err(|e| MediaError::io(path, e))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(MediaError::Ffmpeg { path: path.into(), detail: stderr_summary(&stderr) });
    }
    check_truncation(&stderr, path)?;
    Ok(out.stdout)
}

/// ffmpeg reads a cut-off file up to the cut and exits successfully; the demuxer's
/// "partial file" message is the only sign that the result is incomplete.
pub(crate) fn check_truncation(stderr: &str, path: &Path) -> Result<(), MediaError> {
    match stderr.lines().find(|l| l.contains("partial file")) {
        Some(line) => Err(MediaError::Truncated { path: path.into(), detail: format!("ffmpeg: {}", line.trim()) }),
        None => Ok(()),
    }
}
