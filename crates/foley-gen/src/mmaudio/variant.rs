//! MMAudio's released models and the files each one needs, found in a user's weights
//! directory under the names they are released with.
//!
//! foley never downloads or ships these weights: the user obtains them (MMAudio's checkpoints
//! are CC-BY-NC 4.0, DFN5B-CLIP is under Apple's sample-code licence) and points `--weights`
//! at the directory holding them. Files are looked for in that directory, in its `weights/` and
//! `ext_weights/` folders (the layout of MMAudio's own repository), and BigVGAN v2 also in a
//! `bigvgan_v2_44khz_128band_512x/` folder (its Hugging Face repository's name).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Result, bail};
use foley_decoder::bigvgan::BigVganConfig;
use foley_decoder::vae::VaeConfig;
use foley_encoders::clip::ClipConfig;
use foley_encoders::synchformer::SynchformerConfig;
use foley_flow::FlowConfig;
use foley_flow::weights::{KeyReport, StateDict};
use foley_seq::SequenceConfig;

/// One of MMAudio's released models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Small16k,
    Small44k,
    Medium44k,
    Large44k,
    Large44kV2,
}

/// Every released variant, in MMAudio's order.
pub const VARIANTS: [Variant; 5] = [Variant::Small16k, Variant::Small44k, Variant::Medium44k, Variant::Large44k, Variant::Large44kV2];

impl Variant {
    /// MMAudio's name (`small_16k`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Small16k => "small_16k",
            Self::Small44k => "small_44k",
            Self::Medium44k => "medium_44k",
            Self::Large44k => "large_44k",
            Self::Large44kV2 => "large_44k_v2",
        }
    }

    /// Whether it makes 16 kHz audio (BigVGAN 16k) rather than 44.1 kHz (BigVGAN v2).
    pub fn is_16k(self) -> bool {
        self == Self::Small16k
    }

    /// The sequence lengths of a window of `duration` seconds.
    pub fn sequence(self, duration: f64) -> SequenceConfig {
        if self.is_16k() { SequenceConfig::mmaudio_16k(duration) } else { SequenceConfig::mmaudio_44k(duration) }
    }

    /// The flow network's configuration (8 s window).
    pub fn flow(self) -> Result<FlowConfig> {
        Ok(FlowConfig::released(self.name())?)
    }

    /// The VAE's configuration.
    pub fn vae(self) -> Result<VaeConfig> {
        Ok(VaeConfig::released(if self.is_16k() { "16k" } else { "44k" })?)
    }

    /// The vocoder's configuration.
    pub fn vocoder(self) -> Result<BigVganConfig> {
        Ok(BigVganConfig::released(if self.is_16k() { "16k" } else { "v2_44k" })?)
    }

    /// The released file names of each part, with the alternatives accepted.
    pub fn file_names(self) -> Vec<(Part, &'static [&'static str])> {
        let net: &'static [&'static str] = match self {
            Self::Small16k => &["mmaudio_small_16k.pth"],
            Self::Small44k => &["mmaudio_small_44k.pth"],
            Self::Medium44k => &["mmaudio_medium_44k.pth"],
            Self::Large44k => &["mmaudio_large_44k.pth"],
            Self::Large44kV2 => &["mmaudio_large_44k_v2.pth"],
        };
        let (vae, vocoder): (&'static [&'static str], &'static [&'static str]) =
            if self.is_16k() { (&["v1-16.pth"], &["best_netG.pt"]) } else { (&["v1-44.pth"], &["bigvgan_generator.pt"]) };
        vec![
            (Part::Network, net),
            (Part::Vae, vae),
            (Part::Vocoder, vocoder),
            (Part::Synchformer, &["synchformer_state_dict.pth"]),
            (Part::Clip, &["open_clip_pytorch_model.bin", "open_clip_model.safetensors"]),
        ]
    }

    /// Every key and shape the loaders expect for `part` (released configurations).
    pub fn expected_shapes(self, part: Part) -> Result<std::collections::BTreeMap<String, Vec<usize>>> {
        Ok(match part {
            Part::Network => foley_flow::spec::expected_shapes(&self.flow()?).0,
            Part::Vae => self.vae()?.expected_shapes(),
            Part::Vocoder => self.vocoder()?.expected_shapes(),
            Part::Synchformer => SynchformerConfig::released().expected_shapes(),
            Part::Clip => ClipConfig::released().expected_shapes(),
        })
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Variant {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match VARIANTS.iter().find(|v| v.name() == s) {
            Some(v) => Ok(*v),
            None => bail!("unknown MMAudio model `{s}` (known: {})", VARIANTS.map(|v| v.name()).join(", ")),
        }
    }
}

