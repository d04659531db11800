//! Access to the f32 buffers of flex tensors, for kernels that work on them in place.

use burn::tensor::{DType, Tensor, TensorData};
use burn_flex::{Flex, FlexTensor};

/// Elements per rayon task: large enough to amortise scheduling, small enough to split a
/// 77 x 1280 text-token gate across two threads.
pub const CHUNK: usize = 16 * 1024;

/// The flex primitive of an f32 inference tensor (a reference-counted handle on the same
/// buffer), or `None` for another dtype or backend (autodiff).
pub fn flex_primitive<const D: usize>(t: &Tensor<D>) -> Option<FlexTensor> {
    if t.dtype() != DType::F32 {
        return None;
    }
    t.clone().try_into_primitive::<Flex>().ok()
}

/// [`flex_primitive`] of a contiguous tensor.
pub fn flex_f32<const D: usize>(t: &Tensor<D>) -> Option<FlexTensor> {
    flex_primitive(t).filter(FlexTensor::is_contiguous)
}

/// Apply `f` to the elements of contiguous `t`: in place when `t` is the only owner of its
/// buffer (a fresh op output), on a copy otherwise (so a shared input is never modified).
pub fn update_owned(mut t: FlexTensor, f: impl FnOnce(&mut [f32])) -> FlexTensor {
    let (start, end) = t.layout().contiguous_offsets().expect("contiguous");
    if let Some(data) = t.try_storage_mut::<f32>() {
        f(&mut data[start..end]);
        return t;
    }
    let mut copy = t.as_slice::<f32>().expect("contiguous").to_vec();
    f(&mut copy);
    FlexTensor::from_data(TensorData::new(copy, t.layout().shape().clone()))
}

/// A burn tensor of a flex primitive.
pub fn tensor<const D: usize>(t: FlexTensor) -> Tensor<D> {
    Tensor::from_primitive::<Flex>(t)
}

/// `Some(None)` for no tensor, `Some(Some(t))` for a contiguous f32 flex one, `None` otherwise
/// (a kernel's fast path does not apply).
pub fn optional_flex_f32<const D: usize>(t: Option<&Tensor<D>>) -> Option<Option<FlexTensor>> {
    match t {
        None => Some(None),
        Some(t) => flex_f32(t).map(Some),
    }
}

/// An output buffer's pointer shared by parallel tasks that each write a disjoint part of it.
pub(crate) struct SendPtr(pub(crate) *mut f32);
// SAFETY: users write disjoint regions only (each kernel states which).
unsafe impl Sync for SendPtr {}
