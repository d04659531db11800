//! MMAudio's mel converters against the golden tensors made with the official code.

use std::path::PathBuf;

use foley_dsp::{GriffinLim, Mel, MelSpectrogram, mel_filterbank};
use foley_seq::MelConfig;
use safetensors::SafeTensors;

fn golden(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/mel").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn tensor(st: &SafeTensors, name: &str) -> (Vec<usize>, Vec<f32>) {
    let view = st.tensor(name).unwrap();
    let data = view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    (view.shape().to_vec(), data)
}

fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let max_b = b.iter().fold(0f32, |m, x| m.max(x.abs()));
    let max_diff = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    max_diff / (max_b + 1e-6)
}

fn check(file: &str, cfg: MelConfig) {
    let bytes = golden(file);
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, waveform) = tensor(&st, "waveform");
    let (mel_shape, mel_ref) = tensor(&st, "mel");
    let (_, basis_ref) = tensor(&st, "mel_basis");

    let basis = mel_filterbank(&cfg);
    assert!(rel_err(&basis, &basis_ref) <= 1e-5, "{file}: filterbank err {}", rel_err(&basis, &basis_ref));

    let mel = MelSpectrogram::new(cfg).compute(&waveform);
    assert_eq!([1, mel.n_mels, mel.n_frames], mel_shape[..]);
    let err = rel_err(&mel.data, &mel_ref);
    assert!(err <= 1e-4, "{file}: mel max|a-b|/max|b| = {err}");
}

#[test]
fn mel_16k_matches_mmaudio() {
    check("mel_16k.safetensors", MelConfig::MMAUDIO_16K);
}

#[test]
fn mel_44k_matches_mmaudio() {
    check("mel_44k.safetensors", MelConfig::MMAUDIO_44K);
}

#[test]
fn griffin_lim_converges_on_the_golden_waveform() {
    let bytes = golden("mel_16k.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, waveform) = tensor(&st, "waveform");
    let converter = MelSpectrogram::new(MelConfig::MMAUDIO_16K);
    let mel = converter.compute(&waveform);

    let few = GriffinLim { iterations: 4, ..Default::default() };
    let many = GriffinLim { iterations: 64, ..Default::default() };
    let (_, early) = few.invert(&converter, &mel).unwrap();
    let (audio, late) = many.invert(&converter, &mel).unwrap();
    assert_eq!(audio.len(), mel.n_frames * 256);
    // More iterations must reduce the spectral inconsistency substantially.
    assert!(late.spectral_convergence < 0.75 * early.spectral_convergence, "{early:?} -> {late:?}");

    // The reconstruction's own mel must be close to the input mel (log10 domain).
    let again = converter.compute(&audio);
    let n = mel.n_frames.min(again.n_frames);
    let mean_abs: f32 = (0..mel.n_mels).flat_map(|m| (2..n - 2).map(move |t| (m, t))).map(|(m, t)| (mel.at(m, t) - again.at(m, t)).abs()).sum::<f32>()
        / (mel.n_mels * (n - 4)) as f32;
    assert!(mean_abs < 0.15, "mean |log10 mel error| {mean_abs}");
    assert!(Mel::new(80, 0, vec![]).is_err());
}
