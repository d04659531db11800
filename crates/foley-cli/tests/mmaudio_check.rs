//! `foley mmaudio check` against the official code's outputs (`../shared/golden/mmaudio_ext`):
//! every component and the whole pipeline, run as a user runs them, within 1e-4 relative.

use std::path::{Path, PathBuf};
use std::process::Command;

use foley_flow::io::read_tensors;
use foley_gen::mmaudio::check::compare;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/mmaudio_ext").join(name)
}

/// Runs `foley mmaudio check COMPONENT` on a golden and returns each output's relative error.
fn check(component: &str, name: &str, weights: &str, io: &str) -> Vec<(String, f32)> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.safetensors");
    let status = Command::new(env!("CARGO_BIN_EXE_foley"))
        .args(["mmaudio", "check", component, "--config"])
        .arg(golden("mmaudio_ext_shared.json"))
        .args(["--name", name, "--weights"])
        .arg(golden(weights))
        .arg("--inputs")
        .arg(golden(io))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(status.status.success(), "{component}: {}", String::from_utf8_lossy(&status.stderr));
    let (actual, expected) = (read_tensors(&out).unwrap(), read_tensors(&golden(io)).unwrap());
    let errors = compare(&actual, &expected);
    // Every tensor of the file that is not an input must have been written.
    let inputs = ["mel", "frames", "images", "clip_frames", "sync_frames", "x0"];
    for name in expected.keys().filter(|k| !inputs.contains(&k.as_str())) {
        assert!(errors.contains_key(name), "{component}: output `{name}` not written");
    }
    errors.into_iter().collect()
}

fn assert_close(component: &str, errors: &[(String, f32)]) {
    for (name, err) in errors {
        eprintln!("{component} {name}: {err:.3e}");
        assert!(*err <= 1e-4, "{component} {name}: relative error {err:.3e}");
    }
}

#[test]
fn vae_16k_and_44k() {
    assert_close("vae 16k", &check("vae", "vae_16k_shared", "vae_16k_shared.pth", "vae_16k_shared.io.safetensors"));
    assert_close("vae 44k", &check("vae", "vae_44k_shared", "vae_44k_shared.pth", "vae_44k_shared.io.safetensors"));
}

#[test]
fn bigvgan_16k_and_v2_44k() {
    assert_close("bigvgan", &check("bigvgan", "bigvgan_16k_shared", "bigvgan_16k_shared.pt", "bigvgan_16k_shared.io.safetensors"));
    assert_close("bigvgan-v2", &check("bigvgan-v2", "bigvgan_v2_44k_shared", "bigvgan_v2_44k_shared.pt", "bigvgan_v2_44k_shared.io.safetensors"));
}

#[test]
fn synchformer() {
    assert_close("synchformer", &check("synchformer", "synchformer_shared", "synchformer_shared.pth", "synchformer_shared.io.safetensors"));
}

#[test]
fn clip_with_its_tokenizer() {
    let errors = check("clip", "clip_shared", "clip_shared.pth", "clip_shared.io.safetensors");
    let ids = errors.iter().find(|(n, _)| n == "text_ids").expect("text_ids written");
    assert_eq!(ids.1, 0.0, "token ids must be exact");
    assert_close("clip", &errors);
}

#[test]
fn pipeline_end_to_end() {
    assert_close("pipeline", &check("pipeline", "pipeline_shared", "pipeline_shared.pth", "pipeline_shared.io.safetensors"));
}

