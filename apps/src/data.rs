//! The assignments' data sets, generated and loaded through `nn::datasets` exactly as the
//! course does: NumPy's global generator seeded first, scikit-learn's generators drawing from
//! it; the regularization data from its `.mat` file; MNIST from IDX files, pixels scaled
//! `x·0.99/255 + 0.01`.
//!
//! Loaded data is checked before any training starts: at least one training and one test
//! example, binary labels in the `.mat` file (checked by `nn`), and 28×28 images for the
//! `[784, ...]` MNIST network. Each error names the file and the field.

use std::path::{Path, PathBuf};

use engine::random::NumpyRng;
use engine::Tensor;
use nn::datasets::{self, MnistSplit};

use crate::assignments::{AppError, Data};

fn data_error(e: datasets::DataError) -> AppError {
    AppError(e.to_string())
}

/// Rows and columns of the images the MNIST network reads (`784 = 28 × 28` inputs).
pub const MNIST_IMAGE: [usize; 2] = [28, 28];

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
        source: vec![path.display().to_string()],
    })
}

/// One split of MNIST from `dir` (`prefix` `train` or `t10k`), its images checked to be 28×28,
/// and the files it came from.
fn mnist_split(dir: &Path, prefix: &str) -> Result<(MnistSplit, [PathBuf; 2]), AppError> {
    let (images, labels) = datasets::mnist_files(dir, prefix).map_err(data_error)?;
    let split = MnistSplit::load(&images, &labels).map_err(data_error)?;
    if split.image_shape != MNIST_IMAGE {
        return Err(AppError(format!(
            "{}: in `dimensions`: images are {}×{}; the MNIST network reads {}×{} images",
            images.display(),
            split.image_shape[0],
            split.image_shape[1],
            MNIST_IMAGE[0],
            MNIST_IMAGE[1]
        )));
    }
    Ok((split, [images, labels]))
}

/// An error unless the set has examples (`what` names it: "training set" or "test set").
fn nonempty(split: &MnistSplit, file: &Path, what: &str) -> Result<(), AppError> {
    if split.is_empty() {
        return Err(AppError(format!(
            "{}: in `item count`: the {what} has 0 images; at least one is needed",
            file.display()
        )));
    }
    Ok(())
}

/// The bundled MNIST test set split: first `n_train` images train, the rest test.
pub fn mnist_bundled_split(n_train: usize) -> Result<Data, AppError> {
    let dir = crate::paths::bundled(crate::paths::MNIST_DIR);
    let (all, files) = mnist_split(&dir, "t10k")?;
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
        source: files.iter().map(|f| f.display().to_string()).collect(),
    })
}

/// The four standard MNIST files in `dir`: 60k training, 10k test images.
pub fn mnist_full(dir: &Path) -> Result<Data, AppError> {
    let (train, train_files) = mnist_split(dir, "train")?;
    nonempty(&train, &train_files[0], "training set")?;
    let (test, test_files) = mnist_split(dir, "t10k")?;
    nonempty(&test, &test_files[0], "test set")?;
    Ok(Data {
        x: train.images,
        y: train.one_hot,
        test: Some((test.images, test.one_hot)),
        source: train_files
            .iter()
            .chain(&test_files)
            .map(|f| f.display().to_string())
            .collect(),
    })
}

/// Checks that `dir` holds the four MNIST files (without reading them), so that a wrong
/// `--data-dir` fails before any training.
pub fn check_mnist_dir(dir: &Path) -> Result<(), AppError> {
    if !dir.is_dir() {
        return Err(AppError(format!(
            "--data-dir {}: not a folder",
            dir.display()
        )));
    }
    for prefix in ["train", "t10k"] {
        datasets::mnist_files(dir, prefix).map_err(data_error)?;
    }
    Ok(())
}
