//! BigVGAN (MMAudio's 16 kHz vocoder and v2 44.1 kHz) against the official code's outputs.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use foley_decoder::DecoderError;
use foley_decoder::bigvgan::{BigVgan, BigVganConfig, kaiser_sinc_filter};
use foley_weights::StateDict;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/mmaudio_ext").join(name)
}

fn shared_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(golden("mmaudio_ext_shared.json")).unwrap()).unwrap()
}

fn config(name: &str) -> BigVganConfig {
    BigVganConfig::from_json(&shared_json()[name]).unwrap()
}

fn tensor3(raw: &foley_weights::RawTensor, device: &Device) -> Tensor<3> {
    let shape: [usize; 3] = raw.shape.clone().try_into().unwrap();
    Tensor::from_data(TensorData::new(raw.data.clone(), shape), device)
}

fn values(t: Tensor<3>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// max |a - b| / (max |b| + 1e-6).
fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    diff / (b.iter().map(|y| y.abs()).fold(0.0, f32::max) + 1e-6)
}

/// The golden mel run through the golden checkpoint, against the official waveform.
fn check_golden(name: &str) {
    let device = Device::flex();
    let model = BigVgan::load(&config(name), &golden(&format!("{name}.pt")), &device).unwrap();
    let io = StateDict::read(&golden(&format!("{name}.io.safetensors"))).unwrap();
    let wav = model.forward(tensor3(&io.tensors["mel"], &device)).unwrap();
    let expected = &io.tensors["wav"];
    assert_eq!(wav.dims().to_vec(), expected.shape);
    let err = rel_err(&values(wav), &expected.data);
    println!("{name}: wav max relative error {err:.3e}");
    assert!(err <= 1e-4, "{name}: relative error {err:.3e}");
}

#[test]
fn bigvgan_16k_matches_official() {
    check_golden("bigvgan_16k_shared");
}

#[test]
fn bigvgan_v2_44k_matches_official() {
    check_golden("bigvgan_v2_44k_shared");
}

#[test]
fn released_configs_expect_the_released_keys() {
    let json = shared_json();
    for (name, listing) in [("16k", "shapes_bigvgan_16k"), ("v2_44k", "shapes_bigvgan_v2_44k")] {
        let released: std::collections::BTreeMap<String, Vec<usize>> = serde_json::from_value(json[listing].clone()).unwrap();
        let expected = BigVganConfig::released(name).unwrap().expected_shapes();
        assert_eq!(expected, released, "{name}");
    }
    assert_eq!(BigVganConfig::released("16k").unwrap().hop(), 256);
    assert_eq!(BigVganConfig::released("v2_44k").unwrap().hop(), 512);
    assert!(matches!(BigVganConfig::released("22k"), Err(DecoderError::Config(_))));
}

#[test]
fn weight_g_v_layout_gives_the_same_waveform() {
    let device = Device::flex();
    let name = "bigvgan_16k_shared";
    let (c, path) = (config(name), golden(&format!("{name}.pt")));
    let dict = StateDict::read(&path).unwrap().subset("generator");
    let mut split = StateDict::default();
    for (key, t) in dict.tensors.clone() {
        let key = key.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v");
        split.tensors.insert(key, t);
    }
    assert!(split.tensors.contains_key("ups.0.0.weight_g"));
    let mel = tensor3(&StateDict::read(&golden(&format!("{name}.io.safetensors"))).unwrap().tensors["mel"], &device);
    let a = BigVgan::from_state_dict(&c, dict, &path, &device).unwrap().forward(mel.clone()).unwrap();
    let b = BigVgan::from_state_dict(&c, split, &path, &device).unwrap().forward(mel).unwrap();
    assert_eq!(values(a), values(b));
}

#[test]
fn missing_keys_are_reported_with_the_file() {
    let device = Device::flex();
    let name = "bigvgan_16k_shared";
    let path = golden(&format!("{name}.pt"));
    let mut dict = StateDict::read(&path).unwrap().subset("generator");
    dict.take("conv_post.bias").unwrap();
    match BigVgan::from_state_dict(&config(name), dict, &path, &device) {
        Err(DecoderError::Keys { path: p, report }) => {
            assert_eq!(p, path);
            assert_eq!(report.missing.len(), 1, "{report}");
        }
        other => panic!("expected a key error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn stored_filters_are_the_kaiser_sinc_filter() {
    let dict = StateDict::read(&golden("bigvgan_16k_shared.pt")).unwrap();
    let computed = kaiser_sinc_filter();
    let stored = &dict.tensors["generator.activation_post.upsample.filter"].data;
    let err = rel_err(&computed, stored);
    println!("kaiser sinc filter: max relative error {err:.3e}");
    assert!(err <= 1e-6, "{computed:?} vs {stored:?}");
}

#[test]
fn wrong_mel_bands_are_an_error() {
    let device = Device::flex();
    let model = BigVgan::random(&config("bigvgan_16k_shared"), 1, &device);
    let wrong = Tensor::<3>::zeros([1, 128, 4], &device);
    match model.forward(wrong) {
        Err(DecoderError::Input(msg)) => assert!(msg.contains("80") && msg.contains("128"), "{msg}"),
        other => panic!("expected an input error, got {:?}", other.map(|t| t.dims())),
    }
    assert!(matches!(model.forward(Tensor::<3>::zeros([1, 80, 0], &device)), Err(DecoderError::Input(_))));
}

#[test]
fn output_is_frames_times_hop() {
    let device = Device::flex();
    for name in ["bigvgan_16k_shared", "bigvgan_v2_44k_shared"] {
        let c = config(name);
        let model = BigVgan::random(&c, 7, &device);
        let mel = Tensor::<3>::random([2, c.num_mels, 3], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let wav = model.forward(mel).unwrap();
        assert_eq!(wav.dims(), [2, 1, 3 * c.hop()], "{name}");
        assert!(values(wav).iter().all(|v| v.is_finite() && v.abs() <= 1.0));
    }
}

#[test]
fn a_batch_is_each_item_alone() {
    let device = Device::flex();
    let name = "bigvgan_16k_shared";
    let model = BigVgan::load(&config(name), &golden(&format!("{name}.pt")), &device).unwrap();
    let mel = Tensor::<3>::random([2, 80, 5], burn::tensor::Distribution::Normal(-4.0, 2.0), &device);
    let both = values(model.forward(mel.clone()).unwrap());
    for i in 0..2 {
        let alone = values(model.forward(mel.clone().narrow(0, i, 1)).unwrap());
        let err = rel_err(&both[i * alone.len()..(i + 1) * alone.len()], &alone);
        assert!(err <= 1e-6, "item {i}: {err:.3e}");
    }
}