#[test]
fn unknown_configuration_names_the_file_and_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_foley"))
        .args(["mmaudio", "check", "vae", "--config"])
        .arg(golden("mmaudio_ext_shared.json"))
        .args(["--name", "vae_8k", "--weights"])
        .arg(golden("vae_16k_shared.pth"))
        .arg("--inputs")
        .arg(golden("vae_16k_shared.io.safetensors"))
        .arg("-o")
        .arg(dir.path().join("out.safetensors"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no configuration `vae_8k`") && err.contains("vae_16k_shared"), "{err}");
    assert!(!dir.path().join("out.safetensors").exists());
}

/// A safetensors header listing `shapes` with no tensor data: enough for `foley models check`,
/// which reads shapes only (released files are gigabytes).
fn header_only(path: &Path, shapes: &serde_json::Map<String, serde_json::Value>, prefix: &str) {
    let mut header = serde_json::Map::new();
    let mut offset = 0u64;
    for (key, shape) in shapes {
        let n: u64 = shape.as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).product();
        header.insert(format!("{prefix}{key}"), serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * n]}));
        offset += 4 * n;
    }
    let json = serde_json::to_vec(&header).unwrap();
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend(json);
    std::fs::write(path, bytes).unwrap();
}

fn models_check(dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_foley")).args(["models", "check"]).arg(dir).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn models_check_accepts_the_released_shapes_and_names_what_is_wrong() {
    let read = |p: PathBuf| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let ext = read(golden("mmaudio_ext_shared.json"));
    let flow = read(golden("../mmaudio/mmaudio_configs.json"));
    let listing = |v: &serde_json::Value, key: &str| v[key].as_object().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    header_only(&d.join("mmaudio_small_16k.pth"), &listing(&flow, "shapes_small_16k"), "");
    header_only(&d.join("v1-16.pth"), &listing(&ext, "shapes_vae_16k"), "");
    header_only(&d.join("best_netG.pt"), &listing(&ext, "shapes_bigvgan_16k"), "generator.");
    header_only(&d.join("synchformer_state_dict.pth"), &listing(&ext, "shapes_synchformer"), "");

    let (ok, text) = models_check(d);
    assert!(!ok && text.contains("CLIP: open_clip_pytorch_model.bin"), "a missing file is named:\n{text}");

    std::fs::create_dir(d.join("ext_weights")).unwrap();
    header_only(&d.join("ext_weights/open_clip_pytorch_model.bin"), &listing(&ext, "shapes_clip_vit_h_14_384"), "");
    let (ok, text) = models_check(d);
    assert!(ok, "every released shape is accepted:\n{text}");
    assert_eq!(text.matches(": ok (").count(), 5, "{text}");

    // A tiny network under a released name: every difference is listed.
    std::fs::copy(golden("../mmaudio/mmaudio_tiny_v1.weights.safetensors"), d.join("mmaudio_small_16k.pth")).unwrap();
    let (ok, text) = models_check(d);
    assert!(!ok && text.contains("small_16k flow network") && text.contains("mis-shaped  latent_mean"), "{text}");
}

#[test]
fn generate_with_mmaudio_names_what_is_missing_before_any_work() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo/demo.mp4");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.mp4");
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_foley")).arg("generate").arg(&demo).arg("-o").arg(&out).args(args).output().unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let empty = dir.path().join("weights");
    std::fs::create_dir(&empty).unwrap();
    let (ok, err) = run(&["--model", "mmaudio:small_16k", "--weights", empty.to_str().unwrap()]);
    assert!(!ok && err.contains("mmaudio_small_16k.pth") && err.contains("best_netG.pt") && err.contains("open_clip_pytorch_model.bin"), "{err}");
    let (ok, err) = run(&["--model", "mmaudio:small_8k", "--weights", empty.to_str().unwrap()]);
    assert!(!ok && err.contains("unknown MMAudio model `small_8k`") && err.contains("large_44k_v2"), "{err}");
    let (ok, err) = run(&["--model", "mmaudio:small_16k"]);
    assert!(!ok && err.contains("needs --weights DIR"), "{err}");
    let (ok, err) = run(&["--model", "mmaudio:small_16k", "--weights", empty.to_str().unwrap(), "--sampler", "shortcut"]);
    assert!(!ok && err.contains("no shortcut sampler"), "{err}");
    let (ok, err) = run(&["--weights", empty.to_str().unwrap()]);
    assert!(!ok && err.contains("--weights is for --model mmaudio:NAME"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing written but the weights folder");
}
