//! MMAudio's VAE (mel <-> latent). Being ported.
