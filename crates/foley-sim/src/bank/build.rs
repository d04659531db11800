//! Building the bank: `apt-get download` each package, extract it with `dpkg-deb -x` (nothing
//! is installed), open OpenArena's `.pk3` zip archives, label, convert, trim and normalize.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};

use super::copyright::{self, Stanza};
use super::{BANK_VERSION, Manifest, PACKAGES, PackageInfo, RecordingInfo, SAMPLE_RATES, labels};
use crate::classes::SoundClass;

/// Onset threshold for trimming, relative to the recording's peak.
const ONSET_DB: f32 = -30.0;
/// End threshold for trimming, relative to the peak.
const TAIL_DB: f32 = -55.0;
/// Kept before the detected onset so the attack is intact.
const PRE_ROLL: f64 = 0.001;
/// Recordings shorter than this after trimming are dropped.
const MIN_DURATION: f64 = 0.03;

/// What [`build`] did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// False when a complete bank of the current version was already there.
    pub built: bool,
    pub dir: PathBuf,
    pub packages: Vec<PackageInfo>,
    /// Number of recordings per class, in [`SoundClass::ALL`] order.
    pub per_class: Vec<(SoundClass, usize)>,
}

/// A labelled file waiting for conversion.
struct Candidate {
    info: RecordingInfo,
    /// Extracted file on disk.
    path: PathBuf,
}

/// Builds the bank into `dir` unless a complete one of the current version is there already
/// (then it returns at once). `progress(done, total)` reports conversion progress.
pub fn build(dir: &Path, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<BuildReport> {
    if let Ok(m) = Manifest::read(dir)
        && is_complete(dir, &m)
    {
        return Ok(report(dir, m, false));
    }
    let parent = dir.parent().context("bank directory has no parent")?;
    std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create", parent.display()))?;
    let work = tempfile::Builder::new().prefix(".sound-bank-build-").tempdir_in(parent)?;
    let out = work.path().join("bank");

    let mut packages = Vec::new();
    let mut candidates = Vec::new();
    for name in PACKAGES {
        let deb = download(name, &work.path().join("debs"))?;
        let version = dpkg_field(&deb, "Version")?;
        let root = work.path().join("extract").join(name);
        std::fs::create_dir_all(&root)?;
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root), "dpkg-deb -x")?;
        let copyright_path = root.join("usr/share/doc").join(name).join("copyright");
        let text = std::fs::read_to_string(&copyright_path).with_context(|| format!("{}: missing debian/copyright", copyright_path.display()))?;
        collect(name, &root, &copyright::parse(&text), &mut candidates)?;
        packages.push(PackageInfo { name: name.to_string(), version });
    }
    candidates.sort_by(|a, b| a.info.id.cmp(&b.info.id));
    tracing::info!(files = candidates.len(), "converting labelled recordings");

    let recordings = convert_all(&candidates, &out, progress)?;
    let manifest = Manifest { version: BANK_VERSION, packages, recordings };
    std::fs::write(out.join("bank.json"), serde_json::to_string_pretty(&manifest)?)?;
    std::fs::write(out.join("ATTRIBUTION.md"), attribution(&manifest))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("{}: cannot replace the old bank", dir.display()))?;
    }
    std::fs::rename(&out, dir).with_context(|| format!("{}: cannot move the new bank into place", dir.display()))?;
    Ok(report(dir, manifest, true))
}

fn report(dir: &Path, m: Manifest, built: bool) -> BuildReport {
    let per_class = SoundClass::ALL.iter().map(|&c| (c, m.recordings.iter().filter(|r| r.class == c).count())).collect();
    BuildReport { built, dir: dir.to_path_buf(), packages: m.packages, per_class }
}

fn is_complete(dir: &Path, m: &Manifest) -> bool {
    m.version == BANK_VERSION && !m.recordings.is_empty() && m.recordings.iter().all(|r| SAMPLE_RATES.iter().all(|&sr| dir.join(r.file(sr)).is_file()))
}

pub(crate) fn run(cmd: &mut Command, what: &str) -> Result<Vec<u8>> {
    let out = cmd.output().with_context(|| format!("cannot run {what} (is it installed?)"))?;
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(out.stdout)
}

