//! [`Collective`] over MPI's world communicator.

use anyhow::{Result, bail};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use crate::Collective;

/// The world of the ranks `mpirun` started; MPI is finalized when it drops.
pub struct MpiWorld {
    world: SimpleCommunicator,
    // Dropped last: finalizes MPI.
    _universe: Universe,
}

impl MpiWorld {
    pub fn initialize() -> Result<Self> {
        let Some(universe) = mpi::initialize() else {
            bail!("MPI was already initialized in this process");
        };
        Ok(Self { world: universe.world(), _universe: universe })
    }
}

impl Collective for MpiWorld {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn size(&self) -> usize {
        self.world.size() as usize
    }
    fn sum_f32(&self, values: &mut [f32]) {
        let mine = values.to_vec();
        self.world.all_reduce_into(&mine[..], values, SystemOperation::sum());
    }
    fn gather_f32(&self, mine: &[f32]) -> Vec<f32> {
        let mut all = vec![0f32; mine.len() * self.size()];
        self.world.all_gather_into(mine, &mut all[..]);
        all
    }
    fn gather_u64(&self, value: u64) -> Vec<u64> {
        let mut all = vec![0u64; self.size()];
        self.world.all_gather_into(&value, &mut all[..]);
        all
    }
}
