//! `foley train sync` through the library (sync_recipe): a tiny run writes every file, the saved
//! model reloads to identical embeddings, a rerun with the same seed repeats exactly, bad
//! options are refused before any work, and the shipped model still finds offsets.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use foley_encoders::sync::{SyncConfig, SyncModel, frame_input, resolve_model_path};
use foley_encoders::sync_plot::Curve;
use foley_encoders::sync_recipe::{RecipeOptions, RunFiles, load_bank, run, sim_clips};
use foley_encoders::sync_train::{Objective, TrainOptions, offset_eval};
use foley_seq::SequenceConfig;
use foley_sim::bank::default_dir;
use foley_sim::splits::Split;

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn tiny(objective: Objective, f16: bool) -> RecipeOptions {
    RecipeOptions {
        train: TrainOptions { steps: 3, clips_per_batch: 2, windows_per_clip: 3, objective, ..TrainOptions::default() },
        train_clips: 2,
        test_clips: 1,
        f16,
        ..RecipeOptions::default()
    }
}

/// Sync tokens of a 4 s clip of moving noise.
fn tokens(model: &SyncModel, device: &Device) -> Vec<f32> {
    let seq = SequenceConfig::mmaudio_16k(4.0);
    let s = SyncConfig::default().frame_size;
    let frames: Vec<Vec<u8>> = (0..seq.sync_num_frames()).map(|k| (0..s * s * 3).map(|i| ((i * 7 + k * 13) % 251) as u8).collect()).collect();
    let rgb: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    values(model.clip_tokens(frame_input(&rgb, s, device), &seq))
}

fn read_result(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn tiny_run_writes_its_files_reloads_identically_and_repeats() {
    let bank = load_bank(&default_dir()).expect("foley-sim sound bank (scripts/setup.sh builds it)");
    let device = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, b_dir, h_dir) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("half"));

    let options = tiny(Objective::Both, false);
    let (result, model) = run(&options, &bank, &a_dir, "tiny", &[], &mut |_| {}).unwrap();
    let files = RunFiles::in_dir(&a_dir);
    for path in [&files.model, &files.curve_csv, &files.curve_png, &files.result, &a_dir.join("sync.json")] {
        assert!(path.is_file(), "{} missing", path.display());
    }
    let leftovers: Vec<PathBuf> =
        std::fs::read_dir(&a_dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.file_name().unwrap().to_string_lossy().contains("tmp")).collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // result.json: what was run and the held-out evaluation.
    let json = read_result(&files.result);
    assert_eq!(json["objective"], "both");
    assert_eq!(json["steps"], 3);
    assert_eq!(json["offset"]["clips"], 1);
    assert_eq!(json["max_shift_seconds"], 1.0);
    assert!(json["vama_scored"].is_object());
    assert_eq!(result.offset.clips, 1);

    // curve.csv: one row per step with both losses; curve.png: a 1000x420 PNG.
    let curve = Curve::read_csv("tiny", &files.curve_csv).unwrap();
    assert_eq!(curve.contrastive.iter().map(|p| p.0).collect::<Vec<_>>(), vec![0.0, 1.0, 2.0]);
    assert_eq!(curve.vama.len(), 3);
    assert!((curve.contrastive[2].1 - result.final_contrastive.unwrap()).abs() <= 5e-6);
    let png = std::fs::read(&files.curve_png).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!((u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap())), (1000, 420));

    // The checkpoint reloads to the trained model's exact embeddings.
    let (loaded, config) = SyncModel::load(&files.model, &device).unwrap();
    assert_eq!(config, SyncConfig::default());
    let trained = tokens(&model, &device);
    assert_eq!(trained, tokens(&loaded, &device));

    // --init: a run that starts from run a's weights starts where a ended (its evaluation
    // before training is a's final one); a missing file is named.
    let mut from_a = tiny(Objective::Contrastive, false);
    from_a.init = Some(files.model.clone());
    let (init_result, _) = run(&from_a, &bank, &dir.path().join("init"), "init", &[], &mut |_| {}).unwrap();
    assert_eq!(serde_json::to_value(&init_result.untrained).unwrap(), serde_json::to_value(&result.offset).unwrap());
    assert_eq!(read_result(&dir.path().join("init/result.json"))["init"], files.model.display().to_string());
    from_a.init = Some(dir.path().join("nowhere.safetensors"));
    let err = run(&from_a, &bank, &dir.path().join("init2"), "init", &[], &mut |_| {}).unwrap_err();
    assert!(format!("{err:#}").contains("nowhere.safetensors"), "{err:#}");
    assert!(!dir.path().join("init2").exists(), "refused before anything is written");

    // Same options and seed: the same losses and the same weights.
    let (_, again) = run(&options, &bank, &b_dir, "tiny", &[curve.clone()], &mut |_| {}).unwrap();
    let again_curve = Curve::read_csv("tiny", &b_dir.join("curve.csv")).unwrap();
    assert_eq!((&again_curve.contrastive, &again_curve.vama), (&curve.contrastive, &curve.vama));
    assert_eq!(tokens(&again, &device), trained);

    // f16 storage: half the bytes, embeddings within f16 rounding.
    run(&tiny(Objective::Both, true), &bank, &h_dir, "half", &[], &mut |_| {}).unwrap();
    let half_path = h_dir.join("sync.safetensors");
    let full_size = std::fs::metadata(&files.model).unwrap().len();
    assert!(std::fs::metadata(&half_path).unwrap().len() < full_size * 6 / 10);
    let (half, _) = SyncModel::load(&half_path, &device).unwrap();
    let half_tokens = tokens(&half, &device);
    let scale = trained.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = trained.iter().zip(&half_tokens).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(err > 0.0 && err < 2e-3 * scale, "f16 error {err} (scale {scale})");
}

