//! Data-parallel training over MPI: `mpirun -n 2 foley train gen` (2 local ranks, each computing
//! half of every batch, the second run resumed from rank 0's checkpoint) follows the loss curve
//! of one process at the same batch size and exports the same weights.
//!
//! The ignored `throughput` test times the shipped generator's size both ways (BENCHMARKS.md):
//! `cargo test --release -p foley --test train_mpi -- --ignored --nocapture`.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

use foley_gen::config::{mel_frames_per_token, token_channels};
use foley_seq::SequenceConfig;
use safetensors::{Dtype, tensor::TensorView};

const SYNC_DIM: usize = 8;
const CLIPS: usize = 8;

/// What a test run trains: window, model and recipe sizes.
struct Run {
    seconds: f64,
    hidden_dim: usize,
    depth: usize,
    fused_depth: usize,
    batch_size: usize,
    steps: usize,
}

const TINY: Run = Run { seconds: 2.0, hidden_dim: 32, depth: 2, fused_depth: 1, batch_size: 4, steps: 6 };

/// Deterministic values in [-1, 1) (the loop, not the data, is under test).
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// A `foley extract`-style shard of `CLIPS` clips of `seconds` with random features and smooth
/// log-mels (half of them captioned).
fn write_shard(dir: &Path, seconds: f64) {
    let seq = SequenceConfig::mmaudio_16k(seconds);
    let n_mels = seq.mel.n_mels;
    let frames = seq.latent_seq_len() * mel_frames_per_token(&seq);
    assert_eq!(token_channels(&seq), n_mels * mel_frames_per_token(&seq));
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut records = Vec::new();
    for j in 0..CLIPS {
        let bytes = |v: Vec<f32>| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let mel: Vec<f32> = (0..n_mels * frames).map(|k| ((k / frames) as f32 * 0.2 + j as f32).sin() * 2.0 - 5.0).collect();
        tensors.push((format!("{j}.semantic"), vec![seq.clip_seq_len(), 1280], bytes(values(10 + j as u64, seq.clip_seq_len() * 1280))));
        tensors.push((format!("{j}.sync"), vec![seq.sync_seq_len(), SYNC_DIM], bytes(values(20 + j as u64, seq.sync_seq_len() * SYNC_DIM))));
        tensors.push((format!("{j}.mel"), vec![n_mels, frames], bytes(mel)));
        if j % 2 == 0 {
            tensors.push((format!("{j}.text_tokens"), vec![3, 384], bytes(values(30 + j as u64, 3 * 384))));
        }
        records.push(serde_json::json!({
            "id": format!("clip{j}"), "video": format!("clip{j}.mp4"), "text": null,
            "duration": seconds, "semantic_frames": seq.clip_seq_len(), "has_audio": true,
        }));
    }
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(name, shape, data)| (name.clone(), TensorView::new(Dtype::F32, shape.clone(), data).unwrap())).collect();
    let metadata = HashMap::from([("items".to_string(), serde_json::to_string(&records).unwrap())]);
    std::fs::create_dir_all(dir).unwrap();
    safetensors::serialize_to_file(views, Some(metadata), &dir.join("shard-000.safetensors")).unwrap();
}

