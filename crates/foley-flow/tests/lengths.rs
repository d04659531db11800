//! The network at every sequence length a duration or geometry gives, against MMAudio's own
//! PyTorch code, and foley's CPU kernels against burn's plain ops at random lengths.
//!
//! `tests/data/mmaudio_lengths.safetensors` was made with the official `networks.py` (commit
//! 974010a, torch 2.15 CPU, f32) from the shared tiny v1/v2 weights at the lengths below
//! (procedure: BENCHMARKS.md, "Reference vectors at other lengths"). Per case `VERSION/NAME/`:
//! `latent`, `clip_f`, `sync_f`, `text_f` inputs (batch 1), `t`, `lengths` (latent, clip, sync,
//! text), `empty_string_feat` (drawn afresh where the text length is not the shared 6) and
//! `flow`. `nearest_exact/IN_OUT` holds `F.interpolate(arange(IN), size=OUT, mode="nearest-exact")`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{DType, Device, Tensor, TensorData};
use foley_flow::io::{Named, read_tensors, tensor3, to_raw};
use foley_flow::noise::{SplitMix64, standard_normal};
use foley_flow::weights::RawTensor;
use foley_flow::{ExtraInputs, FlowConfig, FlowNetwork, StateDict};
use foley_seq::{SequenceConfig, nearest_exact_source};

fn shared(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/mmaudio").join(name)
}

fn lengths_data() -> Named {
    read_tensors(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mmaudio_lengths.safetensors")).unwrap()
}

fn tiny_config(version: &str) -> FlowConfig {
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(shared("mmaudio_configs.json")).unwrap()).unwrap();
    serde_json::from_value(json[format!("mmaudio_tiny_{version}")].clone()).unwrap()
}

/// max |a - b| / (max |b| + 1e-6)
fn rel_err(a: &RawTensor, b: &RawTensor) -> f32 {
    assert_eq!(a.shape, b.shape, "shape");
    let diff = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    diff / (b.data.iter().map(|y| y.abs()).fold(0.0, f32::max) + 1e-6)
}

/// The MMAudio sequence geometry a case name stands for (`16k_2.7s`, `44k_8.0s`), if any.
fn geometry(name: &str) -> Option<SequenceConfig> {
    let (rate, duration) = name.split_once('_')?;
    let duration: f64 = duration.strip_suffix('s')?.parse().ok()?;
    match rate {
        "16k" => Some(SequenceConfig::mmaudio_16k(duration)),
        "44k" => Some(SequenceConfig::mmaudio_44k(duration)),
        _ => None,
    }
}

#[test]
fn every_sequence_length_matches_pytorch() {
    let data = lengths_data();
    let device = Device::flex();
    let mut cases: BTreeMap<(String, String), BTreeMap<String, RawTensor>> = BTreeMap::new();
    for (key, t) in &data {
        let mut parts = key.splitn(3, '/');
        let (Some(version), Some(name), Some(field)) = (parts.next(), parts.next(), parts.next()) else { continue };
        if version.starts_with('v') {
            cases.entry((version.into(), name.into())).or_default().insert(field.into(), t.clone());
        }
    }
    assert_eq!(cases.len(), 32, "16 lengths x v1 and v2");

    let weights = |v: &str| StateDict::read(&shared(if v == "v1" { "mmaudio_tiny_v1.weights.safetensors" } else { "mmaudio_tiny_v2.pth" })).unwrap();
    let dicts = BTreeMap::from([("v1", weights("v1")), ("v2", weights("v2"))]);
    let mut failures = Vec::new();
    for ((version, name), io) in &cases {
        let [nl, nc, ns, nt] = <[f32; 4]>::try_from(io["lengths"].data.as_slice()).unwrap().map(|v| v as usize);
        if let Some(seq) = geometry(name) {
            // foley's sequence config gives MMAudio's own lengths for that duration.
            assert_eq!((seq.latent_seq_len(), seq.clip_seq_len(), seq.sync_seq_len()), (nl, nc, ns), "{name}: SequenceConfig lengths");
        }
        let mut config = tiny_config(version);
        (config.latent_seq_len, config.clip_seq_len, config.sync_seq_len, config.text_seq_len) = (nl, nc, ns, nt);
        let mut dict = dicts[version.as_str()].clone();
        dict.tensors.insert("empty_string_feat".into(), io["empty_string_feat"].clone());
        let net = FlowNetwork::from_state_dict(&config, dict, &device, DType::F32).unwrap();
        let get = |n: &str| tensor3(n, &io[n], &device).unwrap();
        let flow = net.forward(get("latent"), get("clip_f"), get("sync_f"), get("text_f"), &io["t"].data).unwrap();
        let err = rel_err(&to_raw(flow), &io["flow"]);
        eprintln!("{version} {name} ({nl}/{nc}/{ns}/{nt}): {err:.2e}");
        if err > 1e-4 {
            failures.push(format!("{version} {name} ({nl}/{nc}/{ns}/{nt}): {err:.3e}"));
        }
    }
    assert!(failures.is_empty(), "relative error above 1e-4:\n{}", failures.join("\n"));
}

