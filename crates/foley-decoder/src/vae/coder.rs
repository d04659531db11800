//! `Encoder1D` and `Decoder1D` (`vae.py`) in the layout the VAE builds them with: widths
//! `hidden * (1, 2, 4)`, two residual blocks per level (three on the way up), one resampling
//! step and attention only in the middle.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::Tensor;

use foley_weights::Vars;

use super::layers::{AttnBlock, Downsample, MpConv, ResnetBlock, Upsample, mp_silu};

/// Width multiplier of each level.
const CH_MULT: [usize; 3] = [1, 2, 4];
const NUM_RES_BLOCKS: usize = 2;
/// The encoder halves the time axis after this level; the decoder doubles it after the next
/// one up (`down_layers = [0]`, shifted by one in `Decoder1D`). The VAE's `attn_layers = [3]`
/// names no level of a three-level stack, so the levels themselves have no attention.
const DOWN_LEVEL: usize = 0;
const UP_LEVEL: usize = DOWN_LEVEL + 1;
const KERNEL: usize = 3;
/// Activations are clamped to ±256 after every block.
const CLIP_ACT: f32 = 256.0;

/// `mid`: residual block, attention, residual block.
#[derive(Module, Debug)]
pub struct Middle {
    pub block_1: ResnetBlock,
    pub attn_1: AttnBlock,
    pub block_2: ResnetBlock,
}

impl Middle {
    fn new(vb: &Vars, channels: usize) -> Self {
        Self {
            block_1: ResnetBlock::new(&vb.pp("block_1"), channels, channels, KERNEL),
            attn_1: AttnBlock::new(&vb.pp("attn_1"), channels),
            block_2: ResnetBlock::new(&vb.pp("block_2"), channels, channels, KERNEL),
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.block_2.forward(self.attn_1.forward(self.block_1.forward(x))).clamp(-CLIP_ACT, CLIP_ACT)
    }

    fn shapes(shapes: &mut Shapes, prefix: &str, channels: usize) {
        shapes.resnet(&format!("{prefix}.block_1"), channels, channels);
        shapes.conv(&format!("{prefix}.attn_1.qkv"), channels, 3 * channels, 1);
        shapes.conv(&format!("{prefix}.attn_1.proj_out"), channels, channels, 1);
        shapes.resnet(&format!("{prefix}.block_2"), channels, channels);
    }
}

/// One level of `down`: its residual blocks and, at the resampling level, the downsampler.
#[derive(Module, Debug)]
pub struct DownLevel {
    pub block: Vec<ResnetBlock>,
    pub downsample: Option<Downsample>,
}

/// One level of `up`: its residual blocks and, at the resampling level, the upsampler.
#[derive(Module, Debug)]
pub struct UpLevel {
    pub block: Vec<ResnetBlock>,
    pub upsample: Option<Upsample>,
}

/// A level's residual blocks, each output clamped.
fn blocks(blocks: &[ResnetBlock], mut h: Tensor<3>) -> Tensor<3> {
    for block in blocks {
        h = block.forward(h).clamp(-CLIP_ACT, CLIP_ACT);
    }
    h
}

/// The input width and output width of each residual block of a level, walking down (encoder)
/// or up (decoder) from `c_in`.
fn level_widths(c_in: usize, c_out: usize, blocks: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..blocks).map(move |i| (if i == 0 { c_in } else { c_out }, c_out))
}

/// `Encoder1D`: mel `(B, data_dim, T)` -> moments `(B, 2 * embed_dim, T / 2)`.
#[derive(Module, Debug)]
pub struct Encoder {
    pub conv_in: MpConv,
    pub down: Vec<DownLevel>,
    pub mid: Middle,
    /// Carries `learnable_gain + 1`.
    pub conv_out: MpConv,
}

