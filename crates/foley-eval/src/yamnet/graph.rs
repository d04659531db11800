//! Reading YAMNet's TF-Lite graph listing (`graph.json`) and constants
//! (`yamnet_constants.safetensors`, int8 tensors dequantized to f32, keyed by TF-Lite name).
//!
//! The operator list tells which constant feeds which layer (TF-Lite's fused tensor names are
//! not stable identifiers) and which weights are int8, i.e. run by a hybrid kernel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::YamnetError;
use super::hybrid::QuantizedWeight;

#[derive(Debug, Deserialize)]
struct TensorInfo {
    name: String,
    shape: Vec<usize>,
    dtype: String,
}

/// One TF-Lite operator: its builtin name and tensor indices (-1 = absent optional input).
#[derive(Debug, Clone, Deserialize)]
pub struct Op {
    pub op: String,
    pub inputs: Vec<i64>,
    pub outputs: Vec<i64>,
}

#[derive(Debug, Deserialize)]
struct GraphFile {
    tensors: HashMap<String, TensorInfo>,
    ops: Vec<Op>,
}

/// The graph listing plus the constant buffers it names.
pub struct Graph {
    tensors: HashMap<i64, TensorInfo>,
    pub ops: Vec<Op>,
    constants: HashMap<String, (Vec<usize>, Vec<f32>)>,
    int_constants: HashMap<String, Vec<i64>>,
    constants_path: PathBuf,
    graph_path: PathBuf,
}

impl Graph {
    pub fn load(dir: &Path) -> Result<Self, YamnetError> {
        let graph_path = dir.join("graph.json");
        let constants_path = dir.join("yamnet_constants.safetensors");
        let text = std::fs::read_to_string(&graph_path).map_err(|e| YamnetError::Io { path: graph_path.clone(), source: e })?;
        let file: GraphFile = serde_json::from_str(&text).map_err(|e| YamnetError::format(&graph_path, format!("not a graph listing: {e}")))?;
        let mut tensors = HashMap::new();
        for (k, v) in file.tensors {
            let idx = k.parse::<i64>().map_err(|_| YamnetError::format(&graph_path, format!("tensor key {k:?} is not an index")))?;
            tensors.insert(idx, v);
        }
        let bytes = std::fs::read(&constants_path).map_err(|e| YamnetError::Io { path: constants_path.clone(), source: e })?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| YamnetError::format(&constants_path, e.to_string()))?;
        let mut constants = HashMap::new();
        let mut int_constants = HashMap::new();
        for (name, view) in st.tensors() {
            let words = view.data().chunks_exact(4).map(|b| [b[0], b[1], b[2], b[3]]);
            match view.dtype() {
                safetensors::Dtype::F32 => {
                    let data = words.map(f32::from_le_bytes).collect();
                    constants.insert(name, (view.shape().to_vec(), data));
                }
                safetensors::Dtype::I32 => {
                    int_constants.insert(name, words.map(|w| i32::from_le_bytes(w) as i64).collect());
                }
                _ => {}
            }
        }
        Ok(Self { tensors, ops: file.ops, constants, int_constants, constants_path, graph_path })
    }

    fn info(&self, idx: i64) -> Result<&TensorInfo, YamnetError> {
        self.tensors.get(&idx).ok_or_else(|| YamnetError::format(&self.graph_path, format!("operator refers to unknown tensor {idx}")))
    }

    /// Shape of tensor `idx` as listed in the graph.
    pub fn shape(&self, idx: i64) -> Result<Vec<usize>, YamnetError> {
        Ok(self.info(idx)?.shape.clone())
    }

    /// Whether tensor `idx` is stored as int8 in the TF-Lite file.
    pub fn is_int8(&self, idx: i64) -> Result<bool, YamnetError> {
        Ok(self.info(idx)?.dtype == "int8")
    }

    /// Float contents of constant tensor `idx`, checked against the listed shape.
    pub fn constant(&self, idx: i64) -> Result<Vec<f32>, YamnetError> {
        let info = self.info(idx)?;
        let (shape, data) =
            self.constants.get(&info.name).ok_or_else(|| YamnetError::format(&self.constants_path, format!("missing constant {:?}", info.name)))?;
        if *shape != info.shape {
            return Err(YamnetError::format(&self.constants_path, format!("constant {:?} has shape {shape:?}, the graph says {:?}", info.name, info.shape)));
        }
        Ok(data.clone())
    }

    /// An int8 constant as TF-Lite holds it: integer values plus the per-tensor scale.
    pub fn quantized(&self, idx: i64) -> Result<QuantizedWeight, YamnetError> {
        let data = self.constant(idx)?;
        QuantizedWeight::from_dequantized(&data).ok_or_else(|| {
            YamnetError::format(&self.constants_path, format!("{:?} is not a per-tensor symmetric int8 weight", self.info(idx).map(|i| &i.name)))
        })
    }

    /// Contents of an int32 constant (shapes, indices, paddings).
    pub fn int_constant(&self, idx: i64) -> Result<Vec<i64>, YamnetError> {
        let info = self.info(idx)?;
        self.int_constants.get(&info.name).cloned().ok_or_else(|| YamnetError::format(&self.constants_path, format!("missing int32 constant {:?}", info.name)))
    }

    /// The path of the graph listing, for error messages.
    pub fn path(&self) -> &Path {
        &self.graph_path
    }
}
