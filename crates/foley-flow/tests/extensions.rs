//! SALSA-V extensions and samplers: key listings, shapes, gradients, "off = MMAudio".

use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use foley_flow::io::{read_tensors, tensor3, to_raw};
use foley_flow::sampler::{Guided, euler, initial_noise, linspace_schedule, shortcut};
use foley_flow::weights::Vars;
use foley_flow::{AudioPrompt, Extensions, ExtraInputs, FlowConfig, FlowNetwork};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/mmaudio").join(name)
}

fn tiny(v2: bool, extensions: Extensions) -> FlowConfig {
    FlowConfig {
        latent_dim: 8,
        clip_dim: 32,
        sync_dim: 16,
        text_dim: 24,
        hidden_dim: 128,
        depth: 5,
        fused_depth: 3,
        num_heads: 2,
        mlp_ratio: 4.0,
        latent_seq_len: 40,
        clip_seq_len: 8,
        sync_seq_len: 24,
        text_seq_len: 6,
        v2,
        extensions,
    }
}

const ALL: Extensions = Extensions { masked_audio: true, shortcut: true, audio_self_attn: true, aligned_video: true };

fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    to_raw(a).data.iter().zip(to_raw(b).data.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

struct Inputs {
    latent: Tensor<3>,
    clip: Tensor<3>,
    sync: Tensor<3>,
    text: Tensor<3>,
}

fn golden_inputs(device: &Device) -> (Inputs, foley_flow::io::Named) {
    let io = read_tensors(&golden("mmaudio_tiny_v1.io.safetensors")).unwrap();
    let get = |n: &str| tensor3(n, &io[n], device).unwrap();
    (Inputs { latent: get("latent"), clip: get("clip_f"), sync: get("sync_f"), text: get("text_f") }, io)
}

#[test]
fn constructors_ask_for_exactly_the_expected_keys() {
    let device = Device::flex();
    for bits in 0..16u8 {
        let ext = Extensions { masked_audio: bits & 1 != 0, shortcut: bits & 2 != 0, audio_self_attn: bits & 4 != 0, aligned_video: bits & 8 != 0 };
        for v2 in [false, true] {
            let config = tiny(v2, ext);
            let vb = Vars::random(1, &device);
            let _ = FlowNetwork::new(&config, &vb);
            let (expected, new) = foley_flow::spec::expected_shapes(&config);
            assert_eq!(vb.used(), expected, "{ext:?} v2={v2}");
            assert_eq!(new.is_empty(), ext.is_none());
        }
    }
}

#[test]
fn enabled_but_untrained_extensions_give_the_mmaudio_numbers() {
    let device = Device::flex();
    let (x, io) = golden_inputs(&device);
    let t = &io["t"].data;
    let plain = FlowNetwork::load(&tiny(false, Extensions::default()), &golden("mmaudio_tiny_v1.weights.safetensors"), &device).unwrap();
    // SALSA-V parameters the checkpoint lacks start with zero output layers.
    let salsa = FlowNetwork::load(&tiny(false, ALL), &golden("mmaudio_tiny_v1.weights.safetensors"), &device).unwrap();
    let base = plain.forward(x.latent.clone(), x.clip.clone(), x.sync.clone(), x.text.clone(), t).unwrap();

    let cond = salsa.preprocess_conditions(x.clip, x.sync, x.text).unwrap();
    let prompt = AudioPrompt { known: Tensor::ones([2, 40, 8], &device), mask: Tensor::ones([2, 40], &device) };
    let extra = ExtraInputs { step_size: Some(vec![0.25, 0.5]), prompt: Some(prompt) };
    let with_ext = salsa.predict_flow(x.latent, t, &cond, &extra).unwrap();
    let diff = max_abs_diff(with_ext, base.clone());
    assert!(diff == 0.0, "untrained extensions changed the flow by {diff}");
    let scale = io["flow"].data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let golden_flow = Tensor::<3>::from_data(TensorData::new(io["flow"].data.clone(), [2, 40, 8]), &device);
    assert!(max_abs_diff(base, golden_flow) <= 1e-4 * scale);
}

/// Collects the gradient norm of every parameter whose path contains one of `names`.
struct GradNorms<'a> {
    grads: &'a burn::tensor::Gradients,
    path: Vec<String>,
    names: &'a [&'a str],
    found: Vec<(String, f32)>,
}

impl ModuleVisitor for GradNorms<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path = self.path.join(".");
        if self.names.iter().any(|n| path.contains(n)) {
            let norm = param.val().grad(self.grads).map_or(0.0, |g| to_raw(g.abs().sum()).data[0]);
            self.found.push((path, norm));
        }
    }
}