impl Encoder {
    pub fn new(vb: &Vars, data_dim: usize, embed_dim: usize, hidden: usize, learnable_gain: f32) -> Self {
        let mut c_in = hidden;
        let down = CH_MULT
            .iter()
            .enumerate()
            .map(|(level, &mult)| {
                let lb = vb.pp("down").pp(level);
                let c_out = hidden * mult;
                let block =
                    level_widths(c_in, c_out, NUM_RES_BLOCKS).enumerate().map(|(i, (a, b))| ResnetBlock::new(&lb.pp("block").pp(i), a, b, KERNEL)).collect();
                c_in = c_out;
                DownLevel { block, downsample: (level == DOWN_LEVEL).then(|| Downsample::new(&lb.pp("downsample"), c_out)) }
            })
            .collect();
        Self {
            conv_in: MpConv::new(&vb.pp("conv_in"), data_dim, hidden, KERNEL),
            down,
            mid: Middle::new(&vb.pp("mid"), c_in),
            conv_out: MpConv::with_gain(&vb.pp("conv_out"), c_in, 2 * embed_dim, KERNEL, learnable_gain + 1.0),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let mut h = self.conv_in.forward(x);
        for level in &self.down {
            h = blocks(&level.block, h);
            if let Some(down) = &level.downsample {
                h = down.forward(h);
            }
        }
        self.conv_out.forward(mp_silu(self.mid.forward(h)))
    }

    pub fn shapes(shapes: &mut Shapes, data_dim: usize, embed_dim: usize, hidden: usize) {
        shapes.scalar("encoder.learnable_gain");
        shapes.conv("encoder.conv_in", data_dim, hidden, KERNEL);
        let mut c_in = hidden;
        for (level, &mult) in CH_MULT.iter().enumerate() {
            let c_out = hidden * mult;
            for (i, (a, b)) in level_widths(c_in, c_out, NUM_RES_BLOCKS).enumerate() {
                shapes.resnet(&format!("encoder.down.{level}.block.{i}"), a, b);
            }
            if level == DOWN_LEVEL {
                shapes.conv(&format!("encoder.down.{level}.downsample.conv1"), c_out, c_out, 1);
                shapes.conv(&format!("encoder.down.{level}.downsample.conv2"), c_out, c_out, 1);
            }
            c_in = c_out;
        }
        Middle::shapes(shapes, "encoder.mid", c_in);
        shapes.conv("encoder.conv_out", c_in, 2 * embed_dim, KERNEL);
    }
}

/// `Decoder1D`: latent `(B, embed_dim, T')` -> normalized mel `(B, data_dim, 2 T')`.
#[derive(Module, Debug)]
pub struct Decoder {
    pub conv_in: MpConv,
    pub mid: Middle,
    /// Indexed by level as in the checkpoint (`up.0` is the last, widest-resolution level run).
    pub up: Vec<UpLevel>,
    /// Carries `learnable_gain + 1`.
    pub conv_out: MpConv,
}

impl Decoder {
    pub fn new(vb: &Vars, data_dim: usize, embed_dim: usize, hidden: usize, learnable_gain: f32) -> Self {
        let widest = hidden * CH_MULT[CH_MULT.len() - 1];
        let mut c_in = widest;
        let mut up: Vec<_> = CH_MULT
            .iter()
            .enumerate()
            .rev()
            .map(|(level, &mult)| {
                let lb = vb.pp("up").pp(level);
                let c_out = hidden * mult;
                let block = level_widths(c_in, c_out, NUM_RES_BLOCKS + 1)
                    .enumerate()
                    .map(|(i, (a, b))| ResnetBlock::new(&lb.pp("block").pp(i), a, b, KERNEL))
                    .collect();
                c_in = c_out;
                UpLevel { block, upsample: (level == UP_LEVEL).then(|| Upsample::new(&lb.pp("upsample"), c_out)) }
            })
            .collect();
        up.reverse();
        Self {
            conv_in: MpConv::new(&vb.pp("conv_in"), embed_dim, widest, KERNEL),
            mid: Middle::new(&vb.pp("mid"), widest),
            up,
            conv_out: MpConv::with_gain(&vb.pp("conv_out"), c_in, data_dim, KERNEL, learnable_gain + 1.0),
        }
    }

    pub fn forward(&self, z: Tensor<3>) -> Tensor<3> {
        let mut h = self.mid.forward(self.conv_in.forward(z));
        for level in self.up.iter().rev() {
            h = blocks(&level.block, h);
            if let Some(up) = &level.upsample {
                h = up.forward(h);
            }
        }
        self.conv_out.forward(mp_silu(h))
    }

    pub fn shapes(shapes: &mut Shapes, data_dim: usize, embed_dim: usize, hidden: usize) {
        let widest = hidden * CH_MULT[CH_MULT.len() - 1];
        shapes.scalar("decoder.learnable_gain");
        shapes.conv("decoder.conv_in", embed_dim, widest, KERNEL);
        Middle::shapes(shapes, "decoder.mid", widest);
        let mut c_in = widest;
        for (level, &mult) in CH_MULT.iter().enumerate().rev() {
            let c_out = hidden * mult;
            for (i, (a, b)) in level_widths(c_in, c_out, NUM_RES_BLOCKS + 1).enumerate() {
                shapes.resnet(&format!("decoder.up.{level}.block.{i}"), a, b);
            }
            if level == UP_LEVEL {
                shapes.conv(&format!("decoder.up.{level}.upsample.conv"), c_out, c_out, KERNEL);
            }
            c_in = c_out;
        }
        shapes.conv("decoder.conv_out", c_in, data_dim, KERNEL);
    }
}

/// A key -> shape listing being filled in.
#[derive(Default)]
pub struct Shapes(pub BTreeMap<String, Vec<usize>>);

impl Shapes {
    pub fn insert(&mut self, key: &str, shape: Vec<usize>) {
        self.0.insert(key.to_string(), shape);
    }

    fn scalar(&mut self, key: &str) {
        self.insert(key, vec![]);
    }

    fn conv(&mut self, prefix: &str, c_in: usize, c_out: usize, kernel: usize) {
        self.insert(&format!("{prefix}.weight"), vec![c_out, c_in, kernel]);
    }

    fn resnet(&mut self, prefix: &str, c_in: usize, c_out: usize) {
        self.conv(&format!("{prefix}.conv1"), c_in, c_out, KERNEL);
        self.conv(&format!("{prefix}.conv2"), c_out, c_out, KERNEL);
        if c_in != c_out {
            self.conv(&format!("{prefix}.nin_shortcut"), c_in, c_out, 1);
        }
    }
}
