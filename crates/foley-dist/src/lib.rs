//! Collective operations for data-parallel training.
//!
//! A training run is one or more *ranks*, each a process holding a full copy of the model. Every
//! step each rank computes the gradients of its share of the batch; [`Collective::sum_f32`] adds
//! them up so every rank applies the same update and the weights stay identical. [`Solo`] is the
//! one-process case; with the `mpi` feature, [`world`] joins the ranks `mpirun` started.

use anyhow::Result;

#[cfg(feature = "mpi")]
mod mpi_world;

/// The ranks of one run.
///
/// Every rank must make the same calls in the same order (they are collective): a rank that skips
/// one leaves the others waiting.
pub trait Collective {
    /// This process's rank, `0..size()`; rank 0 writes checkpoints and logs.
    fn rank(&self) -> usize;
    /// Number of ranks.
    fn size(&self) -> usize;
    /// Element-wise sum over ranks, in place; the result is identical on every rank.
    fn sum_f32(&self, values: &mut [f32]);
    /// Every rank's `mine` (the same length on each), concatenated in rank order.
    fn gather_f32(&self, mine: &[f32]) -> Vec<f32>;
    /// Every rank's `value`, in rank order.
    fn gather_u64(&self, value: u64) -> Vec<u64>;
}

/// A run of one process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f32(&self, _values: &mut [f32]) {}
    fn gather_f32(&self, mine: &[f32]) -> Vec<f32> {
        mine.to_vec()
    }
    fn gather_u64(&self, value: u64) -> Vec<u64> {
        vec![value]
    }
}

/// Environment variables an MPI launcher sets in the processes it starts (Open MPI, MPICH/Hydra,
/// PMIx launchers such as Slurm's srun).
const LAUNCHER_VARS: [&str; 4] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"];

/// True when this process was started by an MPI launcher.
pub fn launched_by_mpi() -> bool {
    LAUNCHER_VARS.iter().any(|v| std::env::var_os(v).is_some())
}

/// Ranks started by the same launcher on this machine, when the launcher says (1 otherwise).
pub fn local_ranks() -> usize {
    ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"].iter().find_map(|v| std::env::var(v).ok()?.parse().ok()).unwrap_or(1)
}

/// The ranks of this run: MPI's world under `mpirun` (MPI is initialized once, here, and
/// finalized when the returned value drops), [`Solo`] otherwise.
pub fn world() -> Result<Box<dyn Collective>> {
    if !launched_by_mpi() {
        return Ok(Box::new(Solo));
    }
    #[cfg(feature = "mpi")]
    {
        Ok(Box::new(mpi_world::MpiWorld::initialize()?))
    }
    #[cfg(not(feature = "mpi"))]
    {
        anyhow::bail!(
            "started by mpirun, but this foley was built without MPI; rebuild with `cargo build --release -p foley --features mpi` \
             (needs libopenmpi-dev and libclang-dev)"
        )
    }
}

/// A 64-bit FNV-1a hash of the bit patterns of `values`: ranks compare weights with it.
pub fn fingerprint(values: &[f32]) -> u64 {
    values.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| v.to_bits().to_le_bytes().iter().fold(h, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solo_is_the_identity() {
        let mut v = vec![1.0, -2.5];
        Solo.sum_f32(&mut v);
        assert_eq!(v, [1.0, -2.5]);
        assert_eq!(Solo.gather_f32(&v), v);
        assert_eq!(Solo.gather_u64(7), [7]);
    }

    #[test]
    fn fingerprints_see_every_bit() {
        let a = fingerprint(&[1.0, 2.0]);
        assert_eq!(a, fingerprint(&[1.0, 2.0]));
        assert_ne!(a, fingerprint(&[2.0, 1.0]));
        assert_ne!(a, fingerprint(&[1.0, f32::from_bits(2.0f32.to_bits() + 1)]));
        assert_ne!(fingerprint(&[0.0]), fingerprint(&[-0.0]));
    }
}