#[test]
fn gradients_reach_every_new_parameter() {
    let device = Device::flex().autodiff();
    let config = tiny(true, ALL);
    let net = FlowNetwork::random(&config, 3, &device).unwrap();
    let (x, io) = golden_inputs(&device);
    let cond = net.preprocess_conditions(x.clip, x.sync, x.text).unwrap();
    let mask = Tensor::<2>::from_data(TensorData::new((0..80).map(|i| (i % 3 == 0) as u8 as f32).collect::<Vec<_>>(), [2, 40]), &device);
    let extra = ExtraInputs { step_size: Some(vec![0.125, 0.5]), prompt: Some(AudioPrompt { known: x.latent.clone() * 0.5, mask }) };
    let flow = net.predict_flow(x.latent, &io["t"].data, &cond, &extra).unwrap();
    assert_eq!(flow.dims(), [2, 40, 8]);
    let grads = flow.powi_scalar(2).mean().backward();

    let mut visitor = GradNorms { grads: &grads, path: vec![], names: &["audio_input_proj.cond", "d_embed", "audio_attn", "aligned_"], found: vec![] };
    net.visit(&mut visitor);
    // cond (1) + d_embed (4) + per joint block audio_attn: adaLN (2) + qkv (2) + norms (2) + proj (2)
    // + aligned sync and clip projections (2 + 2)
    assert_eq!(visitor.found.len(), 1 + 4 + 2 * 8 + 4, "{:?}", visitor.found);
    for (path, norm) in &visitor.found {
        assert!(norm.is_finite() && *norm > 0.0, "no gradient reaches {path}");
    }
}

#[test]
fn samplers_are_seeded_and_guidance_at_one_is_conditional() {
    let device = Device::flex();
    let config = tiny(false, Extensions { shortcut: true, ..Default::default() });
    let net = FlowNetwork::random(&config, 5, &device).unwrap();
    let (x, _) = golden_inputs(&device);
    let cond = net.preprocess_conditions(x.clip, x.sync, x.text).unwrap();
    let uncond = net.empty_conditions(2, None).unwrap();
    let none = ExtraInputs::default();
    let run = |seed, cfg| {
        let guided = Guided::new(cond.clone(), &uncond, cfg);
        euler(&net, initial_noise(seed, [2, 40, 8], &device), &guided, &linspace_schedule(4), &none, &mut |_, _| {}).unwrap()
    };
    assert_eq!(to_raw(run(11, 3.0)).data, to_raw(run(11, 3.0)).data);
    assert!(max_abs_diff(run(11, 3.0), run(12, 3.0)) > 1e-3);
    assert!(max_abs_diff(run(11, 3.0), run(11, 1.0)) > 1e-4);

    // w = 1: one pass on the conditions alone, the same as weighting 1 * cond + 0 * uncond.
    let v_cond = net.predict_flow(x.latent.clone(), &[0.5, 0.5], &cond, &none).unwrap();
    let v_guided = Guided::new(cond.clone(), &uncond, 1.0).velocity(&net, x.latent.clone(), 0.5, &none).unwrap();
    assert_eq!(to_raw(v_cond.clone()).data, to_raw(v_guided).data);
    // Batched cond + uncond equals two separate passes.
    let v_uncond = net.predict_flow(x.latent.clone(), &[0.5, 0.5], &uncond, &none).unwrap();
    let v_cfg = Guided::new(cond.clone(), &uncond, 4.5).velocity(&net, x.latent.clone(), 0.5, &none).unwrap();
    assert!(max_abs_diff(v_cfg, v_cond * 4.5 - v_uncond * 3.5) < 1e-4);

    let guided = Guided::new(cond.clone(), &uncond, 4.5);
    for k in [1, 2, 4] {
        let mut calls = 0;
        let out = shortcut(&net, initial_noise(1, [2, 40, 8], &device), &guided, k, &none, &mut |_, _| calls += 1).unwrap();
        assert_eq!((out.dims(), calls), ([2, 40, 8], k));
    }
    assert!(shortcut(&net, initial_noise(1, [2, 40, 8], &device), &guided, 3, &none, &mut |_, _| {}).is_err());
}

#[test]
fn negative_text_replaces_the_empty_string() {
    let device = Device::flex();
    let net = FlowNetwork::random(&tiny(true, Extensions::default()), 9, &device).unwrap();
    let empty = net.empty_conditions(2, None).unwrap();
    let negative = net.empty_conditions(2, Some(Tensor::ones([1, 6, 24], &device))).unwrap();
    assert_eq!(negative.text_f.dims(), [2, 6, 128]);
    assert!(max_abs_diff(empty.text_f_c.clone(), negative.text_f_c) > 1e-4);
    assert!(max_abs_diff(empty.clip_f.clone(), negative.clip_f) == 0.0);
    assert!(net.empty_conditions(2, Some(Tensor::ones([2, 6, 24], &device))).is_err());
    // A wrongly shaped input is an error, not a panic.
    let bad = net.preprocess_conditions(Tensor::zeros([1, 7, 32], &device), Tensor::zeros([1, 24, 16], &device), Tensor::zeros([1, 6, 24], &device));
    assert!(bad.unwrap_err().to_string().contains("clip_f"));
}

