//! The network against MMAudio's own PyTorch outputs (`../shared/golden/mmaudio`).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use foley_flow::io::{Named, read_tensors, tensor3, to_raw};
use foley_flow::sampler::{Guided, euler, linspace_schedule};
use foley_flow::{ExtraInputs, FlowConfig, FlowError, FlowNetwork};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/mmaudio").join(name)
}

fn tiny_config(version: &str) -> FlowConfig {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(golden("mmaudio_configs.json")).unwrap()).unwrap();
    serde_json::from_value(json[format!("mmaudio_tiny_{version}")].clone()).unwrap()
}

fn weights(version: &str) -> PathBuf {
    golden(if version == "v1" { "mmaudio_tiny_v1.weights.safetensors" } else { "mmaudio_tiny_v2.pth" })
}

/// max |a - b| / (max |b| + 1e-6)
fn rel_err<const D: usize>(a: Tensor<D>, b: &foley_flow::weights::RawTensor) -> f32 {
    let a = to_raw(a);
    assert_eq!(a.shape, b.shape, "shape");
    let diff = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    let scale = b.data.iter().map(|y| y.abs()).fold(0.0, f32::max);
    diff / (scale + 1e-6)
}

struct Case {
    net: FlowNetwork,
    io: Named,
    device: Device,
}

impl Case {
    fn new(version: &str) -> Self {
        let device = Device::flex();
        let net = FlowNetwork::load(&tiny_config(version), &weights(version), &device).unwrap();
        Self { net, io: read_tensors(&golden(&format!("mmaudio_tiny_{version}.io.safetensors"))).unwrap(), device }
    }

    fn input(&self, name: &str) -> Tensor<3> {
        tensor3(name, &self.io[name], &self.device).unwrap()
    }

    fn check(&self, version: &str) {
        let cond = self.net.preprocess_conditions(self.input("clip_f"), self.input("sync_f"), self.input("text_f")).unwrap();
        let checks = [
            ("pre_clip_f", rel_err(cond.clip_f.clone(), &self.io["pre_clip_f"])),
            ("pre_sync_f", rel_err(cond.sync_f(self.net.config.latent_seq_len), &self.io["pre_sync_f"])),
            ("pre_text_f", rel_err(cond.text_f.clone(), &self.io["pre_text_f"])),
            ("pre_clip_f_c", rel_err(cond.clip_f_c.clone(), &self.io["pre_clip_f_c"])),
            ("pre_text_f_c", rel_err(cond.text_f_c.clone(), &self.io["pre_text_f_c"])),
        ];
        let t = &self.io["t"].data;
        let flow = self.net.predict_flow(self.input("latent"), t, &cond, &ExtraInputs::default()).unwrap();
        let flow_err = rel_err(flow, &self.io["flow"]);

        let uncond = self.net.empty_conditions(2, None).unwrap();
        let guided = Guided::new(cond, &uncond, 4.5);
        let x1 = euler(&self.net, self.input("euler_x0"), &guided, &linspace_schedule(10), &ExtraInputs::default(), &mut |_, _| {}).unwrap();
        let euler_err = rel_err(self.net.unnormalize(x1), &self.io["euler_cfg4.5_10steps_unnormalized"]);

        for (name, err) in checks.into_iter().chain([("flow", flow_err), ("euler", euler_err)]) {
            eprintln!("{version} {name}: {err:.3e}");
            assert!(err <= 1e-4, "{version} {name}: relative error {err:.3e}");
        }
    }
}

#[test]
fn tiny_v1_safetensors_matches_pytorch() {
    Case::new("v1").check("v1");
}

#[test]
fn tiny_v2_pth_matches_pytorch() {
    Case::new("v2").check("v2");
}

#[test]
fn forward_file_matches_pytorch() {
    let device = Device::flex();
    let flow = foley_flow::io::forward_file(&tiny_config("v2"), &weights("v2"), &golden("mmaudio_tiny_v2.io.safetensors"), &device).unwrap();
    let io = read_tensors(&golden("mmaudio_tiny_v2.io.safetensors")).unwrap();
    let t = Tensor::<3>::from_data(burn::tensor::TensorData::new(flow.data, [2, 40, 8]), &device);
    assert!(rel_err(t, &io["flow"]) <= 1e-4);
}

#[test]
fn released_configurations_expect_exactly_the_released_keys() {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(golden("mmaudio_configs.json")).unwrap()).unwrap();
    for name in foley_flow::config::RELEASED {
        let listing: std::collections::BTreeMap<String, Vec<usize>> = serde_json::from_value(json[format!("shapes_{name}")].clone()).unwrap();
        let (expected, new) = foley_flow::spec::expected_shapes(&FlowConfig::released(name).unwrap());
        assert!(new.is_empty());
        let report = foley_flow::KeyReport::compare(&expected, &listing, &new);
        assert!(report.is_ok(), "{name}: {report}");
    }
}

#[test]
fn a_wrong_checkpoint_lists_every_bad_key() {
    // v1 weights under the v2 layout: the SiLU shifts the clip/text MLP indices and the
    // v2 timestep embedder is hidden-wide.
    let err = FlowNetwork::load(&tiny_config("v2"), &weights("v1"), &Device::flex()).unwrap_err();
    let FlowError::Keys { report, path } = &err else { panic!("unexpected error {err}") };
    assert!(path.ends_with("mmaudio_tiny_v1.weights.safetensors"));
    assert!(report.missing.iter().any(|(k, _)| k == "clip_input_proj.2.w1.weight"));
    assert!(report.unexpected.iter().any(|(k, _)| k == "clip_input_proj.1.w1.weight"));
    assert!(report.misshaped.iter().any(|(k, e, f)| k == "t_embed.mlp.0.weight" && e == &vec![128, 128] && f == &vec![128, 256]));
    let text = err.to_string();
    assert!(text.contains("missing") && text.contains("unexpected") && text.contains("mis-shaped"), "{text}");

    let not_weights = FlowNetwork::load(&tiny_config("v1"), &golden("mmaudio_configs.json"), &Device::flex()).unwrap_err();
    assert!(not_weights.to_string().contains("mmaudio_configs.json"), "{not_weights}");
}

#[test]
fn bf16_weights_stay_close_to_pytorch_f32() {
    let device = Device::flex();
    let net = FlowNetwork::load_as(&tiny_config("v1"), &weights("v1"), &device, burn::tensor::DType::BF16).unwrap();
    let io = read_tensors(&golden("mmaudio_tiny_v1.io.safetensors")).unwrap();
    let get = |n: &str| tensor3(n, &io[n], &device).unwrap();
    // f32 inputs in, f32 flow out; bf16 inside.
    let flow = net.forward(get("latent"), get("clip_f"), get("sync_f"), get("text_f"), &io["t"].data).unwrap();
    assert_eq!(flow.dtype(), burn::tensor::DType::F32);
    let err = rel_err(flow, &io["flow"]);
    eprintln!("bf16 flow: {err:.3e}");
    assert!(err <= 3e-2, "bf16 relative error {err:.3e}");
}
