//! The vocoder corpus: every recorded sound effect, ambience and voice of fourteen Debian game-data
//! packages, at 16 kHz mono, at its original level, split into training and validation by file.
//!
//! Built by [`build`] (`foley sim corpus`) into [`default_dir`]; never installed, never committed.
//! Layout: `corpus.json` (every file's package, path, licence and split), `ATTRIBUTION.md`, and
//! `16000/<package>/<id>.wav` (mono f32).
//!
//! What is taken, and under which licence (each file's licence is read from its package's DEP-5
//! `debian/copyright`; the `Files: *` stanza covers what no narrower stanza names):
//! - `0ad-data`: `audio/` of `mods/public/public.zip` (actors, ambience, attacks, interface,
//!   resources, voices), CC-BY-SA-3.0.
//! - `megaglest-data`: unit, building and common sounds of `techs/megapack`, CC-BY-SA-3.0.
//! - `hedgewars-data`: `Data/Sounds` (effects and the voice packs), per-stanza licences.
//! - `redeclipse-data`: `data/sounds` (effects, ambience, voices), per-stanza licences.
//! - `supertux-data`, `supertuxkart-data`: `sounds/`, `sfx/` and track sounds, per-stanza licences.
//! - `torcs-data`, `widelands-data`, `extremetuxracer-data`: their sound folders, GPL-2+ (torcs,
//!   widelands) and per-stanza licences.
//! - `warzone2100-data`: the sound effects and voices of `sequences`/`base` `.wz` archives are
//!   zip files read like 0 A.D.'s.
//! - `openarena-data`: `sound/` of its `.pk3` (zip) archives, GPL-2+.
//! - `minetest-data`, `endless-sky-data`, `naev-data`: their `sounds` folders, per-stanza
//!   licences.
//!
//! Everything under a `music` folder is left out (composed, often synthesized, and long).
//! `wesnoth-1.16-data` and `openclonk-data` have no machine-readable copyright (licences cannot
//! be assigned per file), `freedoom` and `neverball-data` keep their sounds in containers ffmpeg
//! cannot open: none of them is used.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::bank::build::{download, dpkg_field};
use crate::bank::copyright::{self, Stanza};
use crate::bank::{PackageInfo, read_wav};

/// Bumped whenever the corpus's contents or layout change; an older corpus is rebuilt.
pub const CORPUS_VERSION: u32 = 1;
/// Environment variable that overrides the corpus location.
pub const CORPUS_ENV: &str = "FOLEY_VOCODER_CORPUS";
/// The corpus's one sample rate (MMAudio's 16 kHz mel).
pub const SAMPLE_RATE: u32 = 16_000;
/// Files shorter than this are dropped: too short for a one-second training cut to find them.
const MIN_SECONDS: f64 = 0.25;
/// Longer files keep only their first minute, so a few long ambiences do not make up the hours.
const MAX_SECONDS: f64 = 60.0;
/// A file whose peak is below this is silence.
const MIN_PEAK: f32 = 1e-4;
/// One file in this many (by id hash) is held out for validation.
const VALIDATION_EVERY: u64 = 20;
/// Audio file extensions taken from the packages.
const AUDIO_EXTENSIONS: [&str; 5] = ["ogg", "wav", "flac", "mp3", "opus"];
/// The build fails when more of the candidates than this fraction cannot be decoded.
const MAX_FAILED_FRACTION: f64 = 0.05;

/// A package the corpus reads, and the zip archives inside it whose audio members it also reads.
struct Source {
    package: &'static str,
    /// Suffixes of paths (inside the package) of zip archives to open.
    archives: &'static [&'static str],
}