#[test]
fn nearest_exact_matches_pytorch_index_tables() {
    let data = lengths_data();
    let mut pairs = 0;
    for (key, want) in data.iter().filter_map(|(k, t)| Some((k.strip_prefix("nearest_exact/")?, t))) {
        let (a, b) = key.split_once('_').unwrap();
        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
        let got: Vec<f32> = (0..b).map(|i| nearest_exact_source(i, a, b) as f32).collect();
        assert_eq!(got, want.data, "{a} -> {b} rows");
        pairs += 1;
    }
    assert!(pairs >= 60, "{pairs} index tables");
}

/// The kernels (flex, f32) against the same network on burn's own ops (autodiff takes them
/// all), at random lengths: latent shorter and longer than sync, odd clip and text lengths,
/// and every SALSA-V extension on.
#[test]
fn kernels_equal_burn_ops_at_random_lengths() {
    let mut rng = SplitMix64::new(14);
    let flex = Device::flex();
    let plain = flex.clone().autodiff();
    for case in 0..12 {
        let mut pick = |lo: usize, hi: usize| lo + (rng.next_u64() as usize) % (hi - lo + 1);
        let (nl, nc, ns, nt) = (pick(3, 140), pick(1, 24), 8 * pick(1, 10), pick(1, 12));
        let mut config = tiny_config(if case % 2 == 0 { "v1" } else { "v2" });
        (config.latent_seq_len, config.clip_seq_len, config.sync_seq_len, config.text_seq_len) = (nl, nc, ns, nt);
        (config.hidden_dim, config.depth, config.fused_depth) = (64, 3, 1);
        if case % 3 == 0 {
            config.extensions = foley_flow::Extensions { masked_audio: true, shortcut: true, audio_self_attn: true, aligned_video: true };
        }
        let seed = 100 + case as u64;
        let input =
            |device: &Device, n: usize, d: usize, k: u64| Tensor::<3>::from_data(TensorData::new(standard_normal(seed * 10 + k, n * d), [1, n, d]), device);
        let run = |device: &Device| {
            let net = FlowNetwork::random(&config, seed, device).unwrap();
            let cond = net
                .preprocess_conditions(input(device, nc, config.clip_dim, 1), input(device, ns, config.sync_dim, 2), input(device, nt, config.text_dim, 3))
                .unwrap();
            let step = config.extensions.shortcut.then(|| vec![0.25]);
            let extra = ExtraInputs { step_size: step, ..Default::default() };
            to_raw(net.predict_flow(input(device, nl, config.latent_dim, 4), &[0.4], &cond, &extra).unwrap())
        };
        let (fast, reference) = (run(&flex), run(&plain));
        let err = rel_err(&fast, &reference);
        eprintln!("lengths {nl}/{nc}/{ns}/{nt}: {err:.2e}");
        assert!(err <= 1e-5, "lengths {nl}/{nc}/{ns}/{nt}: kernels differ from burn's ops by {err:.3e}");
    }
}
