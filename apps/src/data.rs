//! The assignments' data sets, generated and loaded through `nn::datasets` exactly as the
//! course does (NumPy's global generator seeded first, scikit-learn's generators on it).

use std::path::Path;

use engine::Tensor;

use crate::assignments::AppError;

/// `np.random.seed(seed); sklearn.datasets.make_circles(n, noise=noise)`: `X (2, n)`, `Y (1, n)`.
pub fn circles(n: usize, noise: f64, seed: u32) -> Result<(Tensor<f64>, Tensor<f64>), AppError> {
    let _ = (n, noise, seed);
    Err(AppError("make_circles: waiting for nn::datasets".into()))
}

/// `np.random.seed(seed); sklearn.datasets.make_moons(n, noise=noise)`: `X (2, n)`, `Y (1, n)`.
pub fn moons(n: usize, noise: f64, seed: u32) -> Result<(Tensor<f64>, Tensor<f64>), AppError> {
    let _ = (n, noise, seed);
    Err(AppError("make_moons: waiting for nn::datasets".into()))
}

/// The regularization exercise's 2-D data set: `(X, Y, Xval, Yval)`, examples as columns.
pub fn regularization_2d(path: &Path) -> Result<super::assignments::Data, AppError> {
    Err(AppError(format!(
        "{}: waiting for nn::datasets",
        path.display()
    )))
}

/// The bundled MNIST test set split: first `n_train` images train, the rest test.
pub fn mnist_bundled_split(n_train: usize) -> Result<super::assignments::Data, AppError> {
    let _ = n_train;
    Err(AppError("MNIST: waiting for nn::datasets".into()))
}

/// The four standard MNIST files in `dir`: 60k training, 10k test images.
pub fn mnist_full(dir: &Path) -> Result<super::assignments::Data, AppError> {
    Err(AppError(format!(
        "{}: waiting for nn::datasets",
        dir.display()
    )))
}
