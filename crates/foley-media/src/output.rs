//! Outputs appear whole or not at all: write to a temporary file beside the destination,
//! then rename it into place. An input is never overwritten. Concurrent runs writing the same
//! destination each rename a complete file onto it, so the last to finish wins, whole.

use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::MediaError;
use crate::cleanup::{TEMP_MARKER, TempGuard, remove_stale_temporaries};

/// A temporary file in the destination's directory, with the destination's extension (so
/// ffmpeg picks the same format), renamed onto the destination by [`AtomicOutput::commit`]
/// and deleted if dropped uncommitted.
pub struct AtomicOutput {
    temp: NamedTempFile,
    dest: PathBuf,
    _registered: TempGuard,
}

impl AtomicOutput {
    /// Prepares a temporary file for `dest` (`.STEM.foley-PID.XXXXXX.EXT`, registered for
    /// signal cleanup), creating missing parent directories; fails if `dest` is a directory or
    /// its directory cannot be written. Creating it early checks that the output can be
    /// written before any work is done. Stale temporaries of dead foley runs there are removed.
    pub fn new(dest: &Path) -> Result<Self, MediaError> {
        if dest.is_dir() {
            return Err(MediaError::IsDirectory { path: dest.into() });
        }
        let parent = parent_dir(dest);
        std::fs::create_dir_all(&parent).map_err(|e| MediaError::create_in(&parent, e))?;
        remove_stale_temporaries(&parent);
        let name = dest.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let suffix = dest.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}{TEMP_MARKER}{}.", std::process::id()))
            .suffix(&suffix)
            .permissions(public_permissions())
            .tempfile_in(&parent)
            .map_err(|e| MediaError::create_in(&parent, e))?;
        let registered = TempGuard::new(temp.path());
        Ok(Self { temp, dest: dest.into(), _registered: registered })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Moves the finished file onto the destination.
    pub fn commit(self) -> Result<(), MediaError> {
        let dest = self.dest;
        self.temp.persist(&dest).map_err(|e| MediaError::io(&dest, e.error))?;
        Ok(())
    }
}

/// A temporary directory beside a destination (`.NAME.foley-PID.XXXXXX`), registered for
/// signal cleanup and deleted when dropped: outputs made of several files are assembled in it
/// and moved into place only when complete (renaming it, or the files in it).
pub struct StagingDir {
    dir: tempfile::TempDir,
    _registered: TempGuard,
}

impl StagingDir {
    /// A staging directory for `dest`, in `dest`'s parent (created if missing).
    pub fn for_dest(dest: &Path) -> Result<Self, MediaError> {
        let dest = canonical_target(dest).unwrap_or_else(|| dest.to_path_buf());
        let parent = parent_dir(&dest);
        std::fs::create_dir_all(&parent).map_err(|e| MediaError::create_in(&parent, e))?;
        remove_stale_temporaries(&parent);
        let name = dest.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let dir = tempfile::Builder::new()
            .prefix(&format!(".{name}{TEMP_MARKER}{}.", std::process::id()))
            .tempdir_in(&parent)
            .map_err(|e| MediaError::create_in(&parent, e))?;
        let registered = TempGuard::new(dir.path());
        Ok(Self { dir, _registered: registered })
    }

    /// The directory to write into.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Temporary files are private (0600) by default; outputs get the usual 0644 (umask applies).
fn public_permissions() -> std::fs::Permissions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::Permissions::from_mode(0o644)
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(".").map(|m| m.permissions()).expect("current directory is readable")
    }
}

/// Fails if `output` names the same file as any of `inputs`.
pub fn ensure_not_input(output: &Path, inputs: &[&Path]) -> Result<(), MediaError> {
    let Some(out) = canonical_target(output) else { return Ok(()) };
    for input in inputs {
        if std::fs::canonicalize(input).is_ok_and(|i| i == out) {
            return Err(MediaError::OverwriteInput { path: output.into() });
        }
    }
    Ok(())
}

/// The canonical path `p` would have, whether or not it exists yet.
pub(crate) fn canonical_target(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Some(c);
    }
    Some(std::fs::canonicalize(parent_dir(p)).ok()?.join(p.file_name()?))
}

/// The directory `p` is (to be) written in: its parent, or `.` for a bare file name.
pub fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
