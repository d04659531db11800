//! Every rate and length of the foley pipeline, derived for any duration.
//!
//! This mirrors MMAudio's `SequenceConfig`: one place owns the audio sample rate, the mel
//! geometry, the latent frame rate and the video frame rates, and every other crate asks it
//! for lengths instead of hard-coding numbers.
//!
//! ```
//! use foley_seq::SequenceConfig;
//! let seq = SequenceConfig::mmaudio_16k(8.0);
//! assert_eq!(seq.latent_seq_len(), 250);
//! assert_eq!(seq.clip_seq_len(), 64);
//! assert_eq!(seq.sync_seq_len(), 192);
//! ```

use serde::{Deserialize, Serialize};

/// Logarithm applied to the clamped mel magnitudes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogBase {
    /// `log10` (MMAudio 16 kHz).
    Ten,
    /// Natural logarithm (MMAudio 44.1 kHz).
    E,
}

/// The mel spectrogram geometry of one of MMAudio's mel converters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MelConfig {
    pub sample_rate: u32,
    pub n_fft: usize,
    /// Hop between frames in samples (MMAudio's `spectrogram_frame_rate`).
    pub hop: usize,
    pub win_length: usize,
    pub n_mels: usize,
    pub f_min: f32,
    pub f_max: f32,
    pub log_base: LogBase,
    /// Magnitudes are clamped to at least this before the logarithm.
    pub clamp_min: f32,
}

impl MelConfig {
    /// MMAudio's 16 kHz converter: n_fft 1024, hop 256, 80 Slaney mels up to 8 kHz, log10.
    pub const MMAUDIO_16K: MelConfig = MelConfig {
        sample_rate: 16_000,
        n_fft: 1024,
        hop: 256,
        win_length: 1024,
        n_mels: 80,
        f_min: 0.0,
        f_max: 8_000.0,
        log_base: LogBase::Ten,
        clamp_min: 1e-5,
    };

    /// MMAudio's 44.1 kHz converter: n_fft 2048, hop 512, 128 Slaney mels up to 22.05 kHz, ln.
    pub const MMAUDIO_44K: MelConfig = MelConfig {
        sample_rate: 44_100,
        n_fft: 2048,
        hop: 512,
        win_length: 2048,
        n_mels: 128,
        f_min: 0.0,
        f_max: 22_050.0,
        log_base: LogBase::E,
        clamp_min: 1e-5,
    };

    /// Number of frequency bins of the one-sided spectrum.
    pub fn n_freqs(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Mel frames per second of audio.
    pub fn frames_per_second(&self) -> f64 {
        self.sample_rate as f64 / self.hop as f64
    }

    /// Number of mel frames produced for `num_samples` samples (reflect pad of
    /// `(n_fft - hop) / 2` each side, no centring).
    pub fn num_frames(&self, num_samples: usize) -> usize {
        let padded = num_samples + 2 * self.pad();
        if padded < self.n_fft { 0 } else { (padded - self.n_fft) / self.hop + 1 }
    }

    /// Reflect padding applied to each side before framing.
    pub fn pad(&self) -> usize {
        (self.n_fft - self.hop) / 2
    }
}

/// Rates and lengths for a clip of `duration` seconds (MMAudio's `SequenceConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SequenceConfig {
    /// Clip duration in seconds.
    pub duration: f64,
    /// Mel geometry of the audio representation (sample rate, hop, ...).
    pub mel: MelConfig,
    /// Mel frames folded into one latent token.
    pub latent_downsample_rate: usize,
    /// Frame rate of the semantic (CLIP-role) video features.
    pub clip_frame_rate: f64,
    /// Frame rate the sync encoder reads.
    pub sync_frame_rate: f64,
    /// Video frames in one sync segment.
    pub sync_num_frames_per_segment: usize,
    /// Stride between sync segments, in video frames.
    pub sync_step_size: usize,
    /// Video frames per sync token inside a segment.
    pub sync_downsample_rate: usize,
}

