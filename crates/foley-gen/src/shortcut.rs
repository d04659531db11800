//! Shortcut self-consistency (Frans et al., used by SALSA-V): the velocity for a step of size
//! `2d` is trained towards the mean of two consecutive `d` steps of the model's own
//! (stop-gradient) predictions; `d = 0` is plain flow matching. The chain bottoms out in flow
//! matching: at the finest level the two half steps query the model with `d = 0`, never with a
//! step size that no example trains (as in Frans et al.).

use burn::tensor::Tensor;
use foley_flow::{AudioPrompt, Conditions, ExtraInputs, FlowError, FlowNetwork};

/// Target velocity for steps of size `2d` from `x_t` at times `t` (one per example):
/// `v1 = f(x_t, t, q)`, `v2 = f(x_t + d v1, t + d, q)`, target `(v1 + v2) / 2`, where `q` is the
/// step size the model is asked for (`d`, or 0 at the finest level; see [`sample_step`]).
/// `net` should be a non-autodiff copy (the target is a constant).
pub fn shortcut_target(
    net: &FlowNetwork,
    xt: Tensor<3>,
    t: &[f32],
    d: &[f32],
    query: &[f32],
    cond: &Conditions,
    prompt: Option<AudioPrompt>,
) -> Result<Tensor<3>, FlowError> {
    let extra = ExtraInputs { step_size: Some(query.to_vec()), prompt };
    let b = xt.dims()[0];
    let v1 = net.predict_flow(xt.clone(), t, cond, &extra)?;
    let dt = Tensor::<1>::from_data(burn::tensor::TensorData::new(d.to_vec(), [b]), &xt.device()).reshape([b, 1, 1]);
    let x_mid = xt + v1.clone() * dt;
    let t_mid: Vec<f32> = t.iter().zip(d).map(|(t, d)| t + d).collect();
    let v2 = net.predict_flow(x_mid, &t_mid, cond, &extra)?;
    Ok((v1 + v2).mul_scalar(0.5))
}

/// One shortcut example: learn the step `2d` from `t` by two steps of `d`, asking the model
/// for step size `query`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShortcutStep {
    pub t: f32,
    pub d: f32,
    /// `d`, except 0 (flow matching) at the finest level, whose `d` no example trains.
    pub query: f32,
}

/// Draw the shortcut step of one example: `d = 2^-level` with `level` in `1..=levels`, and a
/// start time on the grid of multiples of `2d` so that `t + 2d <= 1`.
pub fn sample_step(levels: u32, rng: &mut foley_flow::noise::SplitMix64) -> ShortcutStep {
    let level = 1 + (rng.next_u64() % levels as u64) as u32;
    let d = 0.5f32.powi(level as i32);
    let slots = (1.0 / (2.0 * d)).round() as u64;
    let t = (rng.next_u64() % slots) as f32 * 2.0 * d;
    ShortcutStep { t, d, query: if level == levels { 0.0 } else { d } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};
    use foley_flow::FlowConfig;

    fn tiny() -> FlowConfig {
        crate::test_support::tiny_flow_config(true)
    }

    fn data(v: Vec<f32>, d: [usize; 3], device: &Device) -> Tensor<3> {
        Tensor::from_data(TensorData::new(v, d), device)
    }

    #[test]
    fn target_is_the_mean_of_two_half_steps() {
        let device = Device::flex();
        let net = FlowNetwork::random(&tiny(), 4, &device).unwrap();
        let n = |seed, d: [usize; 3]| data(foley_flow::noise::standard_normal(seed, d.iter().product()), d, &device);
        let cond = net.preprocess_conditions(n(1, [2, 4, 32]), n(2, [2, 8, 16]), n(3, [2, 3, 24])).unwrap();
        let xt = n(4, [2, 16, 8]);
        // The second example is at the finest level: its half steps ask for flow matching.
        let (t, d, q) = ([0.25f32, 0.5], [0.125f32, 0.25], [0.125f32, 0.0]);
        let target = shortcut_target(&net, xt.clone(), &t, &d, &q, &cond, None).unwrap();

        // By hand, one example at a time.
        for i in 0..2 {
            let xi = xt.clone().slice([i..i + 1]);
            let ci = cond.slice(i..i + 1);
            let e = ExtraInputs { step_size: Some(vec![q[i]]), prompt: None };
            let v1 = net.predict_flow(xi.clone(), &[t[i]], &ci, &e).unwrap();
            let x2 = xi + v1.clone().mul_scalar(d[i]);
            let v2 = net.predict_flow(x2, &[t[i] + d[i]], &ci, &e).unwrap();
            let want: Vec<f32> = (v1 + v2).mul_scalar(0.5).into_data().try_to_vec::<f32>().unwrap();
            let got: Vec<f32> = target.clone().slice([i..i + 1]).into_data().try_to_vec::<f32>().unwrap();
            let err = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(err < 1e-4, "example {i}: {err}");
            // and it is not just one step of size d
            let v_single: Vec<f32> = net.predict_flow(xt.clone().slice([i..i + 1]), &[t[i]], &ci, &e).unwrap().into_data().try_to_vec::<f32>().unwrap();
            assert!(v_single.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) > 1e-3);
        }
    }

    #[test]
    fn steps_stay_on_the_grid() {
        let mut rng = foley_flow::noise::SplitMix64::new(9);
        for _ in 0..500 {
            let ShortcutStep { t, d, query } = sample_step(7, &mut rng);
            assert!((1.0 / 128.0..=0.5).contains(&d));
            assert_eq!(query, if d == 1.0 / 128.0 { 0.0 } else { d });
            assert!(t + 2.0 * d <= 1.0 + 1e-6);
            assert!(((t / (2.0 * d)) - (t / (2.0 * d)).round()).abs() < 1e-5);
        }
    }
}
