//! Reading state dicts (`.safetensors`, PyTorch `.pth` zip pickles) and checking their keys.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use burn::store::pytorch_reader::{DType as PtDType, PytorchReader};
use safetensors::{Dtype as StDtype, SafeTensors};

use crate::WeightsError;

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
    /// legacy pickle), chosen by the file's first bytes. Float tensors of any width become f32,
    /// as do the u8 / i32 / i64 tensors of a safetensors file (pixels, token ids).
    pub fn read(path: &Path) -> Result<Self, WeightsError> {
        let err = |msg: String| WeightsError::Read { path: path.to_path_buf(), msg };
        if is_pytorch(path).map_err(err)? { Self::read_pytorch(path).map_err(err) } else { Self::read_safetensors(path).map_err(err) }
    }

    /// The key -> shape listing of a weight file without reading its tensors (checking a
    /// multi-gigabyte checkpoint costs no memory).
    pub fn read_shapes(path: &Path) -> Result<BTreeMap<String, Vec<usize>>, WeightsError> {
        let err = |msg: String| WeightsError::Read { path: path.to_path_buf(), msg };
        if is_pytorch(path).map_err(err)? {
            let reader = open_pytorch(path).map_err(err)?;
            return Ok(reader.tensors().iter().map(|(k, t)| (k.clone(), t.shape().to_vec())).collect());
        }
        // safetensors: an 8-byte little-endian header length, then a JSON header.
        let header = {
            use std::io::Read;
            let mut f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
            let mut len = [0u8; 8];
            f.read_exact(&mut len).map_err(|e| err(format!("not a safetensors file ({e})")))?;
            let mut header = vec![0u8; (u64::from_le_bytes(len) as usize).min(100 << 20)];
            f.read_exact(&mut header).map_err(|e| err(format!("not a safetensors file ({e})")))?;
            header
        };
        let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&header).map_err(|e| err(format!("not a safetensors file: {e}")))?;
        let shape = |v: &serde_json::Value| -> Option<Vec<usize>> { v.get("shape")?.as_array()?.iter().map(|d| d.as_u64().map(|d| d as usize)).collect() };
        header
            .iter()
            .filter(|(k, _)| *k != "__metadata__")
            .map(|(k, v)| shape(v).map(|s| (k.clone(), s)).ok_or_else(|| err(format!("tensor `{k}` has no shape in the header"))))
            .collect()
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
                // Pixels and token ids of test vectors: exact in f32 (ids are < 2^24).
                StDtype::U8 => view.data().iter().map(|&b| b as f32).collect(),
                StDtype::I32 => view.data().chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
                StDtype::I64 => view.data().chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
                other => return Err(format!("tensor `{name}` has unsupported dtype {other:?}")),
            };
            tensors.insert(name.to_string(), RawTensor { shape: view.shape().to_vec(), data });
        }
        Ok(Self { tensors })
    }

    fn read_pytorch(path: &Path) -> Result<Self, String> {
        let reader = open_pytorch(path)?;
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

    /// The tensors under `prefix.` with that prefix removed (a checkpoint that nests several
    /// state dicts, e.g. `{"generator": ...}` or `{"net": ..., "vae": ...}`).
    pub fn subset(&self, prefix: &str) -> Self {
        let dotted = format!("{prefix}.");
        let tensors = self.tensors.iter().filter_map(|(k, t)| k.strip_prefix(&dotted).map(|k| (k.to_string(), t.clone()))).collect();
        Self { tensors }
    }
}

/// Whether `path` is a PyTorch checkpoint (zip archives start with "PK", legacy pickles with the
/// PROTO opcode 0x80) rather than a safetensors file.
fn is_pytorch(path: &Path) -> Result<bool, String> {
    use std::io::Read;
    let mut head = [0u8; 2];
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    f.read_exact(&mut head).map_err(|e| format!("not a weight file ({e})"))?;
    Ok(head == *b"PK" || head[0] == 0x80)
}

/// burn's reader on `path`. zip 9.4 loses the central directory of archives whose zip64 end
/// records precede a non-zip64 end record at one particular offset (torch.save writes both);
/// zip 0.6 finds it, and a plain repack reads everywhere.
fn open_pytorch(path: &Path) -> Result<PytorchReader, String> {
    match PytorchReader::new(path) {
        Ok(r) => Ok(r),
        Err(first) => {
            let repacked = repack_zip(path).map_err(|e| format!("not a PyTorch checkpoint: {first} ({e})"))?;
            PytorchReader::new(repacked.path()).map_err(|e| format!("not a PyTorch checkpoint: {e}"))
        }
    }
}

/// The entries of the zip archive at `path`, read with zip 0.6 and written again, uncompressed,
/// into a temporary file.
fn repack_zip(path: &Path) -> Result<tempfile::NamedTempFile, String> {
    use std::io::{Read, Write};
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut archive = zip06::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| e.to_string())?;
    let out = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let mut writer = zip06::ZipWriter::new(std::io::BufWriter::new(out.reopen().map_err(|e| e.to_string())?));
    let options = zip06::write::FileOptions::default().compression_method(zip06::CompressionMethod::Stored).large_file(true);
    let mut buf = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| e.to_string())?;
        buf.clear();
        entry.read_to_end(&mut buf).map_err(|e| e.to_string())?;
        writer.start_file(entry.name().to_string(), options).map_err(|e| e.to_string())?;
        writer.write_all(&buf).map_err(|e| e.to_string())?;
    }
    writer.finish().map_err(|e| e.to_string())?.flush().map_err(|e| e.to_string())?;
    Ok(out)
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
