//! The numbers quoted in BENCHMARKS.md: golden mel errors and Griffin-Lim spectral convergence
//! on the golden waveform. Run with `--nocapture` to see them.

use std::path::PathBuf;

use foley_dsp::{GriffinLim, MelSpectrogram};
use foley_seq::MelConfig;
use safetensors::SafeTensors;

fn golden(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/golden/mel").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn tensor(st: &SafeTensors, name: &str) -> Vec<f32> {
    st.tensor(name).unwrap().data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

#[test]
fn golden_mel_errors_and_griffin_lim_convergence() {
    for (file, cfg) in [("mel_16k.safetensors", MelConfig::MMAUDIO_16K), ("mel_44k.safetensors", MelConfig::MMAUDIO_44K)] {
        let bytes = golden(file);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let (waveform, reference) = (tensor(&st, "waveform"), tensor(&st, "mel"));
        let mel = MelSpectrogram::new(cfg).compute(&waveform);
        let max_b = reference.iter().fold(0f32, |m, x| m.max(x.abs()));
        let max_diff = mel.data.iter().zip(&reference).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        let rel = max_diff / (max_b + 1e-6);
        println!("{file}: max|a-b| = {max_diff:.3e}, max|a-b|/max|b| = {rel:.3e}");
        assert!(rel <= 1e-4);
    }

    let bytes = golden("mel_16k.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let converter = MelSpectrogram::new(MelConfig::MMAUDIO_16K);
    let mel = converter.compute(&tensor(&st, "waveform"));
    let mut sc = Vec::new();
    for (iterations, momentum) in [(32, 0.99), (64, 0.99), (128, 0.99), (64, 0.0)] {
        let (_, report) = GriffinLim { iterations, momentum, seed: 0 }.invert(&converter, &mel).unwrap();
        println!("griffin-lim 16k golden, {iterations} iterations, momentum {momentum}: spectral convergence {:.4}", report.spectral_convergence);
        sc.push(report.spectral_convergence);
    }
    assert!(sc[0] > sc[1] && sc[1] > sc[2], "more iterations converge further: {sc:?}");
    assert!(sc[1] < sc[3], "momentum helps at 64 iterations: {sc:?}");
}
