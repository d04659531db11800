//! all-MiniLM-L6-v2: a 6-layer, 384-wide BERT (Devlin et al. 2019) distilled for sentence
//! embeddings, with its WordPiece tokenizer (the HF `tokenizers` crate reading `tokenizer.json`).
//!
//! The generator's text condition is the token states (`[b, len, 384]`, MMAudio uses CLIP's text
//! tokens the same way); the sentence-transformers pipeline on top of them is mean pooling over
//! the real tokens followed by L2 normalization, exposed as [`TextEncoding::embedding`].

use std::path::Path;

use anyhow::Context;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::activation::softmax;
use foley_kernels::conv::gelu;
use serde::Deserialize;
use tokenizers::{Tokenizer, TruncationParams};

use crate::fetch::{MINILM_L6_V2, ModelCache};

/// sentence-transformers' `max_seq_length` for this model (longer inputs are truncated).
pub const MAX_SEQ_LEN: usize = 256;
/// Width of the token states and the sentence embedding.
pub const HIDDEN_DIM: usize = 384;

/// The fields of a Hugging Face `config.json` a BERT encoder needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub hidden_act: String,
}

/// Word + position + segment embeddings, then LayerNorm.
#[derive(Module, Debug)]
pub struct BertEmbeddings {
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    layer_norm: LayerNorm,
}

impl BertEmbeddings {
    fn new(config: &BertConfig, device: &Device) -> Self {
        let d = config.hidden_size;
        Self {
            word_embeddings: EmbeddingConfig::new(config.vocab_size, d).init(device),
            position_embeddings: EmbeddingConfig::new(config.max_position_embeddings, d).init(device),
            token_type_embeddings: EmbeddingConfig::new(config.type_vocab_size, d).init(device),
            layer_norm: LayerNormConfig::new(d).with_epsilon(config.layer_norm_eps).init(device),
        }
    }

    /// `ids`: `[b, len]`; every token is segment 0 (single sentences).
    fn forward(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, len] = ids.dims();
        let device = ids.device();
        let positions = Tensor::<1, Int>::arange(0..len as i64, &device).unsqueeze_dim::<2>(0).repeat_dim(0, b);
        let segments = Tensor::<2, Int>::zeros([b, len], &device);
        let x = self.word_embeddings.forward(ids) + self.position_embeddings.forward(positions) + self.token_type_embeddings.forward(segments);
        self.layer_norm.forward(x)
    }
}

/// Multi-head self-attention with the output projection.
#[derive(Module, Debug)]
pub struct BertAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    n_heads: usize,
}

impl BertAttention {
    fn new(config: &BertConfig, device: &Device) -> Self {
        let d = config.hidden_size;
        Self {
            query: LinearConfig::new(d, d).init(device),
            key: LinearConfig::new(d, d).init(device),
            value: LinearConfig::new(d, d).init(device),
            output: LinearConfig::new(d, d).init(device),
            n_heads: config.num_attention_heads,
        }
    }

    /// `x`: `[b, len, d]`; `key_bias`: `[b, 1, 1, len]`, 0 for real tokens and a large negative
    /// number for padding, added to the attention logits.
    fn forward(&self, x: Tensor<3>, key_bias: Tensor<4>) -> Tensor<3> {
        let [b, len, d] = x.dims();
        let head_dim = d / self.n_heads;
        let heads = |t: Tensor<3>| t.reshape([b, len, self.n_heads, head_dim]).swap_dims(1, 2);
        let q = heads(self.query.forward(x.clone()));
        let k = heads(self.key.forward(x.clone()));
        let v = heads(self.value.forward(x));
        let logits = q.matmul(k.swap_dims(2, 3)).div_scalar((head_dim as f64).sqrt()) + key_bias;
        let context = softmax(logits, 3).matmul(v).swap_dims(1, 2).reshape([b, len, d]);
        self.output.forward(context)
    }
}

/// Post-norm transformer layer: attention, add & norm, GELU feed-forward, add & norm.
#[derive(Module, Debug)]
pub struct BertLayer {
    attention: BertAttention,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl BertLayer {
    fn new(config: &BertConfig, device: &Device) -> Self {
        let (d, ff) = (config.hidden_size, config.intermediate_size);
        let norm = || LayerNormConfig::new(d).with_epsilon(config.layer_norm_eps).init(device);
        Self {
            attention: BertAttention::new(config, device),
            attention_norm: norm(),
            intermediate: LinearConfig::new(d, ff).init(device),
            output: LinearConfig::new(ff, d).init(device),
            output_norm: norm(),
        }
    }

    fn forward(&self, x: Tensor<3>, key_bias: Tensor<4>) -> Tensor<3> {
        let x = self.attention_norm.forward(self.attention.forward(x.clone(), key_bias) + x);
        let h = self.output.forward(gelu(self.intermediate.forward(x.clone())));
        self.output_norm.forward(h + x)
    }
}

/// The BERT encoder (no pooler: sentence-transformers does not use it).
#[derive(Module, Debug)]
pub struct Bert {
    embeddings: BertEmbeddings,
    layers: Vec<BertLayer>,
}

impl Bert {
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        Self { embeddings: BertEmbeddings::new(config, device), layers: (0..config.num_hidden_layers).map(|_| BertLayer::new(config, device)).collect() }
    }