#[test]
fn training_init_is_mmaudios_adaln_zero() {
    use foley_flow::weights::{Init, training_init};
    let device = Device::flex();
    let config = tiny(true, ALL);
    let net = FlowNetwork::for_training(&config, 11, &device).unwrap();
    // Zero final layer: the untrained network predicts exactly zero flow.
    let (x, io) = golden_inputs(&device);
    let cond = net.preprocess_conditions(x.clip, x.sync, x.text).unwrap();
    let flow = net.predict_flow(x.latent, &io["t"].data, &cond, &ExtraInputs::default()).unwrap();
    assert_eq!(to_raw(flow.abs().max()).data[0], 0.0);
    assert_eq!(to_raw(net.empty_sync_feat.val().abs().max()).data[0], 0.0);
    assert_eq!(to_raw(net.sync_pos_emb.val().abs().max()).data[0], 0.0);
    // Linear layers are Xavier-uniform with zero bias; convolutions keep fan-in uniform.
    let qkv = to_raw(net.joint_blocks[0].latent_block.attn.qkv.weight.val()).data;
    let bound = (6.0f32 / (128.0 + 3.0 * 128.0)).sqrt();
    let max = qkv.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(max <= bound && max > 0.9 * bound, "qkv max {max}, Xavier bound {bound}");
    let mut used = std::collections::BTreeMap::new();
    used.insert("clip_cond_proj.weight".to_string(), vec![128, 128]);
    used.insert("audio_input_proj.0.weight".to_string(), vec![128, 8, 7]);
    assert_eq!(training_init("clip_cond_proj.bias", &[128], Init::FanIn, &used), Init::Zeros);
    assert_eq!(training_init("audio_input_proj.0.bias", &[128], Init::FanIn, &used), Init::FanIn);
    assert_eq!(training_init("t_embed.mlp.0.weight", &[128, 256], Init::FanIn, &used), Init::Normal(0.02));
    assert_eq!(training_init("fused_blocks.0.adaLN_modulation.1.weight", &[768, 128], Init::FanIn, &used), Init::Zeros);
}

/// Long-form context for a network without mask channels (MMAudio's checkpoints): known frames
/// imposed by replacement at every step come out exact, and the free frames follow them.
#[test]
fn known_frames_by_replacement_on_the_mmaudio_network() {
    use foley_flow::sampler::KnownFrames;
    let device = Device::flex();
    let config: FlowConfig = {
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(golden("mmaudio_configs.json")).unwrap()).unwrap();
        serde_json::from_value(json["mmaudio_tiny_v1"].clone()).unwrap()
    };
    assert!(!config.extensions.masked_audio, "the released layout has no mask channels");
    let net = FlowNetwork::load(&config, &golden("mmaudio_tiny_v1.weights.safetensors"), &device).unwrap();
    let (x, _) = golden_inputs(&device);
    let cond = net.preprocess_conditions(x.clip.clone(), x.sync.clone(), x.text.clone()).unwrap();
    let uncond = net.empty_conditions(2, None).unwrap();
    let x0 = initial_noise(7, [2, 40, 8], &device);
    // The first 16 of 40 frames are known (a previous window's end).
    let known = x.latent.clone();
    let mask_rows: Vec<f32> = (0..2 * 40).map(|i| if i % 40 < 16 { 1.0 } else { 0.0 }).collect();
    let mask = Tensor::<3>::from_data(TensorData::new(mask_rows, [2, 40, 1]), &device);
    let run = |with_known: bool| {
        let mut guided = Guided::new(cond.clone(), &uncond, 4.5);
        if with_known {
            guided = guided.with_known(KnownFrames { x0: x0.clone(), x1: known.clone(), mask: mask.clone() });
        }
        to_raw(euler(&net, x0.clone(), &guided, &linspace_schedule(10), &ExtraInputs::default(), &mut |_, _| {}).unwrap())
    };
    let (free, continued, again) = (run(false), run(true), run(true));
    assert_eq!(continued.data, again.data, "deterministic");
    let known = to_raw(known);
    for b in 0..2 {
        for n in 0..40 {
            let row = |t: &foley_flow::weights::RawTensor| t.data[(b * 40 + n) * 8..(b * 40 + n + 1) * 8].to_vec();
            if n < 16 {
                assert_eq!(row(&continued), row(&known), "known frame {b}/{n} is exact");
            } else {
                let d = row(&continued).iter().zip(row(&free)).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                assert!(d > 1e-3, "free frame {b}/{n} does not depend on the known ones ({d})");
            }
        }
    }
}
