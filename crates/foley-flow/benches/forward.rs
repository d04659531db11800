//! `cargo bench -p foley-flow [-- CONFIG DURATION BATCH f32|bf16 REPS SAMPLE_STEPS]`:
//! forward time and peak memory of a released configuration with random weights
//! (the numbers of BENCHMARKS.md; `foley flow bench` prints the same row).

use foley_flow::bench::{BenchSpec, run};
use foley_flow::{DType, Device, FlowConfig};
use foley_seq::SequenceConfig;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let name = arg(0, "small_16k");
    let duration: f64 = arg(1, "8").parse().expect("duration");
    let seq = if name.ends_with("16k") { SequenceConfig::mmaudio_16k(duration) } else { SequenceConfig::mmaudio_44k(duration) };
    let spec = BenchSpec {
        config: FlowConfig::released(&name).expect("config").with_sequence(&seq),
        batch: arg(2, "1").parse().expect("batch"),
        dtype: if arg(3, "f32") == "bf16" { DType::BF16 } else { DType::F32 },
        reps: arg(4, "3").parse().expect("reps"),
        sample_steps: arg(5, "0").parse().expect("steps"),
    };
    let r = run(&spec, &Device::flex(), &mut |what| eprintln!("{what}")).expect("bench");
    println!(
        "{name} {duration}s batch {} {:?}: {:.1}M params, forward median {:.3} s (min {:.3}), predict_flow median {:.3} s (min {:.3}), sampling {:?} s, peak RSS {:?} MiB",
        spec.batch,
        spec.dtype,
        r.params as f64 / 1e6,
        r.forward_s.0,
        r.forward_s.1,
        r.predict_flow_s.0,
        r.predict_flow_s.1,
        r.sample_s,
        r.peak_rss_mib.map(|m| m.round())
    );
}
