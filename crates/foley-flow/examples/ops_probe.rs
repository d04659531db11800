// Temporary dev probe: time the primitive ops of one small_16k block.
use std::time::Instant;
use burn::tensor::{Device, Tensor, Distribution, module::attention, ops::AttentionModuleOptions, activation::silu};

fn t<F: FnMut() -> Tensor<3>>(name: &str, flops: f64, mut f: F) {
    let _ = f().into_data();
    let n = 10;
    let start = Instant::now();
    for _ in 0..n { let _ = f().into_data(); }
    let s = start.elapsed().as_secs_f64() / n as f64;
    println!("{name:40} {:8.3} ms  {:6.1} GFLOP/s", s * 1e3, flops / s / 1e9);
}

fn main() {
    let d = Device::flex();
    let r3 = |a, b, c| Tensor::<3>::random([a, b, c], Distribution::Normal(0.0, 1.0), &d);
    let r2 = |a, b| Tensor::<2>::random([a, b], Distribution::Normal(0.0, 0.05), &d);
    let x = r3(1, 250, 448);
    let h = r3(1, 250, 2560);
    let w_qkv = r2(448, 1344);
    let w_ada = r2(448, 2688);
    let w13 = r2(3 * 448, 2560);
    let w2 = r2(3 * 1280, 448);
    t("matmul 250x448x1344", 2.0*250.*448.*1344., || x.clone().reshape([250, 448]).matmul(w_qkv.clone()).reshape([1,250,1344]));
    t("matmul 250x448x2688 (adaLN ext)", 2.0*250.*448.*2688., || x.clone().reshape([250, 448]).matmul(w_ada.clone()).reshape([1,250,2688]));
    let xc = r2(250, 1344);
    t("matmul 250x1344x2560 (w13 k3)", 2.0*250.*1344.*2560., || xc.clone().matmul(w13.clone()).reshape([1,250,2560]));
    let hc = r2(250, 3840);
    t("matmul 250x3840x448 (w2 k3)", 2.0*250.*3840.*448., || hc.clone().matmul(w2.clone()).reshape([1,250,448]));
    let big = r2(500, 3840);
    t("matmul 500x3840x448 (w2 k3, B=2)", 2.0*500.*3840.*448., || big.clone().matmul(w2.clone()).reshape([1,500,448]));
    t("im2col k3 of 250x1280", 0.0, || {
        let p = h.clone().narrow(2, 0, 1280).pad([(1, 1), (0, 0)], burn::tensor::ops::PadMode::Constant(0.0));
        let w: Tensor<4> = p.unfold(1, 3, 1);
        w.swap_dims(2, 3).reshape([1, 250, 3840])
    });
    t("silu(a)*b 250x1280 from chunk", 0.0, || { let [a, b]: [Tensor<3>; 2] = h.clone().chunk(2, 2).try_into().unwrap(); silu(a) * b });
    let a = r3(1, 250, 1280);
    let b = r3(1, 250, 1280);
    t("silu(a)*b 250x1280 contiguous", 0.0, || silu(a.clone()) * b.clone());
    t("sigmoid(a)*a*b 250x1280 contiguous", 0.0, || burn::tensor::activation::sigmoid(a.clone()) * a.clone() * b.clone());
    t("a*b 250x1280 contiguous", 0.0, || a.clone() * b.clone());
    t("exp(a) 250x1280 contiguous", 0.0, || a.clone().exp());
    t("silu via tanh 250x1280 contiguous", 0.0, || a.clone() * ((a.clone() * 0.5).tanh() + 1.0) * 0.5 * b.clone());
    let hh = r3(1, 250, 1280);
    let w2u = w2.clone().unsqueeze_dim::<3>(0);
    t("conv k3 1280->448 im2col+matmul", 2.0*250.*3840.*448., || {
        let p = hh.clone().pad([(1, 1), (0, 0)], burn::tensor::ops::PadMode::Constant(0.0));
        let w: Tensor<4> = p.unfold(1, 3, 1);
        w.swap_dims(2, 3).reshape([250, 3840]).matmul(w2.clone()).reshape([1, 250, 448])
    });
    t("conv k3 1280->448 unfold view matmul", 2.0*250.*3840.*448., || {
        let p = hh.clone().pad([(1, 1), (0, 0)], burn::tensor::ops::PadMode::Constant(0.0)).reshape([1, 252 * 1280]);
        let w: Tensor<3> = p.unfold(1, 3 * 1280, 1280);
        w.matmul(w2u.clone())
    });
    let m6 = r3(1, 250, 2688);
    t("modulate with strided chunks (B,N,6D)", 0.0, || { let c: Vec<Tensor<3>> = m6.clone().chunk(6, 2); x.clone() * (c[1].clone() + 1.0) + c[0].clone() });
    let c0 = r3(1, 250, 448); let c1 = r3(1, 250, 448);
    t("modulate contiguous (B,N,D)", 0.0, || x.clone() * (c1.clone() + 1.0) + c0.clone());
    let qkv = r3(1, 250, 1344);
    t("qkv split q copy (narrow+reshape)", 0.0, || qkv.clone().reshape([1, 250, 3, 7, 64]).narrow(2, 0, 1).reshape([1, 250, 7*64]));
    let q4 = Tensor::<4>::random([1, 250, 7, 64], Distribution::Normal(0.0, 1.0), &d);
    let g = Tensor::<1>::ones([64], &d);
    t("rmsnorm burn (1,250,7,64)", 0.0, || { let rms = (q4.clone().square().mean_dim(3) + 1e-6).sqrt(); ((q4.clone() / rms) * g.clone().unsqueeze()).reshape([1, 250, 448]) });
    let cs = Tensor::<4>::random([1, 250, 1, 64], Distribution::Normal(0.0, 1.0), &d);
    t("rope flip (1,250,7,64)", 0.0, || { let sw = q4.clone().reshape([1, 250, 7, 32, 2]).flip([4]).reshape([1, 250, 7, 64]); (q4.clone() * cs.clone() + sw * cs.clone()).reshape([1, 250, 448]) });
    t("layer_norm 250x448", 0.0, || burn::tensor::module::layer_norm(x.clone(), Tensor::ones([448], &d), None, 1e-5));
    let sh = r3(1, 1, 448);
    t("modulate 250x448 (B,1,D)", 0.0, || x.clone() * (sh.clone() + 1.0) + sh.clone());
    let q = Tensor::<4>::random([1, 7, 391, 64], Distribution::Normal(0.0, 1.0), &d);
    t("attention 7x391x64", 4.0*7.*391.*391.*64., || attention(q.clone(), q.clone(), q.clone(), None, None, AttentionModuleOptions::default()).reshape([1, 7*391, 64]));
    let q2 = Tensor::<4>::random([1, 391, 7, 64], Distribution::Normal(0.0, 1.0), &d);
    t("attention swapped view 7x391x64", 4.0*7.*391.*391.*64., || attention(q2.clone().swap_dims(1,2), q2.clone().swap_dims(1,2), q2.clone().swap_dims(1,2), None, None, AttentionModuleOptions::default()).reshape([1, 7*391, 64]));
    t("manual attn matmul+softmax", 4.0*7.*391.*391.*64., || {
        let s = q.clone().matmul(q.clone().swap_dims(2, 3)) * 0.125;
        burn::tensor::activation::softmax(s, 3).matmul(q.clone()).reshape([1, 7*391, 64])
    });
}