const SOURCES: &[Source] = &[
    Source { package: "0ad-data", archives: &["mods/public/public.zip"] },
    Source { package: "megaglest-data", archives: &[] },
    Source { package: "hedgewars-data", archives: &[] },
    Source { package: "redeclipse-data", archives: &[] },
    Source { package: "supertux-data", archives: &[] },
    Source { package: "supertuxkart-data", archives: &[] },
    Source { package: "torcs-data", archives: &[] },
    Source { package: "widelands-data", archives: &[] },
    Source { package: "extremetuxracer-data", archives: &[] },
    Source { package: "warzone2100-data", archives: &[".wz"] },
    Source { package: "openarena-data", archives: &[".pk3"] },
    Source { package: "minetest-data", archives: &[] },
    Source { package: "endless-sky-data", archives: &[] },
    Source { package: "naev-data", archives: &[] },
];

/// `$FOLEY_VOCODER_CORPUS`, else `${XDG_CACHE_HOME:-$HOME/.cache}/foley/vocoder-corpus`.
pub fn default_dir() -> PathBuf {
    if let Some(p) = std::env::var_os(CORPUS_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
    cache.join("foley").join("vocoder-corpus")
}

/// Which part of the corpus a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
}

impl Split {
    /// The split of the file `id`: validation when FNV-1a-64 of its bytes is 0 modulo 20, so the
    /// split of a file never depends on which other files exist.
    pub fn of(id: &str) -> Split {
        if fnv1a(id.as_bytes()) % VALIDATION_EVERY == 0 { Split::Validation } else { Split::Train }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// One file of the corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileInfo {
    /// Unique id, also the file stem (`megaglest-data.techs_megapack_commondata_sounds_arrow1`).
    pub id: String,
    pub package: String,
    /// Path inside the package; `archive!member` for files inside a zip archive.
    pub source: String,
    pub license: String,
    pub copyright: String,
    /// Seconds kept.
    pub duration: f64,
    pub split: Split,
}

impl FileInfo {
    /// Path of the file relative to the corpus directory.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(SAMPLE_RATE.to_string()).join(&self.package).join(format!("{}.wav", self.id))
    }
}

/// `corpus.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Corpus {
    pub version: u32,
    pub packages: Vec<PackageInfo>,
    pub files: Vec<FileInfo>,
}

impl Corpus {
    /// Reads `dir/corpus.json`, checking its version.
    pub fn read(dir: &Path) -> Result<Corpus> {
        let path = dir.join("corpus.json");
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}: no vocoder corpus here; build it with `foley sim corpus`", path.display()))?;
        let corpus: Corpus = serde_json::from_str(&text).with_context(|| format!("{}: not a valid corpus manifest", path.display()))?;
        ensure!(
            corpus.version == CORPUS_VERSION,
            "{}: corpus version {} but this build needs {CORPUS_VERSION}; rerun `foley sim corpus`",
            dir.display(),
            corpus.version
        );
        Ok(corpus)
    }

    /// The files of `split`.
    pub fn files(&self, split: Split) -> impl Iterator<Item = &FileInfo> {
        self.files.iter().filter(move |f| f.split == split)
    }

    /// Seconds of audio in `split`.
    pub fn total_seconds(&self, split: Split) -> f64 {
        self.files(split).map(|f| f.duration).sum()
    }
}

/// The samples of `file` (mono, [`SAMPLE_RATE`]).
pub fn read_audio(dir: &Path, file: &FileInfo) -> Result<Vec<f32>> {
    read_wav(&dir.join(file.path()), SAMPLE_RATE)
}

/// What [`build`] did.
#[derive(Debug, Clone)]
pub struct CorpusReport {
    /// False when a complete corpus of the current version was already there.
    pub built: bool,
    pub dir: PathBuf,
    pub packages: Vec<PackageInfo>,
    pub files_train: usize,
    pub files_validation: usize,
    pub seconds_train: f64,
    pub seconds_validation: f64,
}

impl CorpusReport {
    fn new(dir: &Path, c: Corpus, built: bool) -> Self {
        let count = |s| c.files(s).count();
        Self {
            built,
            dir: dir.to_path_buf(),
            files_train: count(Split::Train),
            files_validation: count(Split::Validation),
            seconds_train: c.total_seconds(Split::Train),
            seconds_validation: c.total_seconds(Split::Validation),
            packages: c.packages,
        }
    }
}

