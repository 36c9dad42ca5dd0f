//! The assignments' data sets, generated and loaded through `nn::datasets` exactly as the
//! course does: NumPy's global generator seeded first, scikit-learn's generators drawing from
//! it; the regularization data from its `.mat` file; MNIST from IDX files, pixels scaled
//! `x·0.99/255 + 0.01`.

use std::path::Path;

use engine::random::NumpyRng;
use engine::Tensor;
use nn::datasets;

use crate::assignments::{AppError, Data};

fn data_error(e: datasets::DataError) -> AppError {
    AppError(e.to_string())
}

/// `np.random.seed(seed); sklearn.datasets.make_circles(n, noise=noise)`: `X (2, n)`, `Y (1, n)`.
pub fn circles(n: usize, noise: f64, seed: u32) -> Result<(Tensor<f64>, Tensor<f64>), AppError> {
    let mut rng = NumpyRng::new(seed);
    Ok(datasets::make_circles(n, noise, 0.8, &mut rng))
}

/// `np.random.seed(seed); sklearn.datasets.make_moons(n, noise=noise)`: `X (2, n)`, `Y (1, n)`.
pub fn moons(n: usize, noise: f64, seed: u32) -> Result<(Tensor<f64>, Tensor<f64>), AppError> {
    let mut rng = NumpyRng::new(seed);
    Ok(datasets::make_moons(n, noise, &mut rng))
}

/// The regularization exercise's 2-D data set: training `X`, `y` and test `Xval`, `yval`.
pub fn regularization_2d(path: &Path) -> Result<Data, AppError> {
    let d = datasets::load_regularization_2d(path).map_err(data_error)?;
    Ok(Data {
        x: d.x_train,
        y: d.y_train,
        test: Some((d.x_val, d.y_val)),
    })
}

/// The bundled MNIST test set split: first `n_train` images train, the rest test.
pub fn mnist_bundled_split(n_train: usize) -> Result<Data, AppError> {
    let dir = crate::paths::resolve(Path::new(crate::paths::MNIST_DIR));
    let all = datasets::load_mnist_test(&dir).map_err(data_error)?;
    if n_train == 0 || n_train >= all.len() {
        return Err(AppError(format!(
            "--n-train {n_train}: the bundled set has {} images; keep some for testing",
            all.len()
        )));
    }
    let train = all.select(0..n_train);
    let test = all.select(n_train..all.len());
    Ok(Data {
        x: train.images,
        y: train.one_hot,
        test: Some((test.images, test.one_hot)),
    })
}

/// The four standard MNIST files in `dir`: 60k training, 10k test images.
pub fn mnist_full(dir: &Path) -> Result<Data, AppError> {
    let d = datasets::load_mnist_dir(dir).map_err(data_error)?;
    Ok(Data {
        x: d.train.images,
        y: d.train.one_hot,
        test: Some((d.test.images, d.test.one_hot)),
    })
}
