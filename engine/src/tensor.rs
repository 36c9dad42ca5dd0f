//! Placeholder: the tensor type (being written). Contract: `from_vec`, `shape`, `to_vec`.
use crate::Float;

/// An N-dimensional array.
#[derive(Clone, Debug)]
pub struct Tensor<T: Float> {
    data: Vec<T>,
    shape: Vec<usize>,
}

impl<T: Float> Tensor<T> {
    /// Builds a tensor from row-major data and a shape.
    #[track_caller]
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Self {
        assert_eq!(data.len(), shape.iter().product::<usize>(), "from_vec: length vs shape");
        Tensor { data, shape: shape.to_vec() }
    }
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// The elements in row-major order.
    pub fn to_vec(&self) -> Vec<T> {
        self.data.clone()
    }
}