/// A file waiting for conversion.
struct Candidate {
    info: FileInfo,
    path: PathBuf,
}

/// Builds the corpus into `dir` unless a complete one of the current version is there (then it
/// returns at once). The new corpus is assembled beside `dir` and moved into place whole.
/// `progress(done, total)` reports conversion progress.
pub fn build(dir: &Path, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<CorpusReport> {
    if let Ok(c) = Corpus::read(dir)
        && c.files.iter().all(|f| dir.join(f.path()).is_file())
    {
        return Ok(CorpusReport::new(dir, c, false));
    }
    let parent = dir.parent().context("corpus directory has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create", parent.display()))?;
    let work = tempfile::Builder::new().prefix(".vocoder-corpus-build-").tempdir_in(parent)?;
    let out = work.path().join("corpus");

    let mut packages = Vec::new();
    let mut candidates = Vec::new();
    for source in SOURCES {
        let name = source.package;
        tracing::info!(package = name, "downloading and extracting");
        let deb = download(name, &work.path().join("debs"))?;
        let version = dpkg_field(&deb, "Version")?;
        let root = work.path().join("extract").join(name);
        extract_audio(&deb, &root, source.archives)?;
        std::fs::remove_file(&deb)?;
        let copyright_path = root.join("usr/share/doc").join(name).join("copyright");
        let text = std::fs::read_to_string(&copyright_path).with_context(|| format!("{}: missing debian/copyright", copyright_path.display()))?;
        let before = candidates.len();
        collect(source, &root, &copyright::parse(&text), &mut candidates)?;
        tracing::info!(package = name, files = candidates.len() - before, "collected");
        packages.push(PackageInfo { name: name.to_string(), version });
    }
    // The same sound in two formats (supertux's `grow.wav` and `grow.ogg`) maps to one id: the
    // first source path in sorted order is kept.
    candidates.sort_by(|a, b| (&a.info.id, &a.info.source).cmp(&(&b.info.id, &b.info.source)));
    candidates.dedup_by(|later, first| {
        let same = later.info.id == first.info.id;
        if same {
            tracing::info!(kept = %first.info.source, dropped = %later.info.source, "one sound in two formats");
        }
        same
    });

    let files = convert_all(&candidates, &out, progress)?;
    let corpus = Corpus { version: CORPUS_VERSION, packages, files };
    std::fs::write(out.join("corpus.json"), serde_json::to_string_pretty(&corpus)?)?;
    std::fs::write(out.join("ATTRIBUTION.md"), attribution(&corpus))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("{}: cannot replace the old corpus", dir.display()))?;
    }
    std::fs::rename(&out, dir).with_context(|| format!("{}: cannot move the new corpus into place", dir.display()))?;
    Ok(CorpusReport::new(dir, corpus, true))
}

/// Extracts the audio files, the zip archives named by `archives` and the copyright file of a
/// `.deb` (streaming its data through tar: 0 A.D.'s 1.4 GB package is never unpacked whole).
fn extract_audio(deb: &Path, root: &Path, archives: &[&str]) -> Result<()> {
    std::fs::create_dir_all(root)?;
    let mut patterns: Vec<String> = AUDIO_EXTENSIONS.iter().flat_map(|e| [format!("*.{e}"), format!("*.{}", e.to_uppercase())]).collect();
    patterns.extend(archives.iter().map(|a| format!("*{a}")));
    patterns.push("*/copyright".into());
    let mut dpkg = Command::new("dpkg-deb").arg("--fsys-tarfile").arg(deb).stdout(Stdio::piped()).spawn().context("cannot run dpkg-deb (is it installed?)")?;
    let tar = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(root)
        .arg("--wildcards")
        .args(&patterns)
        .stdin(dpkg.stdout.take().expect("piped"))
        .stderr(Stdio::piped())
        .output()
        .context("cannot run tar (is it installed?)")?;
    let status = dpkg.wait()?;
    ensure!(status.success(), "dpkg-deb --fsys-tarfile {} failed", deb.display());
    // tar exits 2 when a pattern matched nothing (a package without .flac files): only other
    // messages are errors.
    let stderr = String::from_utf8_lossy(&tar.stderr);
    let real: Vec<&str> = stderr.lines().filter(|l| !l.contains("Not found in archive") && !l.contains("Exiting with failure status")).collect();
    if !tar.status.success() && !real.is_empty() {
        bail!("extracting {}: {}", deb.display(), real.join("; "));
    }
    Ok(())
}

