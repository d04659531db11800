//! The flow network (`networks.MMAudio`): input projections, conditioning, joint and fused
//! blocks, final layer; plus SALSA-V's optional inputs.

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::{selu, silu};
use burn::tensor::{DType, Device, Tensor};

use crate::FlowError;
use crate::blocks::{FinalBlock, JointBlock, SingleBlock, Streams};
use crate::conditions::Conditions;
use crate::config::{FlowConfig, SYNC_TOKENS_PER_SEGMENT};
use crate::kernels::upsample_rows;
use crate::layers::{SeqConv, SwiGlu, TimestepEmbedder, linear, linear_new};
use crate::rope::Rope;
use crate::spec::expected_shapes;
use crate::weights::{Init, KeyReport, StateDict, Vars};

/// Nonlinearity between the first projection and the SwiGLU of an input branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Identity,
    Selu,
    Silu,
}

impl Act {
    fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Act::Identity => x,
            Act::Selu => selu(x),
            Act::Silu => silu(x),
        }
    }
}

/// The audio latent branch: conv k7 -> SELU (v1) / SiLU (v2) -> ConvMLP k7.
/// With masked audio conditioning, `[known * mask, mask]` are extra input channels of the first
/// convolution (stored as their own weight slice, `audio_input_proj.0.cond_weight`).
#[derive(Module, Debug)]
pub struct AudioInput {
    pub conv: SeqConv,
    pub cond: Option<SeqConv>,
    #[module(skip)]
    pub act: Act,
    pub mlp: SwiGlu,
}

/// A sequence branch: projection (linear or conv) -> activation -> SwiGLU.
#[derive(Module, Debug)]
pub struct InputBranch {
    pub proj: SeqConv,
    #[module(skip)]
    pub act: Act,
    pub mlp: SwiGlu,
}

impl InputBranch {
    fn new(vb: &Vars, c_in: usize, d: usize, h: usize, kernel: usize, mlp_kernel: usize, act: Act) -> Self {
        // The MLP sits after the activation in the nn.Sequential when there is one.
        let mlp_index = if act == Act::Identity { 1 } else { 2 };
        Self { proj: SeqConv::new(&vb.pp(0), c_in, d, kernel, true), act, mlp: SwiGlu::new(&vb.pp(mlp_index), d, h, mlp_kernel) }
    }

    /// `(B, N, c_in)` features -> `(B, N, hidden)` tokens.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.mlp.forward(self.act.apply(self.proj.forward(x)))
    }
}

/// Known audio for masked conditioning (SALSA-V): `known` latents `(B, N, latent_dim)`
/// (normalised like the generated ones) and a 0/1 `mask` `(B, N)`, 1 where audio is known.
#[derive(Debug, Clone)]
pub struct AudioPrompt {
    pub known: Tensor<3>,
    pub mask: Tensor<2>,
}

/// Per-call SALSA-V inputs; the default is plain MMAudio.
#[derive(Debug, Clone, Default)]
pub struct ExtraInputs {
    /// Shortcut step size `d` per batch item (0 = plain flow matching).
    pub step_size: Option<Vec<f32>>,
    /// Known audio and its mask.
    pub prompt: Option<AudioPrompt>,
}

/// MMAudio's flow network, optionally with SALSA-V's extensions.
#[derive(Module, Debug)]
pub struct FlowNetwork {
    pub audio_input_proj: AudioInput,
    pub clip_input_proj: InputBranch,
    pub sync_input_proj: InputBranch,
    pub text_input_proj: InputBranch,
    pub clip_cond_proj: Linear,
    pub text_cond_proj: Linear,
    pub global_cond_mlp: SwiGlu,
    pub aligned_sync_proj: Option<Linear>,
    pub aligned_clip_proj: Option<Linear>,
    pub sync_pos_emb: Param<Tensor<4>>,
    pub t_embed: TimestepEmbedder,
    pub d_embed: Option<TimestepEmbedder>,
    pub joint_blocks: Vec<JointBlock>,
    pub fused_blocks: Vec<SingleBlock>,
    pub final_layer: FinalBlock,
    pub empty_clip_feat: Param<Tensor<2>>,
    pub empty_sync_feat: Param<Tensor<2>>,
    /// Constants of the checkpoint (not trained).
    pub latent_mean: Tensor<3>,
    pub latent_std: Tensor<3>,
    pub empty_string_feat: Tensor<2>,
    #[module(skip)]
    pub latent_rope: Rope,
    #[module(skip)]
    pub clip_rope: Rope,
    #[module(skip)]
    pub config: FlowConfig,
}

