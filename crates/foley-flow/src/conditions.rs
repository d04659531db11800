//! Preprocessed conditions (MMAudio's `PreprocessedConditions`).

use burn::tensor::Tensor;

/// Conditions after their input projections: computed once per clip and reused by every
/// sampling step.
#[derive(Debug, Clone)]
pub struct Conditions {
    /// `(B, Nc, D)` projected CLIP features.
    pub clip_f: Tensor<3>,
    /// `(B, Ns, D)` projected sync features at the sync rate. MMAudio upsamples them to the
    /// latent length before adding the global conditioning; every later use is row-wise, so the
    /// network keeps the sync-rate rows and reads them upsampled (`kernels::upsample_rows`).
    pub sync_tokens: Tensor<3>,
    /// `(B, Nt, D)` projected text features.
    pub text_f: Tensor<3>,
    /// `(B, D)` pooled CLIP conditioning.
    pub clip_f_c: Tensor<2>,
    /// `(B, D)` pooled text conditioning.
    pub text_f_c: Tensor<2>,
    /// `(B, N, D)` video features added to the audio tokens (the `aligned_video` extension).
    pub aligned: Option<Tensor<3>>,
}

impl Conditions {
    pub fn batch(&self) -> usize {
        self.clip_f.dims()[0]
    }

    /// MMAudio's preprocessed `sync_f`: the sync features upsampled to `latent_len` frames.
    pub fn sync_f(&self, latent_len: usize) -> Tensor<3> {
        crate::kernels::upsample_rows(self.sync_tokens.clone(), latent_len)
    }

    /// Rows `range` of the batch.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Self {
        Self {
            clip_f: self.clip_f.clone().slice([range.clone()]),
            sync_tokens: self.sync_tokens.clone().slice([range.clone()]),
            text_f: self.text_f.clone().slice([range.clone()]),
            clip_f_c: self.clip_f_c.clone().slice([range.clone()]),
            text_f_c: self.text_f_c.clone().slice([range.clone()]),
            aligned: self.aligned.as_ref().map(|a| a.clone().slice([range])),
        }
    }

    /// Repeat batch-1 conditions `batch` times.
    pub fn expand(self, batch: usize) -> Self {
        let e3 = |t: Tensor<3>| {
            let [_, n, d] = t.dims();
            t.expand([batch, n, d])
        };
        let e2 = |t: Tensor<2>| {
            let d = t.dims()[1];
            t.expand([batch, d])
        };
        Self {
            clip_f: e3(self.clip_f),
            sync_tokens: e3(self.sync_tokens),
            text_f: e3(self.text_f),
            clip_f_c: e2(self.clip_f_c),
            text_f_c: e2(self.text_f_c),
            aligned: self.aligned.map(e3),
        }
    }

    /// Stack two condition sets along the batch (conditional and unconditional in one pass).
    pub fn cat(a: &Self, b: &Self) -> Self {
        Self {
            clip_f: Tensor::cat(vec![a.clip_f.clone(), b.clip_f.clone()], 0),
            sync_tokens: Tensor::cat(vec![a.sync_tokens.clone(), b.sync_tokens.clone()], 0),
            text_f: Tensor::cat(vec![a.text_f.clone(), b.text_f.clone()], 0),
            clip_f_c: Tensor::cat(vec![a.clip_f_c.clone(), b.clip_f_c.clone()], 0),
            text_f_c: Tensor::cat(vec![a.text_f_c.clone(), b.text_f_c.clone()], 0),
            aligned: match (&a.aligned, &b.aligned) {
                (Some(x), Some(y)) => Some(Tensor::cat(vec![x.clone(), y.clone()], 0)),
                _ => None,
            },
        }
    }
}