    /// Load a Hugging Face `BertModel` state dict from safetensors.
    pub fn from_safetensors(config: &BertConfig, path: &Path, device: &Device) -> anyhow::Result<Self> {
        let mut model = Self::new(config, device);
        // Hugging Face names -> ours (`self` is a Rust keyword; the dense/LayerNorm nesting is flattened).
        let mut store = SafetensorsStore::from_file(path)
            .with_from_adapter(PyTorchToBurnAdapter)
            .with_key_remapping(r"^encoder\.layer\.", "layers.")
            .with_key_remapping(r"\.attention\.self\.", ".attention.")
            .with_key_remapping(r"\.attention\.output\.dense\.", ".attention.output.")
            .with_key_remapping(r"\.attention\.output\.LayerNorm\.", ".attention_norm.")
            .with_key_remapping(r"\.intermediate\.dense\.", ".intermediate.")
            .with_key_remapping(r"\.output\.dense\.", ".output.")
            .with_key_remapping(r"\.output\.LayerNorm\.", ".output_norm.")
            .with_key_remapping(r"^embeddings\.LayerNorm\.", "embeddings.layer_norm.");
        model.load_from(&mut store).map_err(|e| anyhow::anyhow!("loading BERT weights from {}: {e}", path.display()))?;
        Ok(model)
    }

    /// Last hidden states `[b, len, d]` of token ids `[b, len]`; `mask` `[b, len]` is 1 for real
    /// tokens and 0 for padding.
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<3> {
        let [b, len] = ids.dims();
        // HF adds the dtype's minimum to padded keys; any value that underflows exp() is equivalent.
        let key_bias = (mask.neg() + 1.0).mul_scalar(-1e9).reshape([b, 1, 1, len]);
        let mut x = self.embeddings.forward(ids);
        for layer in &self.layers {
            x = layer.forward(x, key_bias.clone());
        }
        x
    }
}

/// The text encoder's output for a batch of sentences.
#[derive(Debug, Clone)]
pub struct TextEncoding {
    /// Token states `[b, len, 384]` (len = longest sentence in the batch, `[CLS]`/`[SEP]` included).
    pub tokens: Tensor<3>,
    /// `[b, len]`: 1 for real tokens, 0 for padding.
    pub mask: Tensor<2>,
    /// Real token count of each sentence.
    pub lengths: Vec<usize>,
    /// Mean of the real token states `[b, 384]` (sentence-transformers' pooling).
    pub mean_pooled: Tensor<2>,
    /// `mean_pooled` L2-normalized: what `SentenceTransformer.encode` returns for this model.
    pub embedding: Tensor<2>,
}

/// all-MiniLM-L6-v2: tokenizer + BERT + mean pooling.
#[derive(Debug)]
pub struct MiniLm {
    bert: Bert,
    tokenizer: Tokenizer,
    device: Device,
}

impl MiniLm {
    /// Load from the model cache (`foley models fetch` puts it there).
    pub fn from_cache(cache: &ModelCache, device: &Device) -> anyhow::Result<Self> {
        Self::from_dir(&cache.require(&MINILM_L6_V2)?, device)
    }

    /// Load from a directory holding `config.json`, `model.safetensors` and `tokenizer.json`.
    pub fn from_dir(dir: &Path, device: &Device) -> anyhow::Result<Self> {
        let config_path = dir.join("config.json");
        let config: BertConfig = serde_json::from_slice(&std::fs::read(&config_path).with_context(|| format!("reading {}", config_path.display()))?)
            .with_context(|| format!("parsing {}", config_path.display()))?;
        anyhow::ensure!(config.hidden_act == "gelu", "{}: unsupported activation {}", config_path.display(), config.hidden_act);
        let bert = Bert::from_safetensors(&config, &dir.join("model.safetensors"), device)?;
        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|e| anyhow::anyhow!("{}: {e}", tokenizer_path.display()))?;
        // The file pads every input to 128; we pad per batch ourselves and truncate like
        // sentence-transformers does.
        tokenizer.with_padding(None);
        let truncation = TruncationParams { max_length: MAX_SEQ_LEN, ..Default::default() };
        tokenizer.with_truncation(Some(truncation)).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Self { bert, tokenizer, device: device.clone() })
    }

    /// WordPiece ids of each sentence, `[CLS] ... [SEP]`, truncated to [`MAX_SEQ_LEN`].
    pub fn tokenize(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<u32>>> {
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        Ok(encodings.into_iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// Encode a batch of sentences.
    pub fn encode(&self, texts: &[&str]) -> anyhow::Result<TextEncoding> {
        anyhow::ensure!(!texts.is_empty(), "no text to encode");
        let ids = self.tokenize(texts)?;
        let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
        let (b, len) = (ids.len(), *lengths.iter().max().unwrap_or(&0));
        let mut flat_ids = vec![0i64; b * len];
        let mut flat_mask = vec![0f32; b * len];
        for (i, sentence) in ids.iter().enumerate() {
            for (j, &id) in sentence.iter().enumerate() {
                flat_ids[i * len + j] = id as i64;
                flat_mask[i * len + j] = 1.0;
            }
        }
        let ids = Tensor::<2, Int>::from_data(TensorData::new(flat_ids, [b, len]), &self.device);
        let mask = Tensor::<2>::from_data(TensorData::new(flat_mask, [b, len]), &self.device);
        let tokens = self.bert.forward(ids, mask.clone());
        let weights = mask.clone().unsqueeze_dim::<3>(2);
        let counts = weights.clone().sum_dim(1).clamp_min(1e-9);
        let mean_pooled: Tensor<2> = (tokens.clone() * weights).sum_dim(1).div(counts).squeeze_dim(1);
        let norm = mean_pooled.clone().powf_scalar(2.0).sum_dim(1).sqrt().clamp_min(1e-12);
        let embedding = mean_pooled.clone().div(norm);
        Ok(TextEncoding { tokens, mask, lengths, mean_pooled, embedding })
    }
}