fn write_config(run: &Path, shards: &Path, r: &Run) -> std::path::PathBuf {
    std::fs::create_dir_all(run).unwrap();
    let toml = format!(
        r#"out_dir = "{out}"
[data]
shards = ["{shards}"]
duration = {seconds}
text = "caption"
text_seq_len = 4
positional_channels = 4
concat_prob = 0.5
[model]
hidden_dim = {hidden}
depth = {depth}
fused_depth = {fused}
num_heads = 2
mlp_ratio = 2.0
[train]
steps = {steps}
batch_size = {batch}
learning_rate = 3e-3
warmup_steps = 2
weight_decay = 0.01
grad_clip = 1.0
adam_beta2 = 0.99
bootstrap_ema = true
ema_decay = 0.9
seed = 3
checkpoint_every = 2
shortcut_fraction = 0.5
shortcut_levels = 3
video_dropout = 0.1
text_dropout = 0.1
mask = {{ none = 0.25, spans = 0.25, prefix = 0.25, suffix = 0.25 }}
"#,
        out = run.join("out").display(),
        shards = shards.display(),
        seconds = r.seconds,
        hidden = r.hidden_dim,
        depth = r.depth,
        fused = r.fused_depth,
        steps = r.steps,
        batch = r.batch_size,
    );
    let path = run.join("run.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn foley_train(config: &Path, extra: &[&str]) -> Output {
    foley_train_on(config, extra, None)
}

/// One process on `threads` threads (all cores: `None`).
fn foley_train_on(config: &Path, extra: &[&str], threads: Option<usize>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_foley"));
    if let Some(n) = threads {
        cmd.env("RAYON_NUM_THREADS", n.to_string());
    }
    cmd.args(["train", "gen"]).arg(config).args(["--f32"]).args(extra).output().unwrap()
}

/// `mpirun -n 2 foley train gen CONFIG`, on this machine.
fn mpirun_train(config: &Path, extra: &[&str]) -> Output {
    Command::new("mpirun")
        .args(["-n", "2", "--oversubscribe", "--bind-to", "none"])
        // Tests run as root in CI containers; Open MPI refuses root without both variables.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .arg(env!("CARGO_BIN_EXE_foley"))
        .args(["train", "gen"])
        .arg(config)
        .args(["--f32"])
        .args(extra)
        .output()
        .expect("mpirun (Debian's openmpi-bin; scripts/setup.sh installs it)")
}

fn losses(run: &Path) -> Vec<f64> {
    let csv = std::fs::read_to_string(run.join("out/loss.csv")).unwrap();
    csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect()
}

fn exported(run: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(run.join("out/gen.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let v = st.tensor(&n).unwrap().data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            (n, v)
        })
        .collect()
}

fn ok(run: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    assert!(run.status.success(), "{what} failed\nstdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&run.stderr));
    stdout
}

#[test]
fn two_mpi_ranks_follow_the_one_process_run() {
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    write_shard(&shards, TINY.seconds);
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));

    ok(&foley_train(&write_config(&one, &shards, &TINY), &[]), "one process");
    let config = write_config(&two, &shards, &TINY);
    let first = ok(&mpirun_train(&config, &["--stop-at", "3"]), "2 ranks, steps 1-3");
    assert!(first.contains("on 2 ranks (2 examples each per step)"), "{first}");
    assert_eq!(first.matches("parameters").count(), 1, "only rank 0 reports: {first}");
    let ckpts: Vec<String> = std::fs::read_dir(two.join("out/checkpoints")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(ckpts.iter().all(|n| !n.starts_with(".tmp")), "{ckpts:?}");
    ok(&mpirun_train(&config, &[]), "2 ranks, resumed, steps 4-6");

    let (a, b) = (losses(&one), losses(&two));
    assert_eq!(a.len(), 6);
    assert_eq!(b.len(), 6);
    for (step, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= 1e-4 * x.abs().max(1.0), "step {}: loss {x} on one process, {y} on 2 ranks", step + 1);
    }
    assert!(a.windows(2).any(|w| w[0] != w[1]), "the loss moves: {a:?}");

    let (wa, wb) = (exported(&one), exported(&two));
    assert_eq!(wa.iter().map(|(n, _)| n).collect::<Vec<_>>(), wb.iter().map(|(n, _)| n).collect::<Vec<_>>());
    let worst = wa.iter().zip(&wb).flat_map(|((_, x), (_, y))| x.iter().zip(y).map(|(p, q)| (p - q).abs())).fold(0f32, f32::max);
    eprintln!("loss on one process {a:?}\non 2 ranks {b:?}\nexported weights differ by up to {worst}");
    assert!(worst < 1e-4, "exported weights differ by up to {worst}");
}

/// Seconds per step of a finished run (the trainer's own clock, start-up excluded).
fn seconds_per_step(run: &Path) -> f64 {
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("out/gen.json")).unwrap()).unwrap();
    let t = &meta["training"];
    t["wall_seconds"].as_f64().unwrap() / t["steps"].as_f64().unwrap()
}

/// The shipped generator's shape (8 s, hidden 128, depth 4 + 2 fused, batch 12): one process on
/// every core, one process on one thread, and 2 ranks of one thread each, in alternated rounds
/// (the host drifts).
#[test]
#[ignore = "a benchmark: minutes of CPU"]
fn throughput() {
    let r = Run { seconds: 8.0, hidden_dim: 128, depth: 4, fused_depth: 2, batch_size: 12, steps: 20 };
    let dir = tempfile::tempdir().unwrap();
    let shards = dir.path().join("shards");
    write_shard(&shards, r.seconds);
    for round in 0..3 {
        let run = |name: &str| dir.path().join(format!("{name}{round}"));
        let (one, single, two) = (run("one"), run("single"), run("two"));
        ok(&foley_train(&write_config(&one, &shards, &r), &[]), "one process");
        ok(&foley_train_on(&write_config(&single, &shards, &r), &[], Some(1)), "one thread");
        ok(&mpirun_train(&write_config(&two, &shards, &r), &[]), "2 ranks");
        let (a, s, b) = (seconds_per_step(&one), seconds_per_step(&single), seconds_per_step(&two));
        eprintln!("round {round}: one process {a:.3} s/step, one thread {s:.3}, 2 ranks {b:.3} (2 ranks / one process {:.2})", b / a);
    }
}
