//! MNIST in the IDX format (raw or gzip, recognised by the gzip magic `1f 8b`, not the name),
//! as the course prepares it: pixels scaled `x * (0.99 / 255) + 0.01` (the course's
//! `fac = 0.99/255; imgs*fac+0.01`), images as columns `(784, m)`, labels as class indices and
//! one-hot `(10, m)`.
//!
//! IDX (LeCun's MNIST page): two zero bytes, a type byte (`0x08` unsigned byte for MNIST), the
//! number of dimensions, each dimension as a big-endian u32, then the data in row-major order.

use std::ops::Range;
use std::path::{Path, PathBuf};

use engine::Tensor;

use super::{read_maybe_gzip, DataError, DataErrorKind, Location};

/// Number of digit classes.
pub const CLASSES: usize = 10;

/// The course's pixel scaling: `[0, 255]` to `[0.01, 1.0]`, computed as the course's code does
/// (`x * fac + 0.01` with `fac = 0.99 / 255`), so the doubles are the same.
pub fn scale_pixel(value: u8) -> f64 {
    let fac = 0.99 / 255.0;
    f64::from(value) * fac + 0.01
}

/// An IDX array of unsigned bytes: its dimensions and row-major data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions from the header (`[10000, 28, 28]` for the MNIST test images).
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes, raw or gzip-compressed.
pub fn load_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    let path = path.as_ref();
    let (bytes, inflated) = read_maybe_gzip(path)?;
    parse_idx(&bytes, inflated, path)
}

