//! Diagnostic: how large is each conditioning path of a trained generator, and how much does
//! the video move its output? (RMS of the timestep embedding, the global conditioning MLP, the
//! projected sync and clip features and their difference between the first two test clips, and
//! the predicted flow with each clip's video at t = 0.1 / 0.5 / 0.9.) A healthy network has
//! paths of comparable size; a blown-up one shows RMS in the hundreds.
//!
//!   cargo run --release -p foley-gen --example cond_probe -- TEST_DIR MODEL
use anyhow::Result;
use burn::tensor::{Device, Tensor, TensorData};
use foley_flow::ExtraInputs;
use foley_gen::Generator;
use foley_gen::config::token_channels;
use foley_gen::data::load_clips;
use std::path::PathBuf;

fn norm<const D: usize>(t: Tensor<D>) -> f32 {
    let v: Vec<f32> = t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
    (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt()
}

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    anyhow::ensure!(args.len() == 2, "usage: cond_probe TEST_DIR MODEL");
    let device = Device::flex();
    let mut g = Generator::load(&args[1], &device)?;
    let seq = g.sequence();
    let (n, c) = (seq.latent_seq_len(), token_channels(&seq));
    g.net.update_seq_lengths(n, seq.clip_seq_len(), seq.sync_seq_len());
    let (test, _) = load_clips(&[args[0].join("shards")], &seq, g.meta.flow.text_seq_len)?;
    let t3 = |v: Vec<f32>, d: [usize; 3]| Tensor::<3>::from_data(TensorData::new(v, d), &device);
    let conds = test[..2]
        .iter()
        .map(|clip| {
            let video = foley_gen::generate::VideoFeatures {
                semantic: clip.semantic.clone(),
                sync: clip.sync.clone(),
                sync_dim: clip.sync.len() / seq.sync_seq_len(),
                envelope: None,
            };
            g.video_conditions(&video, &g.meta.empty_text, false, 1)
        })
        .collect::<Result<Vec<_>>>()?;
    let te = g.net.t_embed.forward(&[0.3], &device);
    let gm = g.net.global_cond_mlp.forward((conds[0].clip_f_c.clone() + conds[0].text_f_c.clone()).unsqueeze_dim(1));
    println!(
        "rms t_embed {:.4}  global_mlp {:.4}  sync_f {:.4}  sync_f diff {:.4}  sync_f time-var {:.4}",
        norm(te),
        norm(gm.clone()),
        norm(conds[0].sync_f(n)),
        norm(conds[0].sync_f(n) - conds[1].sync_f(n)),
        norm(conds[0].sync_f(n) - conds[0].sync_f(n).mean_dim(1))
    );
    println!(
        "clip_f {:.4} clip diff {:.4}  clip_c diff {:.4}",
        norm(conds[0].clip_f.clone()),
        norm(conds[0].clip_f.clone() - conds[1].clip_f.clone()),
        norm(conds[0].clip_f_c.clone() - conds[1].clip_f_c.clone())
    );
    let x = foley_flow::noise::standard_normal(5, n * c);
    for t in [0.1f32, 0.5, 0.9] {
        let p: Vec<Tensor<3>> = conds
            .iter()
            .map(|cd| g.net.predict_flow(t3(x.clone(), [1, n, c]), &[t], cd, &ExtraInputs { step_size: Some(vec![0.0]), prompt: None }).unwrap())
            .collect();
        println!("t {t}: rms pred {:.4}  diff own/other {:.5}", norm(p[0].clone()), norm(p[0].clone() - p[1].clone()));
    }
    Ok(())
}