/// True for a path (inside a package or an archive) the corpus takes: an audio file outside
/// every `music` folder.
pub(crate) fn is_recording(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let audio = lower.rsplit_once('.').is_some_and(|(_, ext)| AUDIO_EXTENSIONS.contains(&ext));
    audio && !lower.split('/').any(|part| part == "music" || part == "musics")
}

/// `<package>.<path without its extension, / and spaces as _>`.
pub(crate) fn file_id(package: &str, path: &str) -> String {
    let stem = path.rsplit_once('.').map_or(path, |s| s.0);
    let stem = stem.trim_start_matches("./").trim_start_matches("usr/share/games/").trim_start_matches("usr/share/");
    format!("{package}.{}", stem.replace(['/', ' ', '!'], "_"))
}

fn collect(source: &Source, root: &Path, stanzas: &[Stanza], out: &mut Vec<Candidate>) -> Result<()> {
    let package = source.package;
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            if p.is_symlink() {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(root).expect("walked under root").to_string_lossy().replace('\\', "/");
            let is_archive = source.archives.iter().any(|a| rel.ends_with(a));
            if !is_archive && !is_recording(&rel) {
                continue;
            }
            let Some(lic) = copyright::licence_of(stanzas, &rel) else {
                tracing::warn!(package, file = %rel, "no licence covers this file; skipped");
                continue;
            };
            if is_archive {
                extract_archive(package, &p, &rel, &lic, out)?;
            } else {
                out.push(candidate(package, &rel, rel.clone(), &lic, p));
            }
        }
    }
    Ok(())
}

fn candidate(package: &str, id_path: &str, source: String, lic: &copyright::Licence, path: PathBuf) -> Candidate {
    let id = file_id(package, id_path);
    let split = Split::of(&id);
    Candidate {
        info: FileInfo { id, package: package.into(), source, license: lic.license.clone(), copyright: lic.copyright.clone(), duration: 0.0, split },
        path,
    }
}

/// Extracts the audio members of a zip archive next to it (they carry the archive's licence).
fn extract_archive(package: &str, archive: &Path, rel: &str, lic: &copyright::Licence, out: &mut Vec<Candidate>) -> Result<()> {
    let file = std::fs::File::open(archive)?;
    let mut zip = zip::ZipArchive::new(file).with_context(|| format!("{}: not a zip archive", archive.display()))?;
    let dir = archive.with_extension("d");
    std::fs::create_dir_all(&dir)?;
    for i in 0..zip.len() {
        let mut member = zip.by_index(i)?;
        let name = member.name()?.to_string();
        if !member.is_file() || !is_recording(&name) {
            continue;
        }
        let dest = dir.join(name.replace('/', "_"));
        let mut bytes = Vec::new();
        member.read_to_end(&mut bytes).with_context(|| format!("{}!{name}: cannot extract", archive.display()))?;
        std::fs::write(&dest, bytes)?;
        let archive_stem = Path::new(rel).file_stem().and_then(|s| s.to_str()).unwrap_or("archive");
        out.push(candidate(package, &format!("{archive_stem}/{name}"), format!("{rel}!{name}"), lic, dest));
    }
    Ok(())
}

