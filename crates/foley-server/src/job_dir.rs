//! One job's directory, `DATA/jobs/<id>/`: fixed file names chosen by the server (a client's
//! file names never reach the file system), and messages that name uploads, not paths.

use std::path::{Path, PathBuf};

/// The uploaded video (no extension: ffprobe reads the content).
pub(crate) const VIDEO: &str = "video";
/// The uploaded soundtrack for `inpaint` / `extend`.
pub(crate) const AUDIO: &str = "audio";
/// The uploaded reference recording.
pub(crate) const REFERENCE_AUDIO: &str = "reference_audio";
/// The outputs.
pub(crate) const MP4: &str = "result.mp4";
pub(crate) const WAV: &str = "result.wav";
pub(crate) const MEL: &str = "mel.png";

/// A job directory being filled by an upload; deleted when dropped unless [`JobDir::keep`]
/// hands it to the queue.
pub(crate) struct JobDir {
    path: PathBuf,
    kept: bool,
}

impl JobDir {
    /// Creates `root/<id>` (the id is fresh: an existing directory is an error).
    pub(crate) fn create(root: &Path, id: &str) -> std::io::Result<Self> {
        let path = root.join(id);
        std::fs::create_dir(&path)?;
        Ok(Self { path, kept: false })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The job was queued: its directory lives on.
    pub(crate) fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for JobDir {
    fn drop(&mut self) {
        if !self.kept {
            remove(&self.path);
        }
    }
}

/// Deletes a job directory; one already gone is fine.
pub(crate) fn remove(dir: &Path) {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => tracing::warn!("could not delete {}: {e}", dir.display()),
        _ => {}
    }
}

/// `message` with the job directory's paths replaced by what they are to the client: "the
/// uploaded video" for `DIR/video`, and so on (the server's layout is none of its business).
pub(crate) fn describe(message: &str, dir: &Path) -> String {
    let mut dirs = vec![dir.to_path_buf()];
    // Some checks name files by their canonical path (e.g. under a symlinked /tmp).
    if let Ok(canonical) = std::fs::canonicalize(dir) {
        if canonical != dir {
            dirs.push(canonical);
        }
    }
    let mut out = message.to_string();
    for dir in &dirs {
        for (file, name) in [(VIDEO, "the uploaded video"), (AUDIO, "the uploaded audio"), (REFERENCE_AUDIO, "the uploaded reference_audio")] {
            out = out.replace(&dir.join(file).display().to_string(), name);
        }
        for (file, name) in [(MP4, "the result mp4"), (WAV, "the result wav"), (MEL, "the spectrogram")] {
            out = out.replace(&dir.join(file).display().to_string(), name);
        }
        out = out.replace(&dir.display().to_string(), "the job's folder");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_uploads_not_paths() {
        let dir = Path::new("/srv/data/jobs/0123abcd");
        let message = "/srv/data/jobs/0123abcd/video: not a media file ffmpeg can read (/srv/data/jobs/0123abcd/video: Invalid data)";
        assert_eq!(describe(message, dir), "the uploaded video: not a media file ffmpeg can read (the uploaded video: Invalid data)");
        assert_eq!(describe("/srv/data/jobs/0123abcd/reference_audio: has no audio stream", dir), "the uploaded reference_audio: has no audio stream");
        assert_eq!(describe("/srv/data/jobs/0123abcd: directory is not writable", dir), "the job's folder: directory is not writable");
    }

    #[test]
    fn an_unkept_directory_is_deleted() {
        let root = tempfile::tempdir().unwrap();
        let dir = JobDir::create(root.path(), "a").unwrap();
        std::fs::write(dir.path().join(VIDEO), b"x").unwrap();
        drop(dir);
        assert!(!root.path().join("a").exists());
        JobDir::create(root.path(), "b").unwrap().keep();
        assert!(root.path().join("b").is_dir());
        assert!(JobDir::create(root.path(), "b").is_err(), "ids are never reused");
    }
}
