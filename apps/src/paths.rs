//! Where the bundled data lives.
//!
//! The bundled files are found from the crate's own location (`CARGO_MANIFEST_DIR`, fixed at
//! build time), never from the current folder first: running `apps` from a folder that happens
//! to hold its own `data/mnist` must not silently train on that. Only when the checkout the
//! binary was built from is gone (the binary was copied elsewhere) is the same relative path
//! tried in the current folder. Every run says which files it loaded (the first text line,
//! the `data` field of its JSON object).
//!
//! A path the user gives is used as given (relative to the current folder), except that the
//! bundled defaults' exact relative names (`data/regularization_2d.mat`, `data/mnist`) mean the
//! bundled copies; write `./data/regularization_2d.mat` for a file of that name in the current
//! folder.

use std::path::{Path, PathBuf};

/// The regularization exercise's 2-D data set.
pub const REGULARIZATION_DATA: &str = "data/regularization_2d.mat";
/// The bundled official MNIST test set (`t10k-*.gz`).
pub const MNIST_DIR: &str = "data/mnist";
/// The reference numbers of the seeds, as NumPy computes them.
pub const SEED_NUMBERS: &str = "data/reference/seed_numbers.json";

/// The checkout the binary was built from.
fn checkout() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir
        .parent()
        .map_or_else(|| crate_dir.join(".."), Path::to_path_buf)
}

/// The bundled file `relative` (one of the constants above) inside the checkout the binary was
/// built from; if that checkout is gone, `relative` itself (the current folder's copy, if any).
pub fn bundled(relative: &str) -> PathBuf {
    let in_checkout = checkout().join(relative);
    if in_checkout.exists() {
        in_checkout
    } else {
        PathBuf::from(relative)
    }
}

/// The file a path names: the bundled copy for the bundled defaults' exact relative names (see
/// the module docs), else `path` as given.
pub fn resolve(path: &Path) -> PathBuf {
    for name in [REGULARIZATION_DATA, MNIST_DIR, SEED_NUMBERS] {
        if path == Path::new(name) {
            return bundled(name);
        }
    }
    path.to_path_buf()
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

    /// The bundled copy wins over a same-named file in the current folder; `./` names the
    /// current folder's.
    #[test]
    fn bundled_names_do_not_depend_on_the_current_folder() {
        let bundled = resolve(Path::new(MNIST_DIR));
        assert!(bundled.is_absolute(), "{}", bundled.display());
        assert_eq!(
            bundled.canonicalize().unwrap(),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../data/mnist")
                .canonicalize()
                .unwrap()
        );
        let local = format!("./{REGULARIZATION_DATA}");
        assert_eq!(resolve(Path::new(&local)), PathBuf::from(&local));
    }
}