fn parse_idx(bytes: &[u8], inflated: bool, path: &Path) -> Result<IdxArray, DataError> {
    let at = |offset: usize| {
        if inflated {
            Location::Inflated {
                compressed_at: 0,
                offset: offset as u64,
            }
        } else {
            Location::Offset(offset as u64)
        }
    };
    let error =
        |offset: usize, kind, problem: String| Err(DataError::new(path, at(offset), kind, problem));
    if bytes.len() < 4 {
        return error(
            bytes.len(),
            DataErrorKind::Truncated,
            format!("an IDX header needs 4 bytes, the file has {}", bytes.len()),
        );
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return error(
            0,
            DataErrorKind::BadMagic,
            format!(
                "not an IDX file: it starts {:02x} {:02x}, IDX files start 00 00",
                bytes[0], bytes[1]
            ),
        );
    }
    match bytes[2] {
        0x08 => {}
        kind @ (0x09 | 0x0b | 0x0c | 0x0d | 0x0e) => {
            return error(
                2,
                DataErrorKind::Unsupported,
                format!("IDX data type {kind:#04x}; only unsigned bytes (0x08) are read"),
            )
        }
        kind => {
            return error(
                2,
                DataErrorKind::BadMagic,
                format!("{kind:#04x} is not an IDX data type"),
            )
        }
    }
    let rank = usize::from(bytes[3]);
    let header_len = 4 + 4 * rank;
    if bytes.len() < header_len {
        return error(
            bytes.len(),
            DataErrorKind::Truncated,
            format!(
                "the header declares {rank} dimensions ({header_len} header bytes), the file \
                 has {} bytes",
                bytes.len()
            ),
        );
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let Some(expected) = expected else {
        return error(
            4,
            DataErrorKind::Malformed,
            format!("dimensions {dims:?} overflow"),
        );
    };
    let held = bytes.len() - header_len;
    if held < expected {
        return error(
            bytes.len(),
            DataErrorKind::Truncated,
            format!("dimensions {dims:?} need {expected} data bytes, the file holds {held}"),
        );
    }
    if held > expected {
        return error(
            header_len + expected,
            DataErrorKind::Malformed,
            format!(
                "{} bytes follow the {expected} data bytes of dimensions {dims:?}",
                held - expected
            ),
        );
    }
    Ok(IdxArray {
        dims,
        data: bytes[header_len..].to_vec(),
    })
}

/// An error naming the field `dimensions` unless `array` has `rank` of them (`expected` says
/// what they are).
fn expect_rank(
    array: &IdxArray,
    path: &Path,
    rank: usize,
    expected: &str,
) -> Result<(), DataError> {
    if array.dims.len() == rank {
        return Ok(());
    }
    Err(DataError::new(
        path,
        Location::Field("dimensions".into()),
        DataErrorKind::Malformed,
        format!("{expected}, this one {:?}", array.dims),
    ))
}

/// One part of MNIST (training or test), in the course layout.
#[derive(Clone, Debug)]
pub struct MnistSplit {
    /// Pixels scaled by [`scale_pixel`], one image per column: `(784, m)`.
    pub images: Tensor<f64>,
    /// Digit of each image, `0..10`.
    pub labels: Vec<u8>,
    /// One-hot labels, `(10, m)`.
    pub one_hot: Tensor<f64>,
    /// Rows and columns of each image, from the images file's header (`[28, 28]` for MNIST;
    /// the loader reads any size, so callers that need 28×28 check this).
    pub image_shape: [usize; 2],
}

impl MnistSplit {
    /// Loads an images file (`n × rows × cols`) and its labels file (`n`), each raw or gzip.
    pub fn load(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Self, DataError> {
        let (images_path, labels_path) = (images.as_ref(), labels.as_ref());
        let images = load_idx(images_path)?;
        expect_rank(
            &images,
            images_path,
            3,
            "an images file has 3 dimensions (count, rows, columns)",
        )?;
        let labels = load_idx(labels_path)?;
        expect_rank(
            &labels,
            labels_path,
            1,
            "a labels file has 1 dimension (count)",
        )?;
        let m = images.dims[0];
        if labels.dims[0] != m {
            return Err(DataError::new(
                labels_path,
                Location::Field("item count".into()),
                DataErrorKind::CountMismatch,
                format!(
                    "{} labels, but {} holds {m} images",
                    labels.dims[0],
                    images_path.display()
                ),
            ));
        }
        if let Some(i) = labels.data.iter().position(|&l| usize::from(l) >= CLASSES) {
            // The data starts after the 8-byte header of a 1-D IDX file.
            return Err(DataError::new(
                labels_path,
                Location::Field(format!("label {i} (data byte {})", 8 + i)),
                DataErrorKind::Malformed,
                format!("{} is not a digit 0-9", labels.data[i]),
            ));
        }
        let pixels = images.dims[1] * images.dims[2];
        let mut columns = vec![0.0; pixels * m];
        for (i, image) in images.data.chunks_exact(pixels.max(1)).enumerate() {
            for (p, &value) in image.iter().enumerate() {
                columns[p * m + i] = scale_pixel(value);
            }
        }
        Ok(MnistSplit {
            images: Tensor::from_vec(columns, &[pixels, m]),
            one_hot: one_hot(&labels.data, CLASSES),
            labels: labels.data,
            image_shape: [images.dims[1], images.dims[2]],
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The labels as a `(1, m)` row of class indices (the course's `labels_T`).
    pub fn label_row(&self) -> Tensor<f64> {
        let row = self.labels.iter().map(|&l| f64::from(l)).collect();
        Tensor::from_vec(row, &[1, self.len()])
    }

    /// The images `range` (say the first 8000 for training and the rest for testing).
    #[track_caller]
    pub fn select(&self, range: Range<usize>) -> MnistSplit {
        assert!(
            range.start <= range.end && range.end <= self.len(),
            "MnistSplit::select: range {range:?} outside 0..{}",
            self.len()
        );
        let m = self.len();
        let take_columns = |t: &Tensor<f64>| {
            let rows = t.shape()[0];
            let data = t.with_data(|d| {
                (0..rows)
                    .flat_map(|r| d[r * m + range.start..r * m + range.end].iter().copied())
                    .collect()
            });
            Tensor::from_vec(data, &[rows, range.len()])
        };
        MnistSplit {
            images: take_columns(&self.images.contiguous()),
            one_hot: take_columns(&self.one_hot.contiguous()),
            labels: self.labels[range.clone()].to_vec(),
            image_shape: self.image_shape,
        }
    }
}

/// The full data set: 60,000 training and 10,000 test images with the official files.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// From `train-images-idx3-ubyte` and `train-labels-idx1-ubyte`.
    pub train: MnistSplit,
    /// From `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`.
    pub test: MnistSplit,
}

/// `one_hot[c, i] = 1` where `labels[i] == c`: shape `(classes, m)` (the course's
/// `convert_to_one_hot`), as [`crate::data::one_hot`] for byte labels. Panics if a label is not
/// below `classes`.
#[track_caller]
pub fn one_hot(labels: &[u8], classes: usize) -> Tensor<f64> {
    let labels: Vec<usize> = labels.iter().map(|&l| usize::from(l)).collect();
    crate::data::one_hot(&labels, classes)
}

/// The images and labels files of one split in `dir` (`prefix` is `train` or `t10k`), as
/// [`load_mnist_dir`] finds them, without reading them: to check a folder before a long job,
/// or to load one split with [`MnistSplit::load`] knowing which files it came from.
pub fn mnist_files(dir: impl AsRef<Path>, prefix: &str) -> Result<(PathBuf, PathBuf), DataError> {
    let dir = dir.as_ref();
    Ok((
        find_file(dir, prefix, "images", 3)?,
        find_file(dir, prefix, "labels", 1)?,
    ))
}

/// Finds `<prefix>-<kind>-idx<rank>-ubyte` in `dir`, also with `.idx` instead of `-idx`, each
/// raw or `.gz`.
fn find_file(dir: &Path, prefix: &str, kind: &str, rank: u8) -> Result<PathBuf, DataError> {
    let names = [
        format!("{prefix}-{kind}-idx{rank}-ubyte"),
        format!("{prefix}-{kind}.idx{rank}-ubyte"),
    ];
    for name in &names {
        for suffix in ["", ".gz"] {
            let candidate = dir.join(format!("{name}{suffix}"));
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(DataError::new(
        dir.join(format!("{}[.gz]", names[0])),
        Location::File,
        DataErrorKind::Missing,
        format!("no such file (also looked for {}[.gz])", names[1]),
    ))
}

/// Loads the four standard files from `dir`: `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or
/// with `.gz` (names with `.idx3` instead of `-idx3` are accepted too).
pub fn load_mnist_dir(dir: impl AsRef<Path>) -> Result<Mnist, DataError> {
    let dir = dir.as_ref();
    Ok(Mnist {
        train: load_split(dir, "train")?,
        test: load_split(dir, "t10k")?,
    })
}

/// Loads only the official test set (`t10k-*`) from `dir`: what the repository ships in
/// `data/mnist` (10,000 images).
pub fn load_mnist_test(dir: impl AsRef<Path>) -> Result<MnistSplit, DataError> {
    load_split(dir.as_ref(), "t10k")
}

/// `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte` from `dir`.
fn load_split(dir: &Path, prefix: &str) -> Result<MnistSplit, DataError> {
    MnistSplit::load(
        find_file(dir, prefix, "images", 3)?,
        find_file(dir, prefix, "labels", 1)?,
    )
}
