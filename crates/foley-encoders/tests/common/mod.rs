//! Shared helpers of the golden tests: reading the dev-script goldens and comparing tensors.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use burn::prelude::*;
use foley_encoders::ModelCache;
use safetensors::SafeTensors;

pub fn data_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// The model cache as the CLI sees it; the models must have been fetched (scripts/setup.sh runs
/// `foley models fetch`).
pub fn cache() -> ModelCache {
    ModelCache::from_env().expect("model cache directory")
}

pub struct Golden {
    bytes: Vec<u8>,
}

impl Golden {
    pub fn open(name: &str) -> Self {
        let path = data_path(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self { bytes }
    }

    fn view(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("golden safetensors")
    }

    pub fn has(&self, key: &str) -> bool {
        self.view().names().iter().any(|n| *n == key)
    }

    pub fn shape(&self, key: &str) -> Vec<usize> {
        self.view().tensor(key).unwrap().shape().to_vec()
    }

    pub fn bytes(&self, key: &str) -> Vec<u8> {
        self.view().tensor(key).unwrap_or_else(|e| panic!("{key}: {e}")).data().to_vec()
    }

    pub fn f32(&self, key: &str) -> Vec<f32> {
        self.bytes(key).chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
    }

    pub fn i64(&self, key: &str) -> Vec<i64> {
        self.bytes(key).chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect()
    }

    pub fn metadata(&self, key: &str) -> String {
        let (_, meta) = SafeTensors::read_metadata(&self.bytes).unwrap();
        meta.metadata().as_ref().and_then(|m| m.get(key).cloned()).expect("metadata key")
    }
}

pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

/// max |a - b| / max |b|: the error relative to the reference's scale.
pub fn rel_err(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let max_diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    let scale = b.iter().map(|y| y.abs()).fold(0.0, f32::max);
    max_diff / (scale + 1e-6)
}

/// Indices of the `k` largest values, largest first.
pub fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    idx.truncate(k);
    idx
}