impl SequenceConfig {
    /// MMAudio's 16 kHz configuration (`CONFIG_16K`) for any duration.
    pub fn mmaudio_16k(duration: f64) -> Self {
        Self {
            duration,
            mel: MelConfig::MMAUDIO_16K,
            latent_downsample_rate: 2,
            clip_frame_rate: 8.0,
            sync_frame_rate: 25.0,
            sync_num_frames_per_segment: 16,
            sync_step_size: 8,
            sync_downsample_rate: 2,
        }
    }

    /// MMAudio's 44.1 kHz configuration (`CONFIG_44K`) for any duration.
    pub fn mmaudio_44k(duration: f64) -> Self {
        Self { mel: MelConfig::MMAUDIO_44K, ..Self::mmaudio_16k(duration) }
    }

    /// Audio sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.mel.sample_rate
    }

    /// Number of audio samples covering the clip.
    pub fn num_audio_samples(&self) -> usize {
        (self.duration * self.sample_rate() as f64) as usize
    }

    /// Latent tokens per second (31.25 for the 16 kHz geometry).
    pub fn latent_rate(&self) -> f64 {
        self.mel.frames_per_second() / self.latent_downsample_rate as f64
    }

    /// Audio samples per latent token (512 at 16 kHz, 1024 at 44.1 kHz).
    pub fn samples_per_token(&self) -> usize {
        self.mel.hop * self.latent_downsample_rate
    }

    /// Number of latent tokens: `ceil(duration * sr / hop / downsample)`.
    pub fn latent_seq_len(&self) -> usize {
        (self.duration * self.latent_rate()).ceil() as usize
    }

    /// Number of semantic video frames: `floor(duration * clip_fps)`.
    pub fn clip_seq_len(&self) -> usize {
        (self.duration * self.clip_frame_rate) as usize
    }

    /// Number of sync video frames: `floor(duration * sync_fps)`.
    pub fn sync_num_frames(&self) -> usize {
        (self.duration * self.sync_frame_rate) as usize
    }

    /// Number of overlapping sync segments over the clip.
    pub fn sync_num_segments(&self) -> usize {
        let frames = self.duration * self.sync_frame_rate;
        let per = self.sync_num_frames_per_segment as f64;
        if frames < per { 0 } else { ((frames - per) / self.sync_step_size as f64).floor() as usize + 1 }
    }

    /// Sync frames the segments read end to end (200 for 8 s: 24 segments of 16 with step 8).
    pub fn sync_frames_read(&self) -> usize {
        match self.sync_num_segments() {
            0 => 0,
            s => (s - 1) * self.sync_step_size + self.sync_num_frames_per_segment,
        }
    }

    /// Sync tokens per segment (8 for Synchformer's geometry).
    pub fn sync_tokens_per_segment(&self) -> usize {
        self.sync_num_frames_per_segment / self.sync_downsample_rate
    }

    /// Number of sync feature tokens: segments x tokens per segment.
    pub fn sync_seq_len(&self) -> usize {
        self.sync_num_segments() * self.sync_tokens_per_segment()
    }

    /// The fewest latent tokens that last a whole number of sync frames (5 at 16 kHz: 0.16 s =
    /// 4 frames at 25 fps). Long-form windows start on multiples of it, so each window reads
    /// the same sync frames as a decode from its own start.
    pub fn sync_aligned_tokens(&self) -> usize {
        let frames_per_token = self.sync_frame_rate / self.latent_rate();
        (1..=100_000).find(|&n| (n as f64 * frames_per_token - (n as f64 * frames_per_token).round()).abs() < 1e-9).unwrap_or(1)
    }

    /// Sync tokens per second of clip as the generator sees them: MMAudio stretches the
    /// `sync_seq_len()` tokens over the whole clip (nearest-exact upsampling to the latent
    /// length), so token `i` stands for time `i / rate`. 24 for 8 s of Synchformer's geometry
    /// (24 overlapping 16-frame segments x 8 tokens); it tends to 25 for long clips.
    pub fn sync_token_rate(&self) -> f64 {
        if self.duration > 0.0 { self.sync_seq_len() as f64 / self.duration } else { 0.0 }
    }
}

