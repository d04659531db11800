//! Exponential moving average of the weights (the exported model is the EMA).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// Flattened shadow copies of every float parameter, in visiting order (without autodiff).
#[derive(Debug, Clone)]
pub struct Ema {
    pub decay: f64,
    shadow: Vec<Tensor<1>>,
}

struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.val().without_autodiff();
        let n = t.shape().num_elements();
        self.0.push(t.reshape([n]));
    }
}

struct Replace {
    values: std::vec::IntoIter<Tensor<1>>,
}

impl ModuleMapper for Replace {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let value = self.values.next().expect("one shadow per parameter");
        param.map(|t| {
            let dims = t.dims();
            value.reshape(dims)
        })
    }
}

fn flatten<M: Module>(module: &M) -> Vec<Tensor<1>> {
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

impl Ema {
    /// Start from `module`'s current weights.
    pub fn new<M: Module>(module: &M, decay: f64) -> Self {
        Self { decay, shadow: flatten(module) }
    }

    /// `shadow <- a * shadow + (1 - a) * weights`, with `a = min(decay, (1 + step) / (10 + step))`
    /// so the average does not drag the random initialization along early on.
    pub fn update<M: Module>(&mut self, module: &M, step: usize) {
        let a = self.decay.min((1.0 + step as f64) / (10.0 + step as f64)) as f32;
        let current = flatten(module);
        self.shadow = std::mem::take(&mut self.shadow).into_iter().zip(current).map(|(s, w)| s.mul_scalar(a) + w.mul_scalar(1.0 - a)).collect();
    }

    /// `module` with the averaged weights (parameter ids kept).
    pub fn apply<M: Module>(&self, module: M) -> M {
        module.map(&mut Replace { values: self.shadow.clone().into_iter() })
    }
}
