//! `foley mmaudio check`: one component of MMAudio's pipeline (or all of it) run on the input
//! tensors of a test-vector file, returning every output tensor that file holds under the same
//! names, so they can be compared with the official code's. The components are configured from
//! a JSON file of named configurations (the official constructor arguments; `shapes_*` listings
//! beside them are ignored here).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use foley_decoder::bigvgan::{BigVgan, BigVganConfig};
use foley_decoder::vae::{Vae, VaeConfig};
use foley_encoders::ModelCache;
use foley_encoders::clip::{Clip, ClipConfig, ClipTokenizer};
use foley_encoders::synchformer::{Synchformer, SynchformerConfig};
use foley_flow::io::{Named, read_tensors, to_raw};
use foley_flow::weights::{RawTensor, StateDict};
use foley_flow::{FlowConfig, FlowNetwork};

use super::{Mmaudio, MmaudioFeatures};

/// What `foley mmaudio check` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Vae,
    Bigvgan,
    BigvganV2,
    Synchformer,
    Clip,
    Pipeline,
}

/// The named configurations of a JSON file.
pub struct Configs {
    json: serde_json::Value,
    /// The file's folder: `uses` entries are relative to it.
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl Configs {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read the configuration file", path.display()))?;
        let json: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))?;
        ensure!(json.is_object(), "{}: expected a JSON object of named configurations", path.display());
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(Self { json, dir, path: path.to_path_buf() })
    }

    /// The configuration named `key`.
    pub fn get(&self, key: &str) -> Result<&serde_json::Value> {
        self.json.get(key).with_context(|| {
            let names: Vec<&str> = self.json.as_object().into_iter().flat_map(|o| o.keys()).map(String::as_str).filter(|k| !k.starts_with("shapes_")).collect();
            format!("{}: no configuration `{key}` (it has: {})", self.path.display(), names.join(", "))
        })
    }
}

/// Input tensors of a test-vector file, by name.
struct Inputs<'a> {
    tensors: Named,
    path: &'a Path,
    device: Device,
}

impl Inputs<'_> {
    fn raw(&self, name: &str) -> Result<&RawTensor> {
        self.tensors.get(name).with_context(|| format!("{}: no input tensor `{name}`", self.path.display()))
    }

    fn tensor<const D: usize>(&self, name: &str) -> Result<Tensor<D>> {
        let raw = self.raw(name)?;
        let shape: [usize; D] =
            raw.shape.clone().try_into().map_err(|_| anyhow::anyhow!("{}: `{name}` must be {D}-D, got shape {:?}", self.path.display(), raw.shape))?;
        Ok(Tensor::from_data(TensorData::new(raw.data.clone(), shape), &self.device))
    }
}

/// Run `component` configured by `configs[name]` with `weights` on the tensors of `inputs`.
pub fn run(component: Component, configs: &Configs, name: &str, weights: &Path, inputs: &Path, device: &Device) -> Result<Named> {
    let config = configs.get(name)?;
    let io = Inputs { tensors: read_tensors(inputs)?, path: inputs, device: device.clone() };
    let mut out = Named::new();
    match component {
        Component::Vae => {
            let vae = Vae::load(&VaeConfig::from_json(config)?, weights, device)?;
            let (mean, std) = vae.encode(io.tensor("mel")?)?;
            out.insert("decoded".into(), to_raw(vae.decode(mean.clone())?));
            out.insert("mean".into(), to_raw(mean));
            out.insert("std".into(), to_raw(std));
        }
        Component::Bigvgan | Component::BigvganV2 => {
            let vocoder = BigVgan::load(&BigVganConfig::from_json(config)?, weights, device)?;
            out.insert("wav".into(), to_raw(vocoder.forward(io.tensor("mel")?)?));
        }
        Component::Synchformer => {
            let sync = Synchformer::load(&SynchformerConfig::from_json(config)?, weights, device)?;
            out.insert("sync_f".into(), to_raw(sync.encode_frames(io.tensor("frames")?)?));
        }
        Component::Clip => {
            let clip = Clip::load(&ClipConfig::from_json(config)?, weights, device)?;
            let tokenizer = ClipTokenizer::from_cache(&ModelCache::from_env()?)?;
            let prompts = prompts(configs, &format!("{name}_prompts"))?;
            let context = config.pointer("/text_cfg/context_length").and_then(|v| v.as_u64()).unwrap_or(77) as usize;
            let ids: Vec<i64> = prompts.iter().flat_map(|p| tokenizer.encode(p, context)).map(i64::from).collect();
            let ids: Tensor<2, Int> = Tensor::from_data(TensorData::new(ids, [prompts.len(), context]), device);
            out.insert("text_ids".into(), to_raw(ids.clone().float()));
            out.insert("text_f".into(), to_raw(clip.encode_text(ids)?));
            out.insert("image_f".into(), to_raw(clip.encode_image(io.tensor("images")?)?));
        }
        Component::Pipeline => {
            let (mmaudio, settings) = load_pipeline(configs, name, weights, device)?;
            let PipelineSettings { steps, cfg, prompt, negative } = settings;
            let features = mmaudio.features(io.tensor("clip_frames")?, io.tensor("sync_frames")?, &prompt, negative.as_deref())?;
            let latent = mmaudio.sample(&features, io.tensor("x0")?, steps, cfg, None, &mut |_, _| {})?;
            let (mel, wav) = mmaudio.decode(latent.clone())?;
            let MmaudioFeatures { clip_f, sync_f, text_f, negative_text_f } = features;
            out.insert("clip_f".into(), to_raw(clip_f));
            out.insert("sync_f".into(), to_raw(sync_f));
            out.insert("text_f".into(), to_raw(text_f));
            if let Some(n) = negative_text_f {
                out.insert("negative_text_f".into(), to_raw(n));
            }
            out.insert("latent".into(), to_raw(latent));
            out.insert("mel".into(), to_raw(mel));
            out.insert("wav".into(), to_raw(wav));
        }
    }
    Ok(out)
}

