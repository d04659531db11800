//! Reading state dicts (`.safetensors`, PyTorch `.pth` zip pickles) and handing their tensors
//! to the module constructors under MMAudio's key names.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::rc::Rc;

use burn::store::pytorch_reader::{DType as PtDType, PytorchReader};
use burn::tensor::{DType, Device, Tensor, TensorData};
use safetensors::{Dtype as StDtype, SafeTensors};

use crate::FlowError;
use crate::noise::SplitMix64;

/// One tensor of a state dict, converted to f32.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A whole state dict: key -> f32 tensor.
#[derive(Debug, Clone, Default)]
pub struct StateDict {
    pub tensors: BTreeMap<String, RawTensor>,
}

impl StateDict {
    /// Read a `.safetensors` file or a PyTorch checkpoint (`torch.save(state_dict)`, zip or
    /// legacy pickle), chosen by the file's first bytes. Float tensors of any width become f32.
    pub fn read(path: &Path) -> Result<Self, FlowError> {
        let err = |msg: String| FlowError::Read { path: path.to_path_buf(), msg };
        let mut head = [0u8; 4];
        {
            use std::io::Read;
            let mut f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
            f.read_exact(&mut head).map_err(|e| err(format!("not a weight file ({e})")))?;
        }
        // Zip archives start with "PK"; legacy pickles with the PROTO opcode 0x80.
        if head[..2] == *b"PK" || head[0] == 0x80 { Self::read_pytorch(path).map_err(err) } else { Self::read_safetensors(path).map_err(err) }
    }

    fn read_safetensors(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.iter() {
            let data = match view.dtype() {
                StDtype::F32 => le_f32(view.data()),
                StDtype::F16 => view.data().chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
                StDtype::BF16 => view.data().chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
                StDtype::F64 => view.data().chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
                other => return Err(format!("tensor `{name}` has unsupported dtype {other:?}")),
            };
            tensors.insert(name.to_string(), RawTensor { shape: view.shape().to_vec(), data });
        }
        Ok(Self { tensors })
    }

    fn read_pytorch(path: &Path) -> Result<Self, String> {
        let reader = PytorchReader::new(path).map_err(|e| format!("not a PyTorch checkpoint: {e}"))?;
        let mut tensors = BTreeMap::new();
        for (name, t) in reader.into_tensors() {
            let bytes = t.read().map_err(|e| e.to_string())?;
            // The reader hands out native-endian bytes.
            let data = match t.dtype() {
                PtDType::F32 => bytes.chunks_exact(4).map(|b| f32::from_ne_bytes(b.try_into().unwrap())).collect(),
                PtDType::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_ne_bytes([b[0], b[1]]).to_f32()).collect(),
                PtDType::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_ne_bytes([b[0], b[1]]).to_f32()).collect(),
                PtDType::F64 => bytes.chunks_exact(8).map(|b| f64::from_ne_bytes(b.try_into().unwrap()) as f32).collect(),
                other => return Err(format!("tensor `{name}` has unsupported dtype {other:?}")),
            };
            tensors.insert(name, RawTensor { shape: t.shape().to_vec(), data });
        }
        Ok(Self { tensors })
    }

    /// Key -> shape listing.
    pub fn shapes(&self) -> BTreeMap<String, Vec<usize>> {
        self.tensors.iter().map(|(k, t)| (k.clone(), t.shape.clone())).collect()
    }

    /// Remove a tensor, returning it.
    pub fn take(&mut self, key: &str) -> Option<RawTensor> {
        self.tensors.remove(key)
    }
}

fn le_f32(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

/// Everything wrong between a state dict and the keys a configuration expects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyReport {
    pub missing: Vec<(String, Vec<usize>)>,
    pub unexpected: Vec<(String, Vec<usize>)>,
    /// (key, expected shape, found shape)
    pub misshaped: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl KeyReport {
    /// Compare an expected key -> shape listing with a found one. Keys in `optional` may be
    /// absent without being reported.
    pub fn compare(expected: &BTreeMap<String, Vec<usize>>, found: &BTreeMap<String, Vec<usize>>, optional: &BTreeSet<String>) -> Self {
        let mut report = Self::default();
        for (key, shape) in expected {
            match found.get(key) {
                None if optional.contains(key) => {}
                None => report.missing.push((key.clone(), shape.clone())),
                Some(s) if s != shape => report.misshaped.push((key.clone(), shape.clone(), s.clone())),
                Some(_) => {}
            }
        }
        for (key, shape) in found {
            if !expected.contains_key(key) {
                report.unexpected.push((key.clone(), shape.clone()));
            }
        }
        report
    }

    pub fn is_ok(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.misshaped.is_empty()
    }
}

impl fmt::Display for KeyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} missing, {} unexpected, {} mis-shaped key(s)", self.missing.len(), self.unexpected.len(), self.misshaped.len())?;
        for (k, s) in &self.missing {
            writeln!(f, "  missing     {k} {s:?}")?;
        }
        for (k, s) in &self.unexpected {
            writeln!(f, "  unexpected  {k} {s:?}")?;
        }
        for (k, e, s) in &self.misshaped {
            writeln!(f, "  mis-shaped  {k}: expected {e:?}, found {s:?}")?;
        }
        Ok(())
    }
}

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

/// MMAudio's `initialize_weights`, by key: every `nn.Linear` (a 2-D `weight`) Xavier-uniform
/// with a zero bias; the timestep embedder's two linears normal(0.02); the adaLN modulation of
/// every block and of the final layer and the final convolution zero ("adaLN-zero": each block
/// starts as the identity and the network predicts zero flow); `sync_pos_emb` and the empty
/// clip / sync features zero. Convolutions keep PyTorch's default (`declared`, fan-in uniform);
/// parameters declared zero (SALSA-V branches) stay zero. `used` holds the keys handed out so
/// far, which tells a linear's bias (its `weight` was 2-D) from a convolution's.
pub fn training_init(key: &str, shape: &[usize], declared: Init, used: &BTreeMap<String, Vec<usize>>) -> Init {
    let (module, name) = key.rsplit_once('.').unwrap_or(("", key));
    let zero_modules = module.ends_with("adaLN_modulation.1") || module == "final_layer.conv";
    let zero_keys = ["sync_pos_emb", "empty_clip_feat", "empty_sync_feat", "latent_mean", "empty_string_feat"];
    if declared == Init::Zeros || zero_modules || zero_keys.contains(&key) {
        return Init::Zeros;
    }
    let is_linear = used.get(&format!("{module}.weight")).is_some_and(|s| s.len() == 2);
    match name {
        "weight" if shape.len() == 2 && (module.ends_with("t_embed.mlp.0") || module.ends_with("t_embed.mlp.2") || module.ends_with("d_embed.mlp.0")) => {
            Init::Normal(0.02)
        }
        "weight" if shape.len() == 2 => Init::Xavier,
        "bias" if is_linear => Init::Zeros,
        _ => declared,
    }
}

enum Source {
    File(StateDict),
    Random(SplitMix64),
    /// MMAudio's `initialize_weights` (see [`training_init`]).
    Training(SplitMix64),
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

    /// The initialization MMAudio trains from (deterministic in `seed`): see [`training_init`].
    pub fn training(seed: u64, device: &Device) -> Self {
        Self::new(Source::Training(SplitMix64::new(seed)), true, device)
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
            Source::Training(rng) => {
                let init = training_init(&key, &shape, init, &shared.used);
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