/// `apt-get download` into `dir` (refreshing the package lists once if the package is unknown).
pub(crate) fn download(name: &str, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let fetch = || run(Command::new("apt-get").args(["download", "-q", name]).current_dir(dir), &format!("apt-get download {name}"));
    if fetch().is_err() {
        tracing::warn!(package = name, "apt-get download failed; running apt-get update once");
        run(Command::new("apt-get").args(["update", "-q"]), "apt-get update")?;
        fetch()?;
    }
    let prefix = format!("{name}_");
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        let file = p.file_name().and_then(|f| f.to_str()).unwrap_or("");
        if file.starts_with(&prefix) && file.ends_with(".deb") {
            return Ok(p);
        }
    }
    bail!("apt-get download {name} left no .deb in {}", dir.display())
}

pub(crate) fn dpkg_field(deb: &Path, field: &str) -> Result<String> {
    let out = run(Command::new("dpkg-deb").arg("-f").arg(deb).arg(field), "dpkg-deb -f")?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// Labels the package's loose sound files and the members of its `.pk3` archives.
fn collect(package: &str, root: &Path, stanzas: &[Stanza], out: &mut Vec<Candidate>) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
        entries.sort();
        for p in entries {
            if p.is_symlink() {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(root).expect("walked under root").to_string_lossy().replace('\\', "/");
            let file = p.file_name().and_then(|f| f.to_str()).unwrap_or("").to_string();
            let licence = copyright::licence_of(stanzas, &rel);
            if file.ends_with(".pk3") {
                let lic = licence.with_context(|| format!("{package}: no licence covers {rel}"))?;
                extract_pk3(package, &p, &rel, &lic, out)?;
            } else if let Some(class) = labels::label(package, &file) {
                let lic = licence.with_context(|| format!("{package}: no licence covers {rel}"))?;
                let stem = file.rsplit_once('.').map_or(file.as_str(), |s| s.0);
                let info = new_info(package, stem, class, rel.clone(), &lic);
                out.push(Candidate { info, path: p });
            }
        }
    }
    Ok(())
}

fn new_info(package: &str, stem: &str, class: SoundClass, source: String, lic: &copyright::Licence) -> RecordingInfo {
    let id = format!("{package}.{}", stem.replace(['/', ' '], "_"));
    RecordingInfo {
        id,
        class,
        package: package.into(),
        source,
        license: lic.license.clone(),
        copyright: lic.copyright.clone(),
        trimmed_start: 0.0,
        duration: 0.0,
    }
}

/// Extracts the labelled members of a pk3 (a zip archive) next to it.
fn extract_pk3(package: &str, pk3: &Path, rel: &str, lic: &copyright::Licence, out: &mut Vec<Candidate>) -> Result<()> {
    let file = std::fs::File::open(pk3)?;
    let mut zip = zip::ZipArchive::new(file).with_context(|| format!("{}: not a zip archive", pk3.display()))?;
    let dir = pk3.with_extension("pk3.d");
    for i in 0..zip.len() {
        let mut member = zip.by_index(i)?;
        let name = member.name()?.to_string();
        let Some(class) = labels::label(package, &name) else {
            continue;
        };
        let archive = pk3.file_stem().and_then(|s| s.to_str()).unwrap_or("pk3");
        let stem = name.trim_start_matches("sound/").rsplit_once('.').map_or(name.as_str(), |s| s.0).to_string();
        let dest = dir.join(name.replace('/', "_"));
        std::fs::create_dir_all(&dir)?;
        let mut f = std::fs::File::create(&dest)?;
        std::io::copy(&mut member, &mut f).with_context(|| format!("{}!{name}: cannot extract", pk3.display()))?;
        let info = new_info(package, &format!("{archive}.{stem}"), class, format!("{rel}!{name}"), lic);
        out.push(Candidate { info, path: dest });
    }
    Ok(())
}

/// Converts every candidate at every rate, in parallel; drops files that decode to near silence.
fn convert_all(cands: &[Candidate], out: &Path, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Vec<RecordingInfo>> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Option<RecordingInfo>)>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(8);
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(c) = cands.get(i) else { return Ok(()) };
                        let r = convert(c, out)?;
                        results.lock().expect("no panics while holding the lock").push((i, r));
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, cands.len());
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("conversion thread panicked")?;
        }
        Ok(())
    })?;
    let mut results = results.into_inner().expect("threads joined");
    results.sort_by_key(|r| r.0);
    Ok(results.into_iter().filter_map(|r| r.1).collect())
}