/// Converts every candidate in parallel, then drops exact duplicates (the first id in sorted
/// order is kept). Fails when more than [`MAX_FAILED_FRACTION`] of the files cannot be decoded.
fn convert_all(cands: &[Candidate], out: &Path, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Vec<FileInfo>> {
    let next = AtomicUsize::new(0);
    let (done, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let results: Mutex<Vec<(FileInfo, u64)>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some(c) = cands.get(next.fetch_add(1, Ordering::Relaxed)) {
                    match convert(c, out) {
                        Ok(Some((info, hash))) => results.lock().expect("no panics while holding the lock").push((info, hash)),
                        Ok(None) => {}
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(source = %c.info.source, "skipped: {e:#}");
                        }
                    }
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, cands.len());
                }
            });
        }
    });
    let failed = failed.into_inner();
    ensure!(failed as f64 <= MAX_FAILED_FRACTION * cands.len() as f64, "{failed} of {} files could not be decoded (see the warnings)", cands.len());
    let mut results = results.into_inner().expect("threads joined");
    results.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    let mut seen = std::collections::HashSet::new();
    let mut files = Vec::new();
    for (info, hash) in results {
        if seen.insert(hash) {
            files.push(info);
        } else {
            std::fs::remove_file(out.join(info.path()))?;
        }
    }
    Ok(files)
}

/// Decodes to 16 kHz mono, keeps at most [`MAX_SECONDS`], writes the WAV; `None` for silence or
/// a file too short. Returns the hash of the samples, for deduplication.
fn convert(c: &Candidate, out: &Path) -> Result<Option<(FileInfo, u64)>> {
    let mut x = foley_media::decode_audio(&c.path, SAMPLE_RATE)?;
    x.truncate((MAX_SECONDS * SAMPLE_RATE as f64) as usize);
    let peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if peak < MIN_PEAK || (x.len() as f64) < MIN_SECONDS * SAMPLE_RATE as f64 {
        return Ok(None);
    }
    let mut info = c.info.clone();
    info.duration = x.len() as f64 / SAMPLE_RATE as f64;
    let path = out.join(info.path());
    std::fs::create_dir_all(path.parent().expect("file has a parent"))?;
    foley_media::write_wav(&path, &x, SAMPLE_RATE)?;
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    Ok(Some((info, fnv1a(&bytes))))
}

fn attribution(c: &Corpus) -> String {
    let mut s = String::from(
        "# foley vocoder corpus: attribution\n\nEvery file below comes from a Debian package; licences and \
copyright holders are read from that package's `debian/copyright`.\n\n",
    );
    for p in &c.packages {
        s.push_str(&format!("- `{}` {}\n", p.name, p.version));
    }
    s.push_str("\n| id | package | source | licence | copyright |\n| --- | --- | --- | --- | --- |\n");
    for f in &c.files {
        s.push_str(&format!("| {} | {} | `{}` | {} | {} |\n", f.id, f.package, f.source, f.license, f.copyright.replace('|', "/")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_a_fixed_function_of_the_id() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let ids: Vec<String> = (0..2000).map(|i| format!("pkg.sound_{i}")).collect();
        let validation = ids.iter().filter(|id| Split::of(id) == Split::Validation).count();
        assert!((70..130).contains(&validation), "about one in 20 is held out, got {validation} of 2000");
        assert_eq!(Split::of("pkg.sound_7"), Split::of("pkg.sound_7"));
    }

    #[test]
    fn music_is_left_out_and_ids_are_flat() {
        assert!(is_recording("usr/share/games/torcs/data/sound/engine-1.wav"));
        assert!(is_recording("audio/voice/hellenes/civ/civ_male_attack.ogg"));
        assert!(!is_recording("usr/share/games/supertux2/music/forest/forest.ogg"));
        assert!(!is_recording("audio/music/peace/Tale of Warriors.ogg"));
        assert!(!is_recording("usr/share/games/torcs/data/sound/readme.txt"));
        assert_eq!(file_id("torcs-data", "usr/share/games/torcs/data/sound/engine 1.wav"), "torcs-data.torcs_data_sound_engine_1");
        assert_eq!(file_id("0ad-data", "public/audio/ambient/dawn.ogg"), "0ad-data.public_audio_ambient_dawn");
    }
}
