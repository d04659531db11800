//! Samplers: Euler integration of the flow ODE from noise (t = 0) to data (t = 1), with
//! classifier-free guidance, and SALSA-V's shortcut sampler.

use burn::tensor::{Device, Tensor, TensorData};

use crate::FlowError;
use crate::conditions::Conditions;
use crate::network::{ExtraInputs, FlowNetwork};
use crate::noise::standard_normal;

/// `torch.linspace(0, 1, steps + 1)` in f32, reproduced to the bit (PyTorch fills the first
/// half as `start + step * i` and the second as `end - step * (n - 1 - i)`).
pub fn linspace_schedule(steps: usize) -> Vec<f32> {
    let n = steps + 1;
    if n == 1 {
        return vec![0.0];
    }
    let step = 1.0f32 / (n - 1) as f32;
    (0..n).map(|i| if i < n / 2 { step * i as f32 } else { 1.0 - step * (n - 1 - i) as f32 }).collect()
}

/// Seeded standard-normal starting latents `(batch, len, channels)` (see [`crate::noise`]).
pub fn initial_noise(seed: u64, shape: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(standard_normal(seed, shape.iter().product()), shape), device)
}

/// Conditional and unconditional conditions, stacked once for batched guidance.
pub struct Guided {
    cond: Conditions,
    /// `[cond; uncond]` along the batch, built only when guidance needs it.
    both: Option<Conditions>,
    /// Guidance weight `w`: `v = w * v(cond) + (1 - w) * v(uncond)`; `w <= 1` uses `v(cond)` only.
    pub cfg_strength: f32,
}

impl Guided {
    /// `uncond` comes from [`FlowNetwork::empty_conditions`] (optionally with negative text).
    pub fn new(cond: Conditions, uncond: &Conditions, cfg_strength: f32) -> Self {
        let both = (cfg_strength > 1.0).then(|| Conditions::cat(&cond, uncond));
        Self { cond, both, cfg_strength }
    }

    /// The guided velocity at `x` and time `t`. Cond and uncond run as one batch that shares
    /// the audio input projection (the latent is the same for both halves).
    pub fn velocity(&self, net: &FlowNetwork, x: Tensor<3>, t: f32, extra: &ExtraInputs) -> Result<Tensor<3>, FlowError> {
        let b = x.dims()[0];
        let Some(both) = &self.both else {
            return net.predict_flow(x, &vec![t; b], &self.cond, extra);
        };
        let io_dtype = x.dtype();
        let h = net.embed_latent(x, extra.prompt.as_ref())?;
        let step_size = extra.step_size.as_ref().map(|d| [d.as_slice(), d.as_slice()].concat());
        let v = net.predict_flow_embedded(Tensor::cat(vec![h.clone(), h], 0), &vec![t; 2 * b], both, step_size.as_deref())?;
        let [v_cond, v_uncond] = v.cast(io_dtype).chunk(2, 0).try_into().expect("two halves");
        let w = self.cfg_strength;
        Ok(v_cond.mul_scalar(w) + v_uncond.mul_scalar(1.0 - w))
    }
}

/// Euler steps over `schedule` (increasing times from 0 to 1):
/// `x <- x + (t_{i+1} - t_i) v(x, t_i)`. `progress(i, n)` is called after each step.
pub fn euler(
    net: &FlowNetwork,
    x0: Tensor<3>,
    guided: &Guided,
    schedule: &[f32],
    extra: &ExtraInputs,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Tensor<3>, FlowError> {
    let mut x = x0;
    let n = schedule.len().saturating_sub(1);
    for (i, w) in schedule.windows(2).enumerate() {
        let v = guided.velocity(net, x.clone(), w[0], extra)?;
        x = x + v.mul_scalar(w[1] - w[0]);
        progress(i + 1, n);
    }
    Ok(x)
}

/// SALSA-V shortcut sampling: `k` steps of size `d = 1/k`, each conditioned on its own step
/// size (`k = 1` is one-step generation). Needs a network with `shortcut` enabled.
pub fn shortcut(
    net: &FlowNetwork,
    x0: Tensor<3>,
    guided: &Guided,
    k: usize,
    extra: &ExtraInputs,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Tensor<3>, FlowError> {
    if net.d_embed.is_none() {
        return Err(FlowError::Input("the shortcut sampler needs a network with the shortcut extension".into()));
    }
    if k == 0 || !k.is_power_of_two() {
        return Err(FlowError::Input(format!("shortcut steps must be a power of two, got {k}")));
    }
    let b = x0.dims()[0];
    let d = 1.0 / k as f32;
    let extra = ExtraInputs { step_size: Some(vec![d; b]), prompt: extra.prompt.clone() };
    let mut x = x0;
    for i in 0..k {
        let v = guided.velocity(net, x.clone(), i as f32 * d, &extra)?;
        x = x + v.mul_scalar(d);
        progress(i + 1, k);
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_matches_torch_bits() {
        // torch.linspace(0, 1, 11).tolist() in float32
        let s = linspace_schedule(10);
        assert_eq!(s.len(), 11);
        assert_eq!(s[0], 0.0);
        assert_eq!(s[10], 1.0);
        assert_eq!(s[3], 0.1f32 * 3.0);
        assert_eq!(s[7], 1.0 - 0.1f32 * 3.0);
    }
}
