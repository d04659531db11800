//! BigVGAN vocoders (mel -> waveform). Being ported.
