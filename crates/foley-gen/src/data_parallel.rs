//! Data-parallel training: every rank holds the whole model and draws the whole batch with the
//! same seeded generators, keeps every `size()`-th example from its rank on, and contributes the
//! gradient of its examples' share of the batch mean. Summed over ranks that is the gradient of
//! the one-process run at the same batch size, so K ranks follow the one-process loss curve (up to
//! the order of float sums) and every rank applies the same update.

use anyhow::{Result, ensure};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use foley_dist::Collective;

use crate::data::Batch;

/// The examples of the global batch of `batch_size` that `rank` of `ranks` computes.
pub fn examples_of_rank(batch_size: usize, rank: usize, ranks: usize) -> Vec<usize> {
    (rank..batch_size).step_by(ranks).collect()
}

/// Per-example values gathered from every rank (`[rank][j]` order) back in global batch order.
pub fn in_batch_order(gathered: &[f32], ranks: usize) -> Vec<f32> {
    let per_rank = gathered.len() / ranks;
    (0..gathered.len()).map(|i| gathered[(i % ranks) * per_rank + i / ranks]).collect()
}

impl Batch {
    /// The examples `rows` of this batch, in that order.
    pub fn rows(self, rows: &[usize]) -> Batch {
        let device = self.x1.device();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(rows.iter().map(|&r| r as i64).collect::<Vec<_>>(), [rows.len()]), &device);
        Batch {
            clip: self.clip.select(0, idx.clone()),
            sync: self.sync.select(0, idx.clone()),
            text: self.text.select(0, idx.clone()),
            x1: self.x1.select(0, idx.clone()),
            x0: self.x0.select(0, idx.clone()),
            mask: self.mask.select(0, idx.clone()),
            known: self.known.select(0, idx.clone()),
            video_drop: self.video_drop.select(0, idx),
        }
    }
}

/// Replace every rank's gradients of `module` by their sum over ranks (identical on every rank).
///
/// A parameter with no gradient on some rank counts as zero there; one with no gradient on any
/// rank stays without one (the optimizer skips it, as in a one-process run).
pub fn sum_gradients<M: Module>(grads: &mut GradientsParams, module: &M, comm: &dyn Collective, device: &Device) {
    /// Pass 1: flatten, with one presence flag per parameter after the values.
    struct Flatten<'a> {
        grads: &'a mut GradientsParams,
        values: Vec<f32>,
        present: Vec<f32>,
    }
    impl ModuleVisitor for Flatten<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let n = p.val().shape().num_elements();
            match self.grads.remove::<D>(p.id) {
                Some(g) => {
                    self.values.extend(g.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 gradient"));
                    self.present.push(1.0);
                }
                None => {
                    self.values.extend(std::iter::repeat_n(0.0, n));
                    self.present.push(0.0);
                }
            }
        }
    }
    /// Pass 2: register the sums back.
    struct Restore<'a> {
        grads: &'a mut GradientsParams,
        values: &'a [f32],
        present: &'a [f32],
        offset: usize,
        param: usize,
        device: &'a Device,
    }
    impl ModuleVisitor for Restore<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let shape = p.val().shape();
            let n = shape.num_elements();
            if self.present[self.param] > 0.0 {
                let data = TensorData::new(self.values[self.offset..self.offset + n].to_vec(), shape);
                self.grads.register::<D>(p.id, Tensor::from_data(data, self.device));
            }
            self.offset += n;
            self.param += 1;
        }
    }
    let mut flat = Flatten { grads, values: Vec::new(), present: Vec::new() };
    module.visit(&mut flat);
    let Flatten { grads, mut values, present } = flat;
    let n_values = values.len();
    values.extend(present);
    comm.sum_f32(&mut values);
    let (values, present) = values.split_at(n_values);
    module.visit(&mut Restore { grads, values, present, offset: 0, param: 0, device });
}

/// Fail unless every rank holds bit-identical `weights` at the same `step`.
pub fn check_ranks_agree(comm: &dyn Collective, step: usize, weights: &[f32]) -> Result<()> {
    if comm.size() == 1 {
        return Ok(());
    }
    let steps = comm.gather_u64(step as u64);
    let prints = comm.gather_u64(foley_dist::fingerprint(weights));
    ensure!(steps.iter().all(|&s| s == steps[0]), "ranks are at different steps {steps:?} (do they share one out_dir?)");
    ensure!(
        prints.iter().all(|&p| p == prints[0]),
        "the ranks' weights differ at step {step} (fingerprints {prints:x?}): the gradient sum was not identical on every rank"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_split_the_batch_and_gather_back_in_order() {
        let ranks = 3;
        let parts: Vec<Vec<usize>> = (0..ranks).map(|r| examples_of_rank(6, r, ranks)).collect();
        assert_eq!(parts, [vec![0, 3], vec![1, 4], vec![2, 5]]);
        let gathered: Vec<f32> = parts.iter().flatten().map(|&i| i as f32).collect();
        assert_eq!(in_batch_order(&gathered, ranks), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(examples_of_rank(4, 0, 1), [0, 1, 2, 3]);
    }

    /// Rank 1 of two whose peer reports what it is told to.
    struct Peer {
        step: u64,
        print: Option<u64>,
        calls: std::cell::Cell<usize>,
    }
    fn peer(step: u64, print: Option<u64>) -> Peer {
        Peer { step, print, calls: Default::default() }
    }
    impl Collective for Peer {
        fn rank(&self) -> usize {
            1
        }
        fn size(&self) -> usize {
            2
        }
        fn sum_f32(&self, _: &mut [f32]) {}
        fn gather_f32(&self, mine: &[f32]) -> Vec<f32> {
            [mine, mine].concat()
        }
        fn gather_u64(&self, value: u64) -> Vec<u64> {
            // Called with the step first, then the fingerprint.
            self.calls.set(self.calls.get() + 1);
            if self.calls.get() == 1 { vec![self.step, value] } else { vec![self.print.unwrap_or(value), value] }
        }
    }

    #[test]
    fn diverged_ranks_are_caught() {
        let w = [0.5f32, -1.0];
        assert!(check_ranks_agree(&peer(7, None), 7, &w).is_ok());
        let err = check_ranks_agree(&peer(7, Some(1)), 7, &w).unwrap_err().to_string();
        assert!(err.contains("weights differ at step 7"), "{err}");
        let err = check_ranks_agree(&peer(6, None), 7, &w).unwrap_err().to_string();
        assert!(err.contains("different steps"), "{err}");
    }
}