impl FlowNetwork {
    /// Load an MMAudio checkpoint (`.pth` or `.safetensors`) for `config`. Every key must be
    /// present with its shape and nothing else may be; otherwise the error lists all
    /// missing, unexpected and mis-shaped keys. SALSA-V parameters that the file lacks are
    /// created (output layers zero, so the network starts as the checkpoint's MMAudio).
    pub fn load(config: &FlowConfig, path: &Path, device: &Device) -> Result<Self, FlowError> {
        Self::load_as(config, path, device, DType::F32)
    }

    /// [`load`](Self::load) with the weights converted to `dtype` (e.g. bf16) as they are read.
    pub fn load_as(config: &FlowConfig, path: &Path, device: &Device, dtype: DType) -> Result<Self, FlowError> {
        let dict = StateDict::read(path)?;
        Self::from_state_dict(config, dict, device, dtype).map_err(|e| match e {
            FlowError::Keys { report, .. } => FlowError::Keys { path: path.to_path_buf(), report },
            other => other,
        })
    }

    /// Build from an in-memory state dict (see [`load`](Self::load)).
    pub fn from_state_dict(config: &FlowConfig, dict: StateDict, device: &Device, dtype: DType) -> Result<Self, FlowError> {
        config.validate().map_err(FlowError::Config)?;
        let (expected, new_keys) = expected_shapes(config);
        let report = KeyReport::compare(&expected, &dict.shapes(), &new_keys);
        if !report.is_ok() {
            return Err(FlowError::Keys { path: Default::default(), report });
        }
        Ok(Self::new(config, &Vars::from_state_dict(dict, true, device).with_dtype(dtype)))
    }

    /// Random weights (benchmarks and tests), deterministic in `seed`.
    pub fn random(config: &FlowConfig, seed: u64, device: &Device) -> Result<Self, FlowError> {
        Self::random_as(config, seed, device, DType::F32)
    }

    /// [`random`](Self::random) in `dtype`.
    pub fn random_as(config: &FlowConfig, seed: u64, device: &Device, dtype: DType) -> Result<Self, FlowError> {
        config.validate().map_err(FlowError::Config)?;
        Ok(Self::new(config, &Vars::random(seed, device).with_dtype(dtype)))
    }

    /// The initialization MMAudio trains from (adaLN-zero, Xavier linears; see
    /// [`training_init`](crate::weights::training_init)), deterministic in `seed`.
    pub fn for_training(config: &FlowConfig, seed: u64, device: &Device) -> Result<Self, FlowError> {
        config.validate().map_err(FlowError::Config)?;
        Ok(Self::new(config, &Vars::training(seed, crate::weights::training_init, device)))
    }

