//! The videos of a folder.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The file name endings (compared without case) taken as videos. GIF, WMV and Ogg video are
/// left out: their codecs cannot be copied into the mp4 a batch writes, so they would always
/// fail (a manifest can still name them, and gets that error).
pub const VIDEO_EXTENSIONS: &[&str] = &["mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "mts", "m2ts", "3gp", "flv"];

/// The videos directly in `dir` (not in its subfolders), sorted by name; hidden files (foley's
/// own temporaries among them) and foley's outputs (`*.foley.mp4`) are left out.
pub(super) fn videos(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut videos = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("{}: cannot list the folder", dir.display()))? {
        let entry = entry.with_context(|| format!("{}: cannot list the folder", dir.display()))?;
        let path = entry.path();
        // A broken link or an unreadable file is kept: it fails as an item, with its reason.
        if !is_video_name(&entry.file_name().to_string_lossy()) || path.is_dir() {
            continue;
        }
        videos.push(path);
    }
    videos.sort();
    Ok(videos)
}

fn is_video_name(name: &str) -> bool {
    let name = name.to_lowercase();
    !name.starts_with('.') && !name.ends_with(".foley.mp4") && name.rsplit_once('.').is_some_and(|(_, ext)| VIDEO_EXTENSIONS.contains(&ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn videos_are_known_endings_but_not_hidden_files_or_outputs() {
        for name in ["a.mp4", "B.MOV", "c.webm", "d.ts", "e.m2ts", "f.foley.mov"] {
            assert!(is_video_name(name), "{name}");
        }
        for name in ["mp4", "a.gif", "a.wav", "a.csv", "a.mp4.txt", "a.foley.mp4", "A.Foley.MP4", ".a.foley-12.x.mp4"] {
            assert!(!is_video_name(name), "{name}");
        }
    }
}
