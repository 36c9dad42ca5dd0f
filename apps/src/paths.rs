//! Where the bundled data lives. Paths are relative to the project root; when the binary runs
//! from elsewhere, the checkout it was built from is tried next, so `target/release/apps` works
//! from any folder of a checkout.

use std::path::{Path, PathBuf};

/// The regularization exercise's 2-D data set.
pub const REGULARIZATION_DATA: &str = "data/regularization_2d.mat";
/// The bundled official MNIST test set (`t10k-*.gz`).
pub const MNIST_DIR: &str = "data/mnist";
/// The reference numbers of the seeds, as NumPy computes them.
pub const SEED_NUMBERS: &str = "data/reference/seed_numbers.json";

/// `path` itself if it exists (or is absolute), else the same relative path inside the checkout
/// the binary was built from, if that exists; else `path` unchanged (so errors name it).
pub fn resolve(path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    let in_checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    if in_checkout.exists() {
        in_checkout
    } else {
        path.to_path_buf()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_data_is_found_from_the_crate_folder() {
        // Tests run with the crate folder (apps/) as working directory: the fallback is needed.
        for p in [REGULARIZATION_DATA, MNIST_DIR, SEED_NUMBERS] {
            assert!(resolve(Path::new(p)).exists(), "{p}");
        }
        assert_eq!(
            resolve(Path::new("no/such/file")),
            PathBuf::from("no/such/file")
        );
    }
}