    /// Build every module from `vb` (keys are MMAudio's).
    pub fn new(c: &FlowConfig, vb: &Vars) -> Self {
        let (d, h, lat) = (c.hidden_dim, c.mlp_hidden_dim(), c.latent_dim);
        let (feature_act, proj_act) = if c.v2 { (Act::Silu, Act::Silu) } else { (Act::Selu, Act::Identity) };
        let (freq_dim, max_period) = if c.v2 { (d, 1.0) } else { (256, 10000.0) };
        let audio = vb.pp("audio_input_proj");
        let joint = c.joint_depth();
        let device = vb.device();
        Self {
            audio_input_proj: AudioInput {
                conv: SeqConv::new(&audio.pp(0), lat, d, 7, true),
                cond: c.extensions.masked_audio.then(|| SeqConv::new_named(&audio.pp(0), "cond_weight", lat + 1, d, 7, Init::Zeros)),
                act: feature_act,
                mlp: SwiGlu::new(&audio.pp(2), d, h, 7),
            },
            aligned_sync_proj: c.extensions.aligned_video.then(|| linear_new(&vb.pp("aligned_sync_proj"), d, d, Init::Zeros)),
            aligned_clip_proj: c.extensions.aligned_video.then(|| linear_new(&vb.pp("aligned_clip_proj"), d, d, Init::Zeros)),
            clip_input_proj: InputBranch::new(&vb.pp("clip_input_proj"), c.clip_dim, d, h, 1, 3, proj_act),
            sync_input_proj: InputBranch::new(&vb.pp("sync_input_proj"), c.sync_dim, d, h, 7, 3, feature_act),
            text_input_proj: InputBranch::new(&vb.pp("text_input_proj"), c.text_dim, d, h, 1, 1, proj_act),
            clip_cond_proj: linear(&vb.pp("clip_cond_proj"), d, d, true),
            text_cond_proj: linear(&vb.pp("text_cond_proj"), d, d, true),
            global_cond_mlp: SwiGlu::new(&vb.pp("global_cond_mlp"), d, h, 1),
            sync_pos_emb: Param::from_tensor(vb.get("sync_pos_emb", [1, 1, SYNC_TOKENS_PER_SEGMENT, c.sync_dim], Init::FanIn)),
            t_embed: TimestepEmbedder::new(&vb.pp("t_embed"), d, freq_dim, max_period, false),
            d_embed: c.extensions.shortcut.then(|| TimestepEmbedder::new(&vb.pp("d_embed"), d, freq_dim, max_period, true)),
            joint_blocks: (0..joint)
                .map(|i| JointBlock::new(&vb.pp("joint_blocks").pp(i), d, c.num_heads, h, i == joint - 1, c.extensions.audio_self_attn))
                .collect(),
            fused_blocks: (0..c.fused_depth).map(|i| SingleBlock::new(&vb.pp("fused_blocks").pp(i), d, c.num_heads, h, 3, false, false)).collect(),
            final_layer: FinalBlock::new(&vb.pp("final_layer"), d, lat),
            empty_clip_feat: Param::from_tensor(vb.get("empty_clip_feat", [1, c.clip_dim], Init::FanIn)),
            empty_sync_feat: Param::from_tensor(vb.get("empty_sync_feat", [1, c.sync_dim], Init::FanIn)),
            latent_mean: vb.get("latent_mean", [1, 1, lat], Init::FanIn),
            latent_std: vb.get("latent_std", [1, 1, lat], Init::Ones),
            empty_string_feat: vb.get("empty_string_feat", [c.text_seq_len, c.text_dim], Init::FanIn),
            latent_rope: Rope::new(c.latent_seq_len, c.head_dim(), 1.0, device),
            clip_rope: Rope::new(c.clip_seq_len, c.head_dim(), c.latent_seq_len as f64 / c.clip_seq_len as f64, device),
            config: c.clone(),
        }
    }

    /// Change the sequence lengths (another duration) and rebuild the RoPE tables.
    pub fn update_seq_lengths(&mut self, latent_seq_len: usize, clip_seq_len: usize, sync_seq_len: usize) {
        let c = &mut self.config;
        (c.latent_seq_len, c.clip_seq_len, c.sync_seq_len) = (latent_seq_len, clip_seq_len, sync_seq_len);
        let device = self.latent_mean.device();
        self.latent_rope = Rope::new(latent_seq_len, c.head_dim(), 1.0, &device);
        self.clip_rope = Rope::new(clip_seq_len, c.head_dim(), latent_seq_len as f64 / clip_seq_len as f64, &device);
    }

    pub fn device(&self) -> Device {
        self.latent_mean.device()
    }

    /// Float type of the weights.
    pub fn dtype(&self) -> DType {
        self.latent_mean.dtype()
    }

    /// Everything that does not depend on the latent or the time step, computed once and
    /// reused over sampling steps. `clip_f (B, Nc, clip_dim)`, `sync_f (B, Ns, sync_dim)`,
    /// `text_f (B, Nt, text_dim)`.
    pub fn preprocess_conditions(&self, clip_f: Tensor<3>, sync_f: Tensor<3>, text_f: Tensor<3>) -> Result<Conditions, FlowError> {
        // On the pool for the same reason as `predict_flow_embedded`.
        rayon::scope(|_| self.preprocess_on_pool(clip_f, sync_f, text_f))
    }

