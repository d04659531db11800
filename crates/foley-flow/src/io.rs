//! File-level entry points: `.safetensors` tensors in and out (the `foley flow forward` command).

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::tensor::{Dtype, TensorView};

use crate::weights::{RawTensor, StateDict};
use crate::{FlowConfig, FlowError, FlowNetwork};

/// A named f32 tensor read from or written to a file.
pub type Named = BTreeMap<String, RawTensor>;

/// Read every tensor of a `.safetensors` file as f32.
pub fn read_tensors(path: &Path) -> Result<Named, FlowError> {
    Ok(StateDict::read(path)?.tensors)
}

/// Serialize named f32 tensors to `.safetensors` bytes.
pub fn safetensors_bytes(tensors: &Named) -> Result<Vec<u8>, FlowError> {
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> =
        tensors.iter().map(|(k, t)| (k.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect(), t.shape.clone())).collect();
    let views = bytes
        .iter()
        .map(|(k, b, s)| TensorView::new(Dtype::F32, s.clone(), b).map(|v| (k.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| FlowError::Input(e.to_string()))?;
    safetensors::serialize(views, None).map_err(|e| FlowError::Input(e.to_string()))
}

/// `(shape, values)` of a tensor.
pub fn to_raw<const D: usize>(t: Tensor<D>) -> RawTensor {
    let shape = t.dims().to_vec();
    let data = t.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 data");
    RawTensor { shape, data }
}

/// A 3-D tensor from a raw one, checking the rank.
pub fn tensor3(name: &str, raw: &RawTensor, device: &Device) -> Result<Tensor<3>, FlowError> {
    let shape: [usize; 3] = raw.shape.clone().try_into().map_err(|_| FlowError::Input(format!("`{name}` must be 3-D, got shape {:?}", raw.shape)))?;
    Ok(Tensor::from_data(TensorData::new(raw.data.clone(), shape), device))
}

/// MMAudio's `forward(latent, clip_f, sync_f, text_f, t)` on tensors read from
/// `inputs` (`latent`, `clip_f`, `sync_f`, `text_f`, `t`); returns `flow`.
pub fn forward_file(config: &FlowConfig, weights: &Path, inputs: &Path, device: &Device) -> Result<RawTensor, FlowError> {
    let net = FlowNetwork::load(config, weights, device)?;
    let tensors = read_tensors(inputs)?;
    let get = |name: &str| {
        tensors
            .get(name)
            .ok_or_else(|| FlowError::Read { path: inputs.to_path_buf(), msg: format!("no tensor `{name}` (need latent, clip_f, sync_f, text_f, t)") })
    };
    let input = |name: &str| -> Result<Tensor<3>, FlowError> {
        tensor3(name, get(name)?, device).map_err(|e| FlowError::Read { path: inputs.to_path_buf(), msg: e.to_string() })
    };
    let t = get("t")?;
    if t.shape.len() != 1 {
        return Err(FlowError::Read { path: inputs.to_path_buf(), msg: format!("`t` must be 1-D, got shape {:?}", t.shape) });
    }
    let flow = net
        .forward(input("latent")?, input("clip_f")?, input("sync_f")?, input("text_f")?, &t.data)
        .map_err(|e| FlowError::Read { path: inputs.to_path_buf(), msg: e.to_string() })?;
    Ok(to_raw(flow))
}
