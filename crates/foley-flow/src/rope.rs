//! Interleaved rotary position embedding (MMAudio's `rotary_embeddings.py`, after FLUX).
//!
//! Channel pairs `(2i, 2i+1)` of every head rotate by `pos * f_i`, `f_i = scale / 10000^(2i/d)`.
//! The audio latents use `scale = 1`; the CLIP frames `scale = latent_len / clip_len`, which
//! puts both streams on one time axis.

use burn::tensor::{DType, Device, Tensor, TensorData};

use crate::kernels::attention::RopeAngles;

/// Rotation tables for one sequence, built once per sequence length and kept in f32.
#[derive(Debug, Clone)]
pub struct Rope {
    /// `(1, N, 1, d)`: `cos(pos f_i)` repeated for both channels of a pair.
    cos: Tensor<4>,
    /// `(1, N, 1, d)`: `(-sin, +sin)` per pair, multiplying the pair-swapped input.
    sin: Tensor<4>,
    /// The same angles as plain `[N, d / 2]` tables, for the CPU kernel.
    pub angles: RopeAngles,
}

impl Rope {
    pub fn new(len: usize, head_dim: usize, freq_scaling: f64, device: &Device) -> Self {
        let theta = 10000f64;
        // f32 arithmetic in the order MMAudio uses, so positions far along match to the ulp.
        let freqs: Vec<f32> = (0..head_dim)
            .step_by(2)
            .map(|i| {
                let e = i as f32 / head_dim as f32;
                (1.0 / theta.powf(e as f64) as f32) * freq_scaling as f32
            })
            .collect();
        let mut angles = RopeAngles { cos: Vec::with_capacity(len * head_dim / 2), sin: Vec::with_capacity(len * head_dim / 2) };
        for pos in 0..len {
            for &f in &freqs {
                let a = (pos as f32 * f) as f64;
                angles.cos.push(a.cos() as f32);
                angles.sin.push(a.sin() as f32);
            }
        }
        let cos = angles.cos.iter().flat_map(|&c| [c, c]).collect();
        let sin = angles.sin.iter().flat_map(|&s| [-s, s]).collect();
        let shape = [1, len, 1, head_dim];
        Self { cos: Tensor::from_data(TensorData::new(cos, shape), device), sin: Tensor::from_data(TensorData::new(sin, shape), device), angles }
    }

    /// Rotate `x: (B, N, H, d)`: `out_2i = x_2i cos - x_2i+1 sin`, `out_2i+1 = x_2i sin + x_2i+1 cos`.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let dtype = x.dtype();
        if dtype != DType::F32 {
            return self.apply(x.cast(DType::F32)).cast(dtype);
        }
        let [b, n, h, d] = x.dims();
        let swapped = x.clone().reshape([b, n, h, d / 2, 2]).flip([4]).reshape([b, n, h, d]);
        x * self.cos.clone() + swapped * self.sin.clone()
    }
}