/// Source row of output row `i` when a sequence of `in_len` rows is resampled to `out_len` rows
/// by nearest-exact interpolation: MMAudio's `F.interpolate(mode="nearest-exact")`, which maps
/// the sync (and, in SALSA-V's aligned-video option, the CLIP) rows onto the latent rows.
///
/// PyTorch's CPU kernel (the AVX2 / AVX-512 build the reference vectors come from) computes the
/// centre `scale * (i + 0.5) - 0.5` as one fused multiply-add in f32, with `scale = in / out`
/// in f32, clamps it at 0 and rounds half up. Exact-rational arithmetic or an f64 product gives
/// another row wherever `(i + 0.5) * in / out` is an integer (192 -> 345 rows: output 287 reads
/// row 160, not 159), so every path that maps rows must use this one function.
pub fn nearest_exact_source(i: usize, in_len: usize, out_len: usize) -> usize {
    assert!(in_len > 0 && out_len > 0, "nearest-exact resampling of {in_len} rows to {out_len}");
    let scale = in_len as f32 / out_len as f32;
    let centre = scale.mul_add(i as f32 + 0.5, -0.5).max(0.0);
    ((centre + 0.5).floor() as usize).min(in_len - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmaudio_lengths_match_the_released_models() {
        // Values of MMAudio's released configurations (networks.py: 250/64/192 and 345/64/192).
        let s16 = SequenceConfig::mmaudio_16k(8.0);
        assert_eq!((s16.latent_seq_len(), s16.clip_seq_len(), s16.sync_seq_len()), (250, 64, 192));
        let s44 = SequenceConfig::mmaudio_44k(8.0);
        assert_eq!((s44.latent_seq_len(), s44.clip_seq_len(), s44.sync_seq_len()), (345, 64, 192));
        assert_eq!(s16.num_audio_samples(), 128_000);
        assert_eq!(s16.latent_rate(), 31.25);
        assert_eq!(s16.sync_token_rate(), 24.0);
        assert_eq!(s16.sync_frames_read(), 200);
        // 10 s: (250 - 16) / 8 + 1 = 30 segments of 8 tokens.
        assert_eq!(SequenceConfig::mmaudio_16k(10.0).sync_seq_len(), 240);
    }

    #[test]
    fn nearest_exact_matches_pytorch_at_its_ties() {
        // Rows where `(i + 0.5) * in / out` is an integer, read off torch 2.15's CPU
        // `F.interpolate(torch.arange(in), size=out, mode="nearest-exact")`; foley-flow's
        // golden test checks whole index tables of the pipeline's geometries.
        for (in_len, out_len, i, want) in [(192, 345, 287, 160), (24, 50, 12, 6), (24, 50, 37, 18), (16, 31, 15, 8), (2, 41, 20, 1), (2, 25, 12, 1)] {
            assert_eq!(nearest_exact_source(i, in_len, out_len), want, "{in_len} -> {out_len}, row {i}");
        }
        // Identity, broadcast of one row, and the last row never past the end.
        assert!((0..250).all(|i| nearest_exact_source(i, 250, 250) == i));
        assert!((0..40).all(|i| nearest_exact_source(i, 1, 40) == 0));
        assert_eq!(nearest_exact_source(344, 192, 345), 191);
    }

    #[test]
    fn mel_frame_count_follows_the_padding_rule() {
        let m = MelConfig::MMAUDIO_16K;
        assert_eq!(m.pad(), 384);
        // 16000 samples + 768 pad -> (16768 - 1024) / 256 + 1 = 62
        assert_eq!(m.num_frames(16_000), 62);
        assert_eq!(m.num_frames(128_000), 500);
    }
}
