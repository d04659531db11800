//! MMAudio's VAE against the official PyTorch outputs (`../shared/golden/mmaudio_ext`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use foley_decoder::DecoderError;
use foley_decoder::vae::{Vae, VaeConfig};
use foley_weights::{RawTensor, StateDict};

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/mmaudio_ext").join(name)
}

fn shared_json() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(golden("mmaudio_ext_shared.json")).unwrap()).unwrap()
}

fn tensor3(raw: &RawTensor, device: &Device) -> Tensor<3> {
    let shape: [usize; 3] = raw.shape.clone().try_into().unwrap();
    Tensor::from_data(TensorData::new(raw.data.clone(), shape), device)
}

/// max |a - b| / (max |b| + 1e-6)
fn rel_err(a: Tensor<3>, b: &RawTensor) -> f32 {
    assert_eq!(a.dims().to_vec(), b.shape, "shape");
    let a = a.into_data().try_to_vec::<f32>().unwrap();
    let diff = a.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    let scale = b.data.iter().map(|y| y.abs()).fold(0.0, f32::max);
    diff / (scale + 1e-6)
}

fn check_golden(name: &str) {
    let device = Device::flex();
    let config = VaeConfig::from_json(&shared_json()[name]).unwrap();
    let vae = Vae::load(&config, &golden(&format!("{name}.pth")), &device).unwrap();
    let io = StateDict::read(&golden(&format!("{name}.io.safetensors"))).unwrap().tensors;
    let (mean, std) = vae.encode(tensor3(&io["mel"], &device)).unwrap();
    let decoded = vae.decode(mean.clone()).unwrap();
    let errors = [("mean", rel_err(mean, &io["mean"])), ("std", rel_err(std, &io["std"])), ("decoded", rel_err(decoded, &io["decoded"]))];
    for (output, err) in errors {
        eprintln!("{name} {output}: relative error {err:.3e}");
        assert!(err <= 1e-4, "{name} {output}: relative error {err:.3e}");
    }
}

#[test]
fn vae_16k_matches_pytorch() {
    check_golden("vae_16k_shared");
}

#[test]
fn vae_44k_matches_pytorch() {
    check_golden("vae_44k_shared");
}

/// The VAE inside the pipeline checkpoint (`{"net", "vae"}`) turns the generated latent into
/// the pipeline's mel: an odd latent length (63) and the channel-last latent of MMAudio's
/// `decode`, transposed as `features_utils` does.
#[test]
fn pipeline_vae_decodes_the_generated_latent() {
    let device = Device::flex();
    let config = VaeConfig::from_json(&shared_json()["pipeline_shared"]["vae"]).unwrap();
    let path = golden("pipeline_shared.pth");
    let vae = Vae::from_state_dict(&config, StateDict::read(&path).unwrap().subset("vae"), &path, &device).unwrap();
    let io = StateDict::read(&golden("pipeline_shared.io.safetensors")).unwrap().tensors;
    let mel = vae.decode(tensor3(&io["latent"], &device).swap_dims(1, 2)).unwrap();
    let err = rel_err(mel, &io["mel"]);
    eprintln!("pipeline mel: relative error {err:.3e}");
    assert!(err <= 1e-4, "pipeline mel: relative error {err:.3e}");
}

#[test]
fn released_shapes_match_the_official_state_dicts() {
    let json = shared_json();
    for mode in ["16k", "44k"] {
        let official: BTreeMap<String, Vec<usize>> = serde_json::from_value(json[format!("shapes_vae_{mode}")].clone()).unwrap();
        let ours = VaeConfig::released(mode).unwrap().expected_shapes();
        assert_eq!(ours, official, "{mode}");
    }
}

#[test]
fn wrong_inputs_are_errors() {
    let device = Device::flex();
    let config = VaeConfig::from_json(&shared_json()["vae_16k_shared"]).unwrap();
    let vae = Vae::random(&config, 1, &device);
    let wrong_bands = vae.encode(Tensor::zeros([1, 128, 16], &device));
    assert!(matches!(&wrong_bands, Err(DecoderError::Input(msg)) if msg.contains("128") && msg.contains("80")), "{wrong_bands:?}");
    let too_short = vae.encode(Tensor::zeros([1, 80, 1], &device));
    assert!(matches!(too_short, Err(DecoderError::Input(_))), "{too_short:?}");
    let wrong_channels = vae.decode(Tensor::zeros([1, 80, 8], &device));
    assert!(matches!(&wrong_channels, Err(DecoderError::Input(msg)) if msg.contains("80") && msg.contains('8')), "{wrong_channels:?}");
    // And the right shapes go through: T frames -> T / 2 latent frames -> 2 (T / 2) mel frames.
    let (mean, std) = vae.encode(Tensor::zeros([2, 80, 17], &device)).unwrap();
    assert_eq!((mean.dims(), std.dims()), ([2, 8, 8], [2, 8, 8]));
    assert_eq!(vae.decode(mean).unwrap().dims(), [2, 80, 16]);
}

#[test]
fn bad_configurations_and_state_dicts_are_errors() {
    let device = Device::flex();
    let name = "vae_44k_shared";
    let config = VaeConfig::from_json(&shared_json()[name]).unwrap();
    let path = golden(&format!("{name}.pth"));
    let mut dict = StateDict::read(&path).unwrap();
    dict.take("decoder.up.1.upsample.conv.weight").unwrap();
    match Vae::from_state_dict(&config, dict, &path, &device) {
        Err(DecoderError::Keys { path: p, report }) => {
            assert_eq!(p, path);
            assert_eq!(report.missing, vec![("decoder.up.1.upsample.conv.weight".to_string(), vec![64, 64, 3])]);
            assert!(report.unexpected.is_empty() && report.misshaped.is_empty(), "{report}");
        }
        other => panic!("expected a key error, got {:?}", other.err()),
    }
    // The 16k configuration does not fit the 44k file.
    let wrong = VaeConfig::from_json(&shared_json()["vae_16k_shared"]).unwrap();
    assert!(matches!(Vae::load(&wrong, &path, &device), Err(DecoderError::Keys { .. })));
    for bad in [serde_json::json!({"data_dim": 64, "embed_dim": 8, "hidden_dim": 32}), serde_json::json!({"data_dim": 80, "embed_dim": 8})] {
        assert!(matches!(VaeConfig::from_json(&bad), Err(DecoderError::Config(_))), "{bad}");
    }
    assert!(matches!(VaeConfig::released("22k"), Err(DecoderError::Config(_))));
}