/// A part of the pipeline stored in its own file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Network,
    Vae,
    Vocoder,
    Synchformer,
    Clip,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Network => "flow network",
            Self::Vae => "VAE",
            Self::Vocoder => "vocoder",
            Self::Synchformer => "Synchformer",
            Self::Clip => "CLIP",
        })
    }
}

/// Where the files of a variant are in a weights directory.
#[derive(Debug, Clone)]
pub struct MmaudioFiles {
    pub network: PathBuf,
    pub vae: PathBuf,
    pub vocoder: PathBuf,
    pub synchformer: PathBuf,
    pub clip: PathBuf,
}

/// Folders of `dir` searched for released files.
fn search_dirs(dir: &Path) -> [PathBuf; 4] {
    [dir.to_path_buf(), dir.join("weights"), dir.join("ext_weights"), dir.join("bigvgan_v2_44khz_128band_512x")]
}

/// The first existing file named one of `names` in `dir`'s search folders.
pub fn find_file(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    search_dirs(dir).iter().flat_map(|d| names.iter().map(move |n| d.join(n))).find(|p| p.is_file())
}

impl MmaudioFiles {
    /// Locate every file of `variant` in `dir`; the error lists each missing one by its
    /// released name.
    pub fn find(variant: Variant, dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            bail!("{}: not a directory (--weights must name the folder holding MMAudio's released files)", dir.display());
        }
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (part, names) in variant.file_names() {
            match find_file(dir, names) {
                Some(p) => found.push(p),
                None => missing.push(format!("  {part}: {}", names.join(" or "))),
            }
        }
        if !missing.is_empty() {
            bail!(
                "{}: MMAudio {variant} needs these files, not found there (nor in weights/, ext_weights/):\n{}\nSee docs/mmaudio.md for where to get them.",
                dir.display(),
                missing.join("\n")
            );
        }
        let [network, vae, vocoder, synchformer, clip] = found.try_into().expect("five parts");
        Ok(Self { network, vae, vocoder, synchformer, clip })
    }
}

impl MmaudioFiles {
    /// Each part with its file.
    pub fn parts(&self) -> [(Part, &Path); 5] {
        [
            (Part::Network, &self.network),
            (Part::Vae, &self.vae),
            (Part::Vocoder, &self.vocoder),
            (Part::Synchformer, &self.synchformer),
            (Part::Clip, &self.clip),
        ]
    }

    /// What is wrong between each file's keys and shapes and the released configuration of
    /// `variant`, read from the file headers only (a 4 GB CLIP costs no memory). The vocoder may
    /// be nested under `generator.` and use either weight-norm layout; of Synchformer only the
    /// visual branch counts (its other keys are ignored, as loading does).
    pub fn check(&self, variant: Variant) -> Result<Vec<(Part, PathBuf, KeyReport)>> {
        let mut out = Vec::new();
        for (part, path) in self.parts() {
            let found = StateDict::read_shapes(path)?;
            let report = match part {
                Part::Vocoder => {
                    let nested = found.keys().any(|k| k.starts_with("generator."));
                    let inner =
                        if nested { found.into_iter().filter_map(|(k, s)| Some((k.strip_prefix("generator.")?.to_string(), s))).collect() } else { found };
                    variant.vocoder()?.check_keys(&inner)
                }
                Part::Synchformer => {
                    let visual = found.into_iter().filter(|(k, _)| k.starts_with("vfeat_extractor.")).collect();
                    KeyReport::compare(&variant.expected_shapes(part)?, &visual, &Default::default())
                }
                _ => KeyReport::compare(&variant.expected_shapes(part)?, &found, &Default::default()),
            };
            out.push((part, path.to_path_buf(), report));
        }
        Ok(out)
    }
}