    fn preprocess_on_pool(&self, clip_f: Tensor<3>, sync_f: Tensor<3>, text_f: Tensor<3>) -> Result<Conditions, FlowError> {
        let c = &self.config;
        check_shape("clip_f", &clip_f.dims(), [None, Some(c.clip_seq_len), Some(c.clip_dim)])?;
        check_shape("sync_f", &sync_f.dims(), [None, Some(c.sync_seq_len), Some(c.sync_dim)])?;
        check_shape("text_f", &text_f.dims(), [None, Some(c.text_seq_len), Some(c.text_dim)])?;
        // Inputs may come in f32 to a bf16 network.
        let dtype = self.dtype();
        let (clip_f, sync_f, text_f) = (clip_f.cast(dtype), sync_f.cast(dtype), text_f.cast(dtype));
        let [b, ns, ds] = sync_f.dims();
        // Each Synchformer segment gets the same learned 8-position embedding.
        let segments = ns / SYNC_TOKENS_PER_SEGMENT;
        let sync_f = (sync_f.reshape([b, segments, SYNC_TOKENS_PER_SEGMENT, ds]) + self.sync_pos_emb.val()).reshape([b, ns, ds]);

        let clip_f = self.clip_input_proj.forward(clip_f);
        let sync_tokens = self.sync_input_proj.forward(sync_f);
        let text_f = self.text_input_proj.forward(text_f);
        let aligned = match (&self.aligned_sync_proj, &self.aligned_clip_proj) {
            (Some(sync), Some(clip)) => {
                let n = c.latent_seq_len;
                Some(sync.forward(upsample_rows(sync_tokens.clone(), n)) + clip.forward(upsample_rows(clip_f.clone(), n)))
            }
            _ => None,
        };

        let clip_f_c = self.clip_cond_proj.forward(clip_f.clone().mean_dim(1).squeeze_dim(1));
        let text_f_c = self.text_cond_proj.forward(text_f.clone().mean_dim(1).squeeze_dim(1));
        Ok(Conditions { clip_f, sync_tokens, text_f, clip_f_c, text_f_c, aligned })
    }

    /// The conditions of "no video, empty text" (or `negative_text` features `(1, Nt, text_dim)`)
    /// for classifier-free guidance, expanded to `batch`.
    pub fn empty_conditions(&self, batch: usize, negative_text: Option<Tensor<3>>) -> Result<Conditions, FlowError> {
        let c = &self.config;
        let clip = self.empty_clip_feat.val().unsqueeze_dim::<3>(0).expand([1, c.clip_seq_len, c.clip_dim]);
        let sync = self.empty_sync_feat.val().unsqueeze_dim::<3>(0).expand([1, c.sync_seq_len, c.sync_dim]);
        let text = negative_text.unwrap_or_else(|| self.empty_string_feat.clone().unsqueeze_dim(0));
        if text.dims()[0] != 1 {
            return Err(FlowError::Input(format!("negative text features must have batch 1, got {:?}", text.dims())));
        }
        Ok(self.preprocess_conditions(clip, sync, text)?.expand(batch))
    }

    /// Velocity at `latent (B, N, latent_dim)`, times `t` (one per batch item), given
    /// preprocessed conditions. `extra` carries SALSA-V's optional inputs. The network computes
    /// in its own dtype; the velocity comes back in the latent's (so an f32 sampler state can
    /// drive a bf16 network).
    pub fn predict_flow(&self, latent: Tensor<3>, t: &[f32], cond: &Conditions, extra: &ExtraInputs) -> Result<Tensor<3>, FlowError> {
        let io_dtype = latent.dtype();
        let embedded = self.embed_latent(latent, extra.prompt.as_ref())?;
        Ok(self.predict_flow_embedded(embedded, t, cond, extra.step_size.as_deref())?.cast(io_dtype))
    }

    /// The audio input projection `(B, N, latent_dim) -> (B, N, hidden)` (with the masked-audio
    /// channels when enabled). It depends on nothing else, so guidance computes it once for the
    /// conditional and unconditional halves.
    pub fn embed_latent(&self, latent: Tensor<3>, prompt: Option<&AudioPrompt>) -> Result<Tensor<3>, FlowError> {
        let c = &self.config;
        check_shape("latent", &latent.dims(), [None, Some(c.latent_seq_len), Some(c.latent_dim)])?;
        let n = latent.dims()[1];
        self.audio_input(latent.cast(self.dtype()), prompt, n)
    }

    /// [`predict_flow`](Self::predict_flow) from an already projected latent; returns the
    /// velocity in the network's dtype.
    pub fn predict_flow_embedded(&self, latent: Tensor<3>, t: &[f32], cond: &Conditions, step_size: Option<&[f32]>) -> Result<Tensor<3>, FlowError> {
        // On a rayon worker, the thread that runs the serial ops also takes its share of every
        // parallel matmul instead of sleeping until the pool finishes it (inline when already
        // on a worker).
        rayon::scope(|_| self.predict_flow_on_pool(latent, t, cond, step_size))
    }

