//! Running ffmpeg/ffprobe: input checks, command construction, failure messages.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use crate::MediaError;
use crate::cleanup::ChildGuard;

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
    let found = *cell.get_or_init(|| on_path(tool));
    if !found {
        return Err(MediaError::MissingTool { tool });
    }
    let mut cmd = Command::new(tool);
    cmd.arg("-hide_banner").stdin(Stdio::null());
    Ok(cmd)
}

/// Whether `tool` is an executable file in one of PATH's folders: looked up, not started (each
/// start of ffmpeg or ffprobe costs ~0.1 s of dynamic linking).
fn on_path(tool: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else { return false };
    std::env::split_paths(&path).any(|dir| std::fs::metadata(dir.join(tool)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// An ffmpeg command with quiet logging and no interaction.
pub(crate) fn ffmpeg() -> Result<Command, MediaError> {
    let mut cmd = tool_command("ffmpeg")?;
    cmd.args(["-nostdin", "-nostats", "-loglevel", "error"]);
    Ok(cmd)
}

/// Rejects paths that cannot be media before ffmpeg sees them, with a precise reason: missing,
/// a directory, a FIFO, a device or socket (ffmpeg would block on or stream them forever), or
/// empty.
pub fn check_input(path: &Path) -> Result<(), MediaError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => MediaError::NotFound { path: path.into() },
        _ => MediaError::io(path, e),
    })?;
    if meta.is_dir() {
        return Err(MediaError::IsDirectory { path: path.into() });
    }
    if !meta.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        let kind = if t.is_fifo() {
            "a named pipe (FIFO)"
        } else if t.is_char_device() {
            "a character device"
        } else if t.is_block_device() {
            "a block device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(MediaError::NotRegular { path: path.into(), kind });
    }
    if meta.len() == 0 {
        return Err(MediaError::Empty { path: path.into() });
    }
    Ok(())
}

/// Starts `cmd` and registers the child, so a termination signal kills it.
pub(crate) fn spawn(cmd: &mut Command, path: &Path) -> Result<(Child, ChildGuard), MediaError> {
    ChildGuard::spawn(cmd).map_err(|e| MediaError::io(path, e))
}

/// The last few meaningful lines of ffmpeg's stderr, for an error message, without the
/// `[demuxer @ 0x55...]` prefixes (they name memory addresses, not anything a user can act on).
pub(crate) fn stderr_summary(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(strip_context).filter(|l| !l.is_empty() && !l.contains("Parsed_showinfo")).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() { "no message".to_string() } else { tail.join("; ") }
}

fn strip_context(line: &str) -> &str {
    let line = line.trim();
    match line.strip_prefix('[').and_then(|rest| rest.split_once("] ")) {
        Some((context, message)) if context.contains(" @ 0x") => message.trim(),
        _ => line,
    }
}

/// Does `path` begin with an MP4/MOV box (`ftyp`, `mdat`, ...)? ffmpeg picks its MP4 reader by
/// the file name, so a text file called `x.mp4` also lacks a `moov` box without being cut off.
fn starts_like_mp4(path: &Path) -> bool {
    let mut head = [0u8; 8];
    let read = std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head));
    read.is_ok() && [b"ftyp", b"mdat", b"moov", b"free", b"wide", b"skip"].iter().any(|kind| &head[4..8] == *kind)
}

/// ffprobe's refusal of `path` as an error: a file cut short is named as such.
pub(crate) fn unreadable(path: &Path, stderr: &str) -> MediaError {
    if stderr.contains("moov atom not found") && starts_like_mp4(path) {
        let detail = "the MP4 index (moov box) is missing: an interrupted download, copy or recording".into();
        return MediaError::Truncated { path: path.into(), detail };
    }
    if stderr.lines().last().is_some_and(|l| l.trim_end().ends_with("End of file")) {
        let detail = "it ends in the middle of its data (an interrupted write or copy)".into();
        return MediaError::Truncated { path: path.into(), detail };
    }
    MediaError::Unreadable { path: path.into(), detail: stderr_summary(stderr) }
}

/// Runs `cmd` to completion; a non-zero exit becomes [`MediaError::Ffmpeg`] about `path`.
pub(crate) fn run(mut cmd: Command, path: &Path) -> Result<Vec<u8>, MediaError> {
    let out = output(&mut cmd, path)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(MediaError::Ffmpeg { path: path.into(), detail: stderr_summary(&stderr) });
    }
    check_truncation(&stderr, path)?;
    Ok(out.stdout)
}

/// Runs `cmd` with stdout and stderr captured (both drained to the end, whatever bytes they
/// carry), registered for signal cleanup.
pub(crate) fn output(cmd: &mut Command, path: &Path) -> Result<Output, MediaError> {
    let (child, _guard) = spawn(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()), path)?;
    child.wait_with_output().map_err(|e| MediaError::io(path, e))
}

/// ffmpeg reads a cut-off file up to the cut and exits successfully; the demuxer's
/// "partial file" message is the only sign that the result is incomplete.
pub(crate) fn check_truncation(stderr: &str, path: &Path) -> Result<(), MediaError> {
    match stderr.lines().find(|l| l.contains("partial file")) {
        Some(line) => Err(MediaError::Truncated { path: path.into(), detail: format!("ffmpeg: {}", line.trim()) }),
        None => Ok(()),
    }
}
