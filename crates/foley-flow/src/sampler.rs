//! Samplers: Euler integration of the flow ODE from noise (t = 0) to data (t = 1), with
//! classifier-free guidance, and SALSA-V's shortcut sampler. Known frames (long-form context,
//! inpainting) enter a masked-trained network through its mask channels ([`ExtraInputs`]'s
//! prompt); for a network without them (MMAudio's checkpoints) [`Guided::with_known`] replaces
//! them at every step ([`KnownFrames`]).

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

/// Frames whose final value is known, imposed by replacement (RePaint's idea for flow
/// matching): before every step the known frames of the state `x_t` are set to where the
/// straight path from the sampler's own noise `x0` to the known data `x1` is at time `t`,
/// `(1 - t) x0 + t x1`, so the network sees them as it saw training data; the others evolve
/// freely and are pulled into agreement by attention. At `t = 1` the known frames are exact.
#[derive(Debug, Clone)]
pub struct KnownFrames {
    /// The starting noise (the same `x0` the sampler starts from).
    pub x0: Tensor<3>,
    /// `(B, N, C)` known values (anything where the mask is 0).
    pub x1: Tensor<3>,
    /// `(B, N, 1)`: 1 where known.
    pub mask: Tensor<3>,
}

impl KnownFrames {
    /// `x` with its known frames on the path at time `t`.
    pub fn impose(&self, x: Tensor<3>, t: f32) -> Tensor<3> {
        let on_path = self.x0.clone().mul_scalar(1.0 - t) + self.x1.clone().mul_scalar(t);
        let keep = self.mask.clone().neg().add_scalar(1.0);
        x * keep + on_path * self.mask.clone()
    }
}

/// Conditional and unconditional conditions, stacked once for batched guidance.
pub struct Guided {
    cond: Conditions,
    /// `[cond; uncond]` along the batch, built only when guidance needs it.
    both: Option<Conditions>,
    /// Guidance weight `w`: `v = w * v(cond) + (1 - w) * v(uncond)`; `w <= 1` uses `v(cond)` only.
    pub cfg_strength: f32,
    /// Frames imposed by replacement at every step (networks without mask channels).
    known: Option<KnownFrames>,
}

impl Guided {
    /// `uncond` comes from [`FlowNetwork::empty_conditions`] (optionally with negative text).
    pub fn new(cond: Conditions, uncond: &Conditions, cfg_strength: f32) -> Self {
        let both = (cfg_strength > 1.0).then(|| Conditions::cat(&cond, uncond));
        Self { cond, both, cfg_strength, known: None }
    }

    /// Impose `known` frames by replacement at every step (see [`KnownFrames`]).
    pub fn with_known(mut self, known: KnownFrames) -> Self {
        self.known = Some(known);
        self
    }

    /// `x` at time `t` with the known frames imposed (identity without them).
    fn impose(&self, x: Tensor<3>, t: f32) -> Tensor<3> {
        match &self.known {
            Some(k) => k.impose(x, t),
            None => x,
        }
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
        x = guided.impose(x, w[0]);
        let v = guided.velocity(net, x.clone(), w[0], extra)?;
        x = x + v.mul_scalar(w[1] - w[0]);
        progress(i + 1, n);
    }
    Ok(guided.impose(x, schedule.last().copied().unwrap_or(1.0)))
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
        let t = i as f32 * d;
        x = guided.impose(x, t);
        let v = guided.velocity(net, x.clone(), t, &extra)?;
        x = x + v.mul_scalar(d);
        progress(i + 1, k);
    }
    Ok(guided.impose(x, 1.0))
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