/// Decodes at both rates, trims to the onset (found at 44.1 kHz) and the tail, peak-normalizes.
fn convert(c: &Candidate, out: &Path) -> Result<Option<RecordingInfo>> {
    let hi_rate = SAMPLE_RATES[1] as f64;
    let hi = foley_media::decode_audio(&c.path, SAMPLE_RATES[1]).with_context(|| format!("{}: cannot decode", c.info.source))?;
    let Some((start, end)) = trim_bounds(&hi) else {
        tracing::warn!(source = %c.info.source, "silent recording skipped");
        return Ok(None);
    };
    let (t0, t1) = ((start as f64 / hi_rate - PRE_ROLL).max(0.0), end as f64 / hi_rate);
    if t1 - t0 < MIN_DURATION {
        return Ok(None);
    }
    let mut info = c.info.clone();
    info.trimmed_start = (t0 * 1e6).round() / 1e6;
    info.duration = ((t1 - t0) * 1e6).round() / 1e6;
    for &rate in &SAMPLE_RATES {
        let x = if rate == SAMPLE_RATES[1] { hi.clone() } else { foley_media::decode_audio(&c.path, rate)? };
        let (a, b) = ((t0 * rate as f64).round() as usize, ((t1 * rate as f64).round() as usize).min(x.len()));
        let y = finish(&x[a.min(b)..b], rate);
        let path = out.join(info.file(rate));
        std::fs::create_dir_all(path.parent().expect("file has a parent"))?;
        foley_media::write_wav(&path, &y, rate)?;
    }
    Ok(Some(info))
}

/// First sample above [`ONSET_DB`] and last above [`TAIL_DB`] (relative to the peak), or
/// `None` for a silent signal.
pub(crate) fn trim_bounds(x: &[f32]) -> Option<(usize, usize)> {
    let peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    if peak < 1e-4 {
        return None;
    }
    let on = peak * 10f32.powf(ONSET_DB / 20.0);
    let tail = peak * 10f32.powf(TAIL_DB / 20.0);
    let start = x.iter().position(|v| v.abs() >= on)?;
    let end = x.iter().rposition(|v| v.abs() >= tail)? + 1;
    Some((start, end))
}

/// Peak-normalizes and fades the last 5 ms out so a cut tail never clicks.
fn finish(x: &[f32], rate: u32) -> Vec<f32> {
    let peak = x.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-9);
    let fade = ((rate as usize) / 200).min(x.len());
    let n = x.len();
    x.iter()
        .enumerate()
        .map(|(i, v)| {
            let k = if i + fade >= n { (n - i) as f32 / fade as f32 } else { 1.0 };
            v / peak * k
        })
        .collect()
}

/// The human-readable attribution list.
fn attribution(m: &Manifest) -> String {
    let mut s = String::from(
        "# foley-sim sound bank: attribution\n\nEvery recording below comes from a Debian package; \
licences and copyright holders are read from that package's `debian/copyright`.\n\n",
    );
    for p in &m.packages {
        s.push_str(&format!("- `{}` {}\n", p.name, p.version));
    }
    s.push_str("\n| id | class | source | licence | copyright |\n| --- | --- | --- | --- | --- |\n");
    for r in &m.recordings {
        s.push_str(&format!("| {} | {} | `{}` | {} | {} |\n", r.id, r.class.name(), r.source, r.license, r.copyright.replace('|', "/")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_finds_onset_and_tail() {
        let mut x = vec![0.0f32; 1000];
        x[300] = 0.01; // below -30 dB of the peak: not the onset
        x[400] = -0.5;
        x[401] = 1.0;
        x[700] = 0.002; // above -55 dB: still part of the tail
        assert_eq!(trim_bounds(&x), Some((400, 701)));
        assert_eq!(trim_bounds(&[0.0; 10]), None);
        let mut x = vec![0.25f32; 400];
        x[10] = -0.5;
        let y = finish(&x, 16_000);
        assert_eq!((y[10], y[11]), (-1.0, 0.5));
        assert!((y[399] - 0.5 / 80.0).abs() < 1e-6, "the last 5 ms fade out");
    }
}