#[test]
fn bad_options_are_refused_with_the_flag_named() {
    let config = SyncConfig::default();
    let check = |edit: &dyn Fn(&mut RecipeOptions), flag: &str| {
        let mut options = RecipeOptions::default();
        edit(&mut options);
        let err = options.validate(&config).expect_err(flag).to_string();
        assert!(err.contains(flag), "`{err}` does not name {flag}");
    };
    check(&|o: &mut RecipeOptions| o.train.steps = 0, "--steps");
    check(&|o: &mut RecipeOptions| o.train_clips = 0, "--train-clips");
    check(&|o: &mut RecipeOptions| o.test_clips = 0, "--test-clips");
    check(&|o: &mut RecipeOptions| o.train.mask_ratio = 1.0, "--mask-ratio");
    check(&|o: &mut RecipeOptions| o.train.mask_ratio = 0.0, "--mask-ratio");
    check(&|o: &mut RecipeOptions| o.train.mask_ratio = f64::NAN, "--mask-ratio");
    check(&|o: &mut RecipeOptions| o.train.windows_per_clip = 86, "--windows-per-clip");
    check(&|o: &mut RecipeOptions| (o.train.clips_per_batch, o.train.windows_per_clip) = (1, 1), "--clips-per-batch");
    check(&|o: &mut RecipeOptions| o.test_clips = 60_000, "test split");
    // One window per batch is fine without InfoNCE, and the recipe's defaults are valid.
    let mut vama = RecipeOptions::default();
    (vama.train.objective, vama.train.clips_per_batch, vama.train.windows_per_clip) = (Objective::Vama, 1, 1);
    vama.validate(&config).unwrap();
    RecipeOptions::default().validate(&config).unwrap();
}

#[test]
fn a_file_as_output_folder_is_an_error_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taken");
    std::fs::write(&file, b"x").unwrap();
    let bank = foley_sim::bank::Bank::from_recordings(16_000, Vec::new());
    let err = run(&tiny(Objective::Contrastive, false), &bank, &file, "x", &[], &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("not a directory"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    assert!(Curve::read_csv("x", &file).unwrap_err().to_string().contains("not a sync training curve"));
}

#[test]
fn missing_sync_model_is_named() {
    let err = resolve_model_path(Some(Path::new("/nonexistent/sync.safetensors"))).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/sync.safetensors"), "{err}");
    let err = SyncModel::load(Path::new("/nonexistent/sync.safetensors"), &Device::flex()).err().unwrap().to_string();
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn shipped_model_finds_offsets_on_held_out_scenes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/sync/sync.safetensors");
    let device = Device::flex();
    let (model, config) = SyncModel::load(&path, &device).unwrap();
    assert_eq!(config, SyncConfig::default());
    let bank = load_bank(&default_dir()).expect("foley-sim sound bank (scripts/setup.sh builds it)");
    let start = Split::Test.seeds().start;
    let clips = sim_clips(start..start + 32, 4.0, config.frame_size, &bank).unwrap();
    let eval = offset_eval(&model, &clips, &config, 25, &device);
    eprintln!("shipped sync model on 32 test scenes: {eval:?}");
    // Measured when shipped: 11/32, 0.2925 s. Chance is 1/51 and ~0.5 s; an untrained model
    // scores 0-1/32 and 0.5-0.8 s.
    assert_eq!(eval.clips, 32);
    assert!(eval.accuracy >= 9.0 / 32.0 && eval.mean_abs_offset < 0.35, "{eval:?}");
}
