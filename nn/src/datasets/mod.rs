//! The course's data sets, in the course layout (examples are columns: `X` is
//! `(n_features, m)`, labels `(1, m)` or one-hot `(classes, m)`).
//!
//! - [`make_circles`], [`make_moons`]: scikit-learn's generators, draw for draw, so that after
//!   `NumpyRng::new(s)` they give the course's data exactly.
//! - [`mat`]: MATLAB v5 `.mat` files (numeric matrices, compressed or not) and
//!   [`load_regularization_2d`], the regularization exercise's data.
//! - [`mnist`]: MNIST IDX files, raw or gzip, scaled as the course scales them.
//!
//! Why here: the apps and users reach data through `nn` together with the layers and training
//! loops that consume it; the loaders need nothing from the engine but tensor creation.
//! All loaders return [`DataError`] on bad files and never panic on them.

mod error;
pub mod mat;
pub mod mnist;
mod synthetic;

pub use error::{DataError, DataErrorKind, Location};
pub use mat::{load_mat, load_regularization_2d, MatArray, MatFile, Regularization2d};
pub use mnist::{
    load_idx, load_mnist_dir, load_mnist_test, mnist_files, one_hot, IdxArray, Mnist, MnistSplit,
};
pub use synthetic::{make_circles, make_moons};

use std::io::Read;
use std::path::Path;

/// Reads `path` whole, inflating it if it starts with the gzip magic `1f 8b` (whatever its
/// name). Returns the bytes and whether they were inflated, so that offsets in later errors can
/// say which bytes they count.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<(Vec<u8>, bool), DataError> {
    let raw = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok((raw, false));
    }
    let mut inflated = Vec::new();
    // On failure `inflated` keeps what was inflated before it, which the message reports.
    let result = flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut inflated);
    result.map_err(|e| {
        DataError::new(
            path,
            Location::File,
            inflate_error_kind(&e),
            format!(
                "the gzip stream cannot be inflated after {} bytes: {e}",
                inflated.len()
            ),
        )
    })?;
    Ok((inflated, true))
}

/// The kind of a failure to inflate compressed data: a stream that ends early is truncated,
/// any other failure means the compressed bytes are malformed.
pub(crate) fn inflate_error_kind(e: &std::io::Error) -> DataErrorKind {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        DataErrorKind::Truncated
    } else {
        DataErrorKind::Malformed
    }
}
