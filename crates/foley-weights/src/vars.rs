//! [`Vars`]: hands tensors to module constructors by dotted key, from a state dict or freshly
//! initialized (candle's `VarBuilder` pattern).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use burn::tensor::{DType, Device, Tensor, TensorData};

use crate::noise::SplitMix64;
use crate::state_dict::StateDict;

/// How a parameter the file does not hold is created (random builds, and SALSA-V parameters
/// added to an MMAudio checkpoint).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Uniform in `±1/sqrt(fan_in)` (PyTorch's default for linear and conv layers).
    FanIn,
    /// All zeros: output layers of new branches, so they start as the identity.
    Zeros,
    /// All ones (norm gains, latent std).
    Ones,
    /// Xavier (Glorot) uniform, `±sqrt(6 / (fan_in + fan_out))`.
    Xavier,
    /// Normal with this standard deviation.
    Normal(f32),
}

/// A model's own initialization rule: the [`Init`] of a key given its shape, the constructor's
/// declared init and the keys handed out so far (see `foley_flow::weights::training_init`).
pub type InitRule = fn(&str, &[usize], Init, &BTreeMap<String, Vec<usize>>) -> Init;

enum Source {
    File(StateDict),
    Random(SplitMix64),
    /// A model's training initialization (see [`InitRule`]).
    Training(SplitMix64, InitRule),
}

struct Shared {
    source: Source,
    /// Fill keys missing from the file with their [`Init`] (only for `new` parameters).
    init_new: bool,
    rng: SplitMix64,
    used: BTreeMap<String, Vec<usize>>,
}

/// Hands tensors to module constructors by dotted key (candle's `VarBuilder` pattern).
#[derive(Clone)]
pub struct Vars {
    shared: Rc<RefCell<Shared>>,
    prefix: String,
    device: Device,
    dtype: DType,
}

impl Vars {
    /// Tensors from a state dict that has already been checked against the expected keys.
    pub fn from_state_dict(dict: StateDict, init_new: bool, device: &Device) -> Self {
        Self::new(Source::File(dict), init_new, device)
    }

    /// Random tensors (benchmarks, tests): every parameter draws from its [`Init`], except that
    /// zero-initialised branches are also random so that every path carries signal.
    pub fn random(seed: u64, device: &Device) -> Self {
        Self::new(Source::Random(SplitMix64::new(seed)), true, device)
    }

    /// A training initialization (deterministic in `seed`): every key's [`Init`] from `rule`.
    pub fn training(seed: u64, rule: InitRule, device: &Device) -> Self {
        Self::new(Source::Training(SplitMix64::new(seed), rule), true, device)
    }

    fn new(source: Source, init_new: bool, device: &Device) -> Self {
        let shared = Shared { source, init_new, rng: SplitMix64::new(0x5eed), used: BTreeMap::new() };
        Self { shared: Rc::new(RefCell::new(shared)), prefix: String::new(), device: device.clone(), dtype: DType::F32 }
    }

    /// Hand out tensors in `dtype` (each is converted as it is created, so a bf16 network never
    /// holds an f32 copy of its weights).
    pub fn with_dtype(mut self, dtype: DType) -> Self {
        self.dtype = dtype;
        self
    }

    /// Descend into a sub-module.
    pub fn pp(&self, name: impl fmt::Display) -> Self {
        let prefix = if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) };
        Self { prefix, ..self.clone() }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_string() } else { format!("{}.{name}", self.prefix) }
    }

    /// A parameter of MMAudio's state dict.
    pub fn get<const D: usize>(&self, name: &str, shape: [usize; D], init: Init) -> Tensor<D> {
        self.fetch(name, shape, init, false)
    }

    /// A SALSA-V parameter: taken from the file when present, otherwise created with `init`.
    pub fn get_new<const D: usize>(&self, name: &str, shape: [usize; D], init: Init) -> Tensor<D> {
        self.fetch(name, shape, init, true)
    }

    /// [`get`](Self::get) or, with `new`, [`get_new`](Self::get_new).
    pub fn fetch<const D: usize>(&self, name: &str, shape: [usize; D], init: Init, new: bool) -> Tensor<D> {
        let key = self.key(name);
        let mut guard = self.shared.borrow_mut();
        let shared = &mut *guard;
        shared.used.insert(key.clone(), shape.to_vec());
        let n: usize = shape.iter().product();
        let data = match &mut shared.source {
            Source::File(dict) => match dict.take(&key) {
                Some(raw) => {
                    assert_eq!(raw.shape, shape, "{key}: shape was checked before building");
                    raw.data
                }
                None => {
                    assert!(new && shared.init_new, "{key}: keys were checked before building");
                    let rng = &mut shared.rng;
                    fill(init, &shape, n, rng)
                }
            },
            Source::Random(rng) => {
                let init = if init == Init::Zeros { Init::FanIn } else { init };
                fill(init, &shape, n, rng)
            }
            Source::Training(rng, rule) => {
                let init = rule(&key, &shape, init, &shared.used);
                fill(init, &shape, n, rng)
            }
        };
        let t = Tensor::from_data(TensorData::new(data, shape), &self.device);
        if self.dtype == DType::F32 { t } else { t.cast(self.dtype) }
    }

    /// Keys handed out so far, with their shapes.
    pub fn used(&self) -> BTreeMap<String, Vec<usize>> {
        self.shared.borrow().used.clone()
    }
}

/// A row-major copy of a (possibly strided) tensor, so that weights transposed or reordered at
/// load time are not re-laid-out by every matmul that reads them.
pub fn contiguous<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    let (device, dtype) = (t.device(), t.dtype());
    Tensor::<D>::from_data(t.into_data(), &device).cast(dtype)
}

fn fill(init: Init, shape: &[usize], n: usize, rng: &mut SplitMix64) -> Vec<f32> {
    match init {
        Init::Zeros => vec![0.0; n],
        Init::Ones => vec![1.0; n],
        Init::FanIn => {
            let fan_in: usize = if shape.len() > 1 { shape[1..].iter().product() } else { shape[0] };
            let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
            (0..n).map(|_| (2.0 * rng.next_f32() - 1.0) * bound).collect()
        }
        Init::Xavier => {
            let bound = (6.0 / (shape[0] + shape[1..].iter().product::<usize>()) as f32).sqrt();
            (0..n).map(|_| (2.0 * rng.next_f32() - 1.0) * bound).collect()
        }
        Init::Normal(std) => crate::noise::standard_normal(rng.next_u64(), n).into_iter().map(|v| v * std).collect(),
    }
}