/// A list of strings in the configuration file (prompts).
fn prompts(configs: &Configs, key: &str) -> Result<Vec<String>> {
    let list = configs.get(key)?.as_array().with_context(|| format!("{}: `{key}` must be a list of strings", configs.path.display()))?;
    list.iter().map(|v| v.as_str().map(str::to_string).with_context(|| format!("{}: `{key}` must be a list of strings", configs.path.display()))).collect()
}

/// The first string of a one-prompt list (`eval_utils.generate` is called with batch 1 here).
fn single_prompt(config: &serde_json::Value, key: &str) -> Option<String> {
    match config.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()).map(str::to_string),
        _ => None,
    }
}

/// How a `pipeline` configuration samples.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub steps: usize,
    pub cfg: f32,
    pub prompt: String,
    pub negative: Option<String>,
}

/// The whole pipeline of the configuration `name`: the network and VAE from `weights`
/// (`{"net": ..., "vae": ...}`), the other parts from its `uses` files.
pub fn load_pipeline(configs: &Configs, name: &str, weights: &Path, device: &Device) -> Result<(Mmaudio, PipelineSettings)> {
    let config = configs.get(name)?;
    let uses = config.get("uses").and_then(|u| u.as_object()).context("a pipeline configuration needs `uses` (the clip, synchformer and vocoder files)")?;
    let used = |part: &str| -> Result<(std::path::PathBuf, &serde_json::Value)> {
        // The vocoder may also be named after its kind.
        let names: &[&str] = if part == "vocoder" { &["vocoder", "bigvgan", "bigvgan_v2"] } else { &[part] };
        let file = names.iter().find_map(|n| uses.get(*n)).and_then(|v| v.as_str()).with_context(|| format!("`uses` has no `{part}` file"))?;
        let path = configs.dir.join(file);
        let stem = Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or(file);
        Ok((path, configs.get(stem)?))
    };
    let dict = StateDict::read(weights)?;
    let flow: FlowConfig = serde_json::from_value(config.get("network").cloned().context("a pipeline configuration needs `network`")?)
        .context("`network` is not an MMAudio network configuration")?;
    let net = FlowNetwork::from_state_dict(&flow, dict.subset("net"), device, DType::F32)?;
    let vae_config = VaeConfig::from_json(config.get("vae").context("a pipeline configuration needs `vae`")?)?;
    let vae = Vae::from_state_dict(&vae_config, dict.subset("vae"), weights, device)?;
    let (clip_path, clip_config) = used("clip")?;
    let (sync_path, sync_config) = used("synchformer")?;
    let (voc_path, voc_config) = used("vocoder")?;
    let mmaudio = Mmaudio {
        clip: Clip::load(&ClipConfig::from_json(clip_config)?, &clip_path, device)?,
        tokenizer: ClipTokenizer::from_cache(&ModelCache::from_env()?)?,
        synchformer: Synchformer::load(&SynchformerConfig::from_json(sync_config)?, &sync_path, device)?,
        net,
        vae,
        vocoder: BigVgan::load(&BigVganConfig::from_json(voc_config)?, &voc_path, device)?,
        device: device.clone(),
    };
    let steps = config.get("steps").and_then(|v| v.as_u64()).unwrap_or(super::DEFAULT_STEPS as u64) as usize;
    let cfg = config.get("cfg_strength").and_then(|v| v.as_f64()).unwrap_or(super::DEFAULT_CFG as f64) as f32;
    let prompt = single_prompt(config, "prompt").unwrap_or_default();
    let negative = single_prompt(config, "negative_prompt");
    if config.get("v2").and_then(|v| v.as_bool()).unwrap_or(false) != flow.v2 {
        bail!("the pipeline's `v2` flag disagrees with its network's");
    }
    Ok((mmaudio, PipelineSettings { steps, cfg, prompt, negative }))
}

/// Largest relative error `max |a - b| / (max |b| + 1e-6)` of each tensor of `expected` present
/// in `actual` (shape mismatches are infinite).
pub fn compare(actual: &Named, expected: &Named) -> BTreeMap<String, f32> {
    let mut errors = BTreeMap::new();
    for (name, b) in expected {
        let Some(a) = actual.get(name) else { continue };
        let err = if a.shape != b.shape {
            f32::INFINITY
        } else {
            let diff = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
            diff / (b.data.iter().map(|y| y.abs()).fold(0.0, f32::max) + 1e-6)
        };
        errors.insert(name.clone(), err);
    }
    errors
}