    fn predict_flow_on_pool(&self, latent: Tensor<3>, t: &[f32], cond: &Conditions, step_size: Option<&[f32]>) -> Result<Tensor<3>, FlowError> {
        let b = latent.dims()[0];
        if t.len() != b || cond.batch() != b {
            return Err(FlowError::Input(format!("batch mismatch: latent {b}, t {}, conditions {}", t.len(), cond.batch())));
        }
        let device = latent.device();
        let mut global_c =
            self.t_embed.forward(t, &device) + self.global_cond_mlp.forward((cond.clip_f_c.clone() + cond.text_f_c.clone()).unsqueeze_dim(1)).squeeze_dim(1);
        if let Some(d_embed) = &self.d_embed {
            let zeros = vec![0.0; b];
            let d = step_size.unwrap_or(&zeros);
            if d.len() != b {
                return Err(FlowError::Input(format!("{} step sizes for batch {b}", d.len())));
            }
            global_c = global_c + d_embed.forward(d, &device);
        }
        let global_c: Tensor<3> = global_c.unsqueeze_dim(1);
        // MMAudio's per-token conditioning is global + upsampled sync; every use of it is row-wise
        // (SiLU, the adaLN linears), so it is computed on the sync-rate rows and the kernels read
        // the modulations upsampled: 192 instead of 250 rows for 8 s, the same numbers.
        let extended_c = global_c.clone() + cond.sync_tokens.clone();
        let latent = match &cond.aligned {
            Some(aligned) => latent + aligned.clone(),
            None => latent,
        };

        // Every adaLN modulation starts with SiLU of its conditioning: computed once here.
        let (global_act, extended_act) = (silu(global_c), silu(extended_c));

        let mut s = Streams { latent, clip: cond.clip_f.clone(), text: cond.text_f.clone() };
        for block in &self.joint_blocks {
            s = block.forward(s, global_act.clone(), extended_act.clone(), &self.latent_rope, &self.clip_rope);
        }
        let mut latent = s.latent;
        for block in &self.fused_blocks {
            latent = block.forward(latent, extended_act.clone(), &self.latent_rope);
        }
        // As released: the final layer sees the global, not the per-token, conditioning.
        Ok(self.final_layer.forward(latent, global_act))
    }

    fn audio_input(&self, latent: Tensor<3>, prompt: Option<&AudioPrompt>, n: usize) -> Result<Tensor<3>, FlowError> {
        let proj = &self.audio_input_proj;
        let mut h = proj.conv.forward(latent.clone());
        if let Some(cond) = &proj.cond {
            let [b, _, lat] = latent.dims();
            let channels = match prompt {
                Some(p) => {
                    check_shape("known latents", &p.known.dims(), [Some(b), Some(n), Some(lat)])?;
                    let mask: Tensor<3> = p.mask.clone().cast(latent.dtype()).unsqueeze_dim(2);
                    check_shape("audio mask", &mask.dims(), [Some(b), Some(n), Some(1)])?;
                    Tensor::cat(vec![p.known.clone().cast(latent.dtype()) * mask.clone(), mask], 2)
                }
                None => Tensor::<3>::zeros([b, n, lat + 1], &latent.device()).cast(latent.dtype()),
            };
            h = h + cond.forward(channels);
        } else if prompt.is_some() {
            return Err(FlowError::Input("an audio prompt needs a network with masked_audio enabled".into()));
        }
        Ok(proj.mlp.forward(proj.act.apply(h)))
    }

    /// `preprocess_conditions` then `predict_flow` (MMAudio's `forward`).
    pub fn forward(&self, latent: Tensor<3>, clip_f: Tensor<3>, sync_f: Tensor<3>, text_f: Tensor<3>, t: &[f32]) -> Result<Tensor<3>, FlowError> {
        let cond = self.preprocess_conditions(clip_f, sync_f, text_f)?;
        self.predict_flow(latent, t, &cond, &ExtraInputs::default())
    }

    /// `(x - mean) / std` with the checkpoint's latent statistics.
    pub fn normalize(&self, x: Tensor<3>) -> Tensor<3> {
        let dtype = x.dtype();
        (x - self.latent_mean.clone().cast(dtype)) / self.latent_std.clone().cast(dtype)
    }

    /// `x * std + mean`.
    pub fn unnormalize(&self, x: Tensor<3>) -> Tensor<3> {
        let dtype = x.dtype();
        x * self.latent_std.clone().cast(dtype) + self.latent_mean.clone().cast(dtype)
    }
}

fn check_shape<const D: usize>(name: &str, got: &[usize; D], want: [Option<usize>; D]) -> Result<(), FlowError> {
    if got.iter().zip(want).all(|(&g, w)| w.is_none_or(|w| w == g)) {
        Ok(())
    } else {
        let want: Vec<String> = want.iter().map(|w| w.map_or("B".to_string(), |w| w.to_string())).collect();
        Err(FlowError::Input(format!("{name} has shape {got:?}, expected [{}]", want.join(", "))))
    }
}
