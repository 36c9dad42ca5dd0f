//! Data sets against independent references:
//! - circles and moons against `data/reference/seed_numbers.json` (scikit-learn 1.9.1 after
//!   `np.random.seed`), within 1e-15 absolute: the layout uses `cos`/`sin`, which NumPy may
//!   compute with its own SIMD routines and Rust with the platform's libm, so the last bit may
//!   differ between machines (on the development machine, glibc, the data are bit-identical);
//!   the draws themselves are bit-exact. Labels must be equal.
//! - the `.mat` files against `scipy.io.loadmat` (values quoted below), and the fixtures in
//!   `tests/data` written by `scipy.io.savemat` from known arrays;
//! - MNIST against NumPy reading the same IDX files (label counts, scaled pixel values).
//!
//! Bad files are written into a fresh temporary directory per test.

use std::io::Write;
use std::path::{Path, PathBuf};

use engine::random::NumpyRng;
use engine::Tensor;
use nn::datasets::{
    load_idx, load_mat, load_mnist_dir, load_mnist_test, load_regularization_2d, make_circles,
    make_moons, mnist, DataError, DataErrorKind, Location, MnistSplit,
};
use serde_json::Value;

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A fresh, empty directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("ferrograd-datasets-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn reference_json() -> Value {
    let text = std::fs::read_to_string(repo_file("data/reference/seed_numbers.json")).unwrap();
    // Python's json writes the course's `inf` cost as a bare `Infinity`, which is not JSON;
    // no data set value is affected by reading it as null.
    serde_json::from_str(&text.replace("Infinity", "null")).unwrap()
}

fn matrix(value: &Value) -> (Vec<usize>, Vec<f64>) {
    let rows = value.as_array().expect("rows");
    let cols = rows[0].as_array().expect("a row").len();
    let data = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
        .collect();
    (vec![rows.len(), cols], data)
}

fn assert_close(what: &str, got: &Tensor<f64>, expected: &Value, tolerance: f64) {
    let (shape, want) = matrix(expected);
    assert_eq!(got.shape(), &shape[..], "{what}: shape");
    let got = got.to_vec();
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max);
    assert!(worst <= tolerance, "{what}: worst difference {worst:e}");
}

// ----- circles and moons ------------------------------------------------------------------

#[test]
fn circles_match_the_course_data_sets() {
    let reference = reference_json();
    let data = &reference["init"]["dataset"];

    let mut rng = NumpyRng::new(1);
    let (x, y) = make_circles(300, 0.05, 0.8, &mut rng);
    assert_close("train X", &x, &data["train_X"], 1e-15);
    assert_close("train Y", &y, &data["train_Y"], 0.0);

    rng.seed(2);
    let (x, y) = make_circles(100, 0.05, 0.8, &mut rng);
    assert_close("test X", &x, &data["test_X"], 1e-15);
    assert_close("test Y", &y, &data["test_Y"], 0.0);
}

#[test]
fn moons_match_the_course_data_set() {
    let reference = reference_json();
    let data = &reference["opt"]["dataset"];
    let mut rng = NumpyRng::new(3);
    let (x, y) = make_moons(300, 0.2, &mut rng);
    assert_close("moons X", &x, &data["X"], 1e-15);
    assert_close("moons Y", &y, &data["Y"], 0.0);
}

/// The generators must leave the stream where scikit-learn leaves it: the course draws its
/// initial weights after the data. NumPy 2.4.6 + scikit-learn 1.9.1:
/// `np.random.seed(3); make_moons(300, noise=.2); np.random.rand()` = 0.5550478189590234
/// (it draws the permutation's 299 interval values and 600 normals first).
#[test]
fn moons_consume_the_stream_like_scikit_learn() {
    let mut rng = NumpyRng::new(3);
    make_moons(300, 0.2, &mut rng);
    assert_eq!(rng.random_f64(), 0.5550478189590234);
}

// ----- MATLAB files -----------------------------------------------------------------------

/// Values from `scipy.io.loadmat("data/regularization_2d.mat")` (SciPy 1.17).
#[test]
fn regularization_2d_loads_in_the_course_layout() {
    let data = load_regularization_2d(repo_file("data/regularization_2d.mat")).unwrap();
    assert_eq!(data.x_train.shape(), &[2, 211]);
    assert_eq!(data.y_train.shape(), &[1, 211]);
    assert_eq!(data.x_val.shape(), &[2, 200]);
    assert_eq!(data.y_val.shape(), &[1, 200]);

    // X[0] = [-0.158986, 0.423977], X[-1] = [-0.153111, 0.184503]: columns in the layout.
    assert_eq!(data.x_train.at(&[0, 0]), -0.158986);
    assert_eq!(data.x_train.at(&[1, 0]), 0.423977);
    assert_eq!(data.x_train.at(&[0, 210]), -0.153111);
    assert_eq!(data.x_train.at(&[1, 210]), 0.184503);
    assert_eq!(data.x_val.at(&[0, 0]), -0.3530623458334412);
    assert_eq!(data.x_val.at(&[1, 199]), -0.42941272913886863);
    // Sums (order-dependent rounding, hence the tolerance): X -40.087648098, y 106, Xval
    // -37.94197603129829, yval 87.
    let sum = |t: &Tensor<f64>| t.to_vec().iter().sum::<f64>();
    assert!((sum(&data.x_train) + 40.087648097999995).abs() < 1e-12);
    assert!((sum(&data.x_val) + 37.94197603129829).abs() < 1e-12);
    assert_eq!(sum(&data.y_train), 106.0);
    assert_eq!(sum(&data.y_val), 87.0);
    assert_eq!(data.y_train.at(&[0, 0]), 1.0);
    assert!(data.y_val.to_vec().iter().all(|&v| v == 0.0 || v == 1.0));
}

/// The fixtures were written by `scipy.io.savemat` (plain and `do_compression=True`) from:
/// `a` = [[1.5, -2], [3.25, 4], [-5, 6.125]]; `i16` int16 [[-300, 2, 3], [4, 5, 30000]];
/// `f32` float32 [[0.1, -0.2, 3.5, 1e-3]]; `u8` uint8 [[0, 255, 7]]; `i64` int64
/// [[-9007199254740993, 42]]; `cube` = arange(24).reshape(2, 3, 4) / 8; `z` complex
/// [[1+2j, 3-1j]]; `txt` 'hello'; `cell` a 1x2 cell; `st` a struct; `empty` zeros((0, 3)).
#[test]
fn mixed_fixture_reads_every_numeric_class_and_skips_the_rest() {
    for name in ["mixed_v5.mat", "mixed_v5_compressed.mat"] {
        let file = load_mat(fixture(name)).unwrap();
        let get = |n: &str| file.get(n).unwrap_or_else(|| panic!("{name}: no {n}"));

        let a = get("a");
        assert_eq!(a.dims, [3, 2]);
        assert_eq!(a.to_tensor().to_vec(), [1.5, -2.0, 3.25, 4.0, -5.0, 6.125]);
        assert_eq!(a.to_tensor_transposed().shape(), &[2, 3]);
        assert_eq!(
            a.to_tensor_transposed().to_vec(),
            [1.5, 3.25, -5.0, -2.0, 4.0, 6.125]
        );
        assert_eq!(
            get("i16").to_tensor().to_vec(),
            [-300.0, 2.0, 3.0, 4.0, 5.0, 30000.0]
        );
        let f32s = [0.1f32, -0.2, 3.5, 1e-3].map(f64::from);
        assert_eq!(get("f32").to_tensor().to_vec(), f32s);
        assert_eq!(get("u8").to_tensor().to_vec(), [0.0, 255.0, 7.0]);
        assert_eq!(
            get("i64").to_tensor().to_vec(),
            [-9007199254740993i64 as f64, 42.0]
        );

        let cube = get("cube");
        assert_eq!(cube.dims, [2, 3, 4]);
        let expected: Vec<f64> = (0..24).map(|i| f64::from(i) / 8.0).collect();
        assert_eq!(cube.to_tensor().shape(), &[2, 3, 4]);
        assert_eq!(cube.to_tensor().to_vec(), expected);
        // `.T` reverses the axes: element [k, j, i] of the transpose is element [i, j, k].
        let t = cube.to_tensor_transposed();
        assert_eq!(t.shape(), &[4, 3, 2]);
        assert_eq!(t.at(&[3, 1, 0]), cube.to_tensor().at(&[0, 1, 3]));

        let empty = get("empty");
        assert_eq!(empty.dims, [0, 3]);
        assert!(empty.data.is_empty());

        let mut skipped: Vec<&str> = file.skipped.iter().map(|(n, _)| n.as_str()).collect();
        skipped.sort_unstable();
        assert_eq!(skipped, ["cell", "st", "txt", "z"], "{name}");
        let err = file.require("z").unwrap_err();
        assert_eq!(err.kind(), DataErrorKind::Missing);
        assert!(err.to_string().contains("complex"), "{err}");
        let err = file.require("nope").unwrap_err();
        assert_eq!(err.location(), &Location::Field("nope".into()));
        assert!(err.to_string().contains(name), "{err}");
    }
}

/// A hand-built file: 128-byte header, then uncompressed `miMATRIX` elements.
struct MatBuilder {
    big_endian: bool,
    bytes: Vec<u8>,
}

impl MatBuilder {
    fn new(big_endian: bool) -> Self {
        let mut bytes = b"MATLAB 5.0 MAT-file, test".to_vec();
        bytes.resize(116, b' ');
        bytes.extend_from_slice(&[0; 8]);
        if big_endian {
            bytes.extend_from_slice(&[0x01, 0x00, b'M', b'I']);
        } else {
            bytes.extend_from_slice(&[0x00, 0x01, b'I', b'M']);
        }
        MatBuilder { big_endian, bytes }
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn element(&self, data_type: u32, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.u32(data_type));
        out.extend_from_slice(&self.u32(data.len() as u32));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(8) * 8, 0);
        out
    }

    /// A double matrix whose real part is stored as `real_type` with `real` bytes.
    fn matrix(mut self, name: &str, dims: &[i32], real_type: u32, real: &[u8]) -> Self {
        let mut body = Vec::new();
        let flags: Vec<u8> = [self.u32(6), self.u32(0)].concat();
        body.extend(self.element(6, &flags));
        let dims: Vec<u8> = dims.iter().flat_map(|&d| self.u32(d as u32)).collect();
        body.extend(self.element(5, &dims));
        // Names of up to 4 bytes use the small-element form, as MATLAB writes them.
        if name.len() <= 4 {
            let mut small = self.u32(((name.len() as u32) << 16) | 1).to_vec();
            let mut padded = name.as_bytes().to_vec();
            padded.resize(4, 0);
            small.extend(padded);
            body.extend(small);
        } else {
            body.extend(self.element(1, name.as_bytes()));
        }
        body.extend(self.element(real_type, real));
        let element = self.element(14, &body);
        self.bytes.extend(element);
        self
    }

    fn f64s(&self, values: &[f64]) -> Vec<u8> {
        values
            .iter()
            .flat_map(|v| {
                if self.big_endian {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            })
            .collect()
    }
}

#[test]
fn hand_built_files_in_both_byte_orders() {
    let dir = scratch_dir("byte_orders");
    for big_endian in [false, true] {
        let b = MatBuilder::new(big_endian);
        let values = b.f64s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = b
            .matrix("m", &[2, 3], 9, &values)
            .matrix("labels", &[1, 3], 2, &[0, 1, 200]);
        let path = write(&dir, &format!("built_{big_endian}.mat"), &b.bytes);
        let file = load_mat(&path).unwrap();
        let m = file.require("m").unwrap();
        // Column-major [1..6] as a 2x3 matrix: rows [1, 3, 5] and [2, 4, 6].
        assert_eq!(m.to_tensor().to_vec(), [1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        assert_eq!(file.require("labels").unwrap().data, [0.0, 1.0, 200.0]);
    }
}

fn mat_error(dir: &Path, name: &str, bytes: &[u8]) -> DataError {
    let path = write(dir, name, bytes);
    let err = load_mat(&path).expect_err("a bad file must not load");
    assert_eq!(err.path(), path, "the error names the file");
    assert!(err.to_string().contains(name), "{err}");
    err
}

#[test]
fn bad_mat_files_are_errors_naming_file_place_and_problem() {
    let dir = scratch_dir("bad_mat");
    let good = std::fs::read(repo_file("data/regularization_2d.mat")).unwrap();

    let err = mat_error(&dir, "text.mat", b"just some text, not a MAT-file at all");
    assert_eq!(err.kind(), DataErrorKind::BadMagic);
    assert_eq!(err.location(), &Location::Offset(0));

    let err = mat_error(&dir, "short_header.mat", &good[..100]);
    assert_eq!(err.kind(), DataErrorKind::Truncated);

    let mut bad_order = good.clone();
    bad_order[126..128].copy_from_slice(b"XX");
    let err = mat_error(&dir, "bad_order.mat", &bad_order);
    assert_eq!(err.kind(), DataErrorKind::BadMagic);
    assert_eq!(err.location(), &Location::Offset(126));

    let mut hdf5 = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 .".to_vec();
    hdf5.resize(512, 0);
    let err = mat_error(&dir, "v73.mat", &hdf5);
    assert_eq!(err.kind(), DataErrorKind::Unsupported);

    // Cut inside the first compressed element, which starts at byte 128.
    let err = mat_error(&dir, "cut.mat", &good[..1000]);
    assert_eq!(err.kind(), DataErrorKind::Truncated);
    assert_eq!(err.location(), &Location::Offset(128));
    assert!(
        err.to_string()
            .contains("at byte 128: miCOMPRESSED element declares 2576 bytes, only 864 remain"),
        "{err}"
    );

    // Garbage inside the zlib stream.
    let mut corrupt = good.clone();
    for byte in &mut corrupt[150..400] {
        *byte = 0xA5;
    }
    let err = mat_error(&dir, "corrupt.mat", &corrupt);
    assert!(
        matches!(
            err.kind(),
            DataErrorKind::Malformed | DataErrorKind::Truncated
        ),
        "{err}"
    );
    assert_eq!(err.location(), &Location::Offset(136));

    // Dimensions promise 3x2 = 6 values, the real part holds 4.
    let b = MatBuilder::new(false);
    let four = b.f64s(&[1.0, 2.0, 3.0, 4.0]);
    let err = mat_error(&dir, "count.mat", &b.matrix("m", &[3, 2], 9, &four).bytes);
    assert_eq!(err.kind(), DataErrorKind::CountMismatch);
    assert!(err.problem().contains("6 values"), "{err}");

    let b = MatBuilder::new(false);
    let one = b.f64s(&[1.0]);
    let err = mat_error(
        &dir,
        "negative.mat",
        &b.matrix("m", &[-1, 1], 9, &one).bytes,
    );
    assert_eq!(err.kind(), DataErrorKind::Malformed);
    assert!(err.problem().contains("negative"), "{err}");

    // 7 bytes of doubles: not a whole number of values.
    let b = MatBuilder::new(false);
    let err = mat_error(
        &dir,
        "ragged.mat",
        &b.matrix("m", &[1, 1], 9, &[0; 7]).bytes,
    );
    assert_eq!(err.kind(), DataErrorKind::Malformed);

    let err = load_mat(dir.join("absent.mat")).unwrap_err();
    assert_eq!(err.kind(), DataErrorKind::Io);

    // A file that parses but lacks the exercise's variables.
    let b = MatBuilder::new(false);
    let two = b.f64s(&[1.0, 2.0]);
    let path = write(&dir, "other.mat", &b.matrix("X", &[1, 2], 9, &two).bytes);
    let err = load_regularization_2d(&path).unwrap_err();
    assert_eq!(err.kind(), DataErrorKind::Missing);
    assert_eq!(err.location(), &Location::Field("y".into()));
}

/// Every prefix of the real file fails cleanly (no panic) or, cut at an element boundary,
/// loads fewer variables; every single-byte corruption of its first 300 bytes returns
/// (corrupting the header text is a bad-magic error).
#[test]
fn no_prefix_or_corruption_of_the_mat_file_panics() {
    let good = std::fs::read(repo_file("data/regularization_2d.mat")).unwrap();
    let path = Path::new("regularization_2d.mat");
    for len in (0..good.len()).step_by(7) {
        match nn::datasets::MatFile::from_bytes(&good[..len], path) {
            Err(err) => assert_eq!(err.path(), path),
            Ok(file) => assert!(len >= 128 && file.arrays.len() < 4, "prefix {len}"),
        }
    }
    for i in 0..300 {
        let mut bytes = good.clone();
        bytes[i] ^= 0xFF;
        let result = nn::datasets::MatFile::from_bytes(&bytes, path);
        if i < 19 {
            assert_eq!(
                result.unwrap_err().kind(),
                DataErrorKind::BadMagic,
                "byte {i}"
            );
        }
    }
}

// ----- MNIST ------------------------------------------------------------------------------

/// Counts, first labels and pixel values from NumPy reading the same files
/// (`np.bincount(labels)`, `imgs * (0.99/255) + 0.01`).
#[test]
fn bundled_mnist_test_set_loads() {
    let test = load_mnist_test(repo_file("data/mnist")).unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!(test.images.shape(), &[784, 10_000]);
    assert_eq!(test.one_hot.shape(), &[10, 10_000]);
    assert_eq!(test.labels[..10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    let mut counts = [0usize; 10];
    for &l in &test.labels {
        counts[usize::from(l)] += 1;
    }
    assert_eq!(
        counts,
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_eq!(test.one_hot.at(&[7, 0]), 1.0);
    assert_eq!(test.one_hot.to_vec().iter().sum::<f64>(), 10_000.0);
    assert_eq!(test.label_row().at(&[0, 1]), 2.0);

    // Image 0: brightest pixel 355 scales to 1.0, pixel 202 to 0.3361176470588235.
    assert_eq!(test.images.at(&[355, 0]), 1.0);
    assert_eq!(test.images.at(&[202, 0]), 0.3361176470588235);
    assert_eq!(test.images.at(&[0, 0]), 0.01);
    let column_sum: f64 = (0..784).map(|p| test.images.at(&[p, 9999])).sum();
    assert!(
        (column_sum - 170.25047058823526).abs() < 1e-11,
        "{column_sum}"
    );

    let (first, rest) = (test.select(0..8000), test.select(8000..10_000));
    assert_eq!(first.images.shape(), &[784, 8000]);
    assert_eq!(rest.one_hot.shape(), &[10, 2000]);
    assert_eq!(rest.labels[1999], 6);
    assert_eq!(rest.images.at(&[202, 1999]), test.images.at(&[202, 9999]));
}

/// `fac = 0.99/255` then `x*fac + 0.01` (NumPy 2.4.6): 0 -> 0.01, 1 -> 0.01388235294117647,
/// 128 -> 0.5069411764705882, 254 -> 0.9961176470588236, 255 -> 1.0.
#[test]
fn pixels_scale_like_the_seed() {
    let expected = [
        (0, 0.01),
        (1, 0.01388235294117647),
        (128, 0.5069411764705882),
        (254, 0.9961176470588236),
        (255, 1.0),
    ];
    for (pixel, value) in expected {
        assert_eq!(mnist::scale_pixel(pixel).to_bits(), f64::to_bits(value));
    }
}

fn idx(data_type: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, data_type, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// Two 2x2 images and their labels, as the four standard file names (train and test equal).
fn tiny_mnist(dir: &Path, compress: bool) {
    let images = idx(8, &[2, 2, 2], &[0, 255, 128, 1, 10, 20, 30, 40]);
    let labels = idx(8, &[2], &[3, 9]);
    let (images, labels, suffix) = if compress {
        (gzip(&images), gzip(&labels), ".gz")
    } else {
        (images, labels, "")
    };
    for prefix in ["train", "t10k"] {
        write(dir, &format!("{prefix}-images-idx3-ubyte{suffix}"), &images);
        write(dir, &format!("{prefix}-labels-idx1-ubyte{suffix}"), &labels);
    }
}

#[test]
fn a_folder_of_four_files_loads_raw_or_gzip() {
    for compress in [false, true] {
        let dir = scratch_dir(&format!("four_files_{compress}"));
        tiny_mnist(&dir, compress);
        let data = load_mnist_dir(&dir).unwrap();
        for split in [&data.train, &data.test] {
            assert_eq!(split.images.shape(), &[4, 2]);
            // Image 0 is pixels [0, 255, 128, 1]: column 0.
            let column0: Vec<f64> = (0..4).map(|p| split.images.at(&[p, 0])).collect();
            assert_eq!(
                column0,
                [0.01, 1.0, 0.5069411764705882, 0.01388235294117647]
            );
            assert_eq!(split.labels, [3, 9]);
            assert_eq!(
                split.one_hot.to_vec2(),
                (0..10)
                    .map(|c| vec![f64::from(c == 3), f64::from(c == 9)])
                    .collect::<Vec<_>>()
            );
        }
    }
}

fn idx_error(dir: &Path, name: &str, bytes: &[u8]) -> DataError {
    let path = write(dir, name, bytes);
    let err = load_idx(&path).expect_err("a bad file must not load");
    assert_eq!(err.path(), path);
    assert!(err.to_string().contains(name), "{err}");
    err
}

#[test]
fn bad_idx_files_are_errors_naming_file_place_and_problem() {
    let dir = scratch_dir("bad_idx");
    let good = idx(8, &[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]);

    let err = idx_error(&dir, "magic.idx", b"P5 not an idx file");
    assert_eq!(err.kind(), DataErrorKind::BadMagic);
    assert_eq!(err.location(), &Location::Offset(0));

    let err = idx_error(&dir, "tiny.idx", &[0, 0]);
    assert_eq!(err.kind(), DataErrorKind::Truncated);

    let err = idx_error(&dir, "header.idx", &good[..10]);
    assert_eq!(err.kind(), DataErrorKind::Truncated);
    assert!(err.problem().contains("3 dimensions"), "{err}");

    let err = idx_error(&dir, "data.idx", &good[..good.len() - 3]);
    assert_eq!(err.kind(), DataErrorKind::Truncated);
    assert!(err.problem().contains("need 8 data bytes"), "{err}");

    let mut long = good.clone();
    long.extend_from_slice(&[9, 9]);
    let err = idx_error(&dir, "long.idx", &long);
    assert_eq!(err.kind(), DataErrorKind::Malformed);
    assert_eq!(err.location(), &Location::Offset(24));

    let err = idx_error(&dir, "float.idx", &idx(0x0d, &[1], &[0, 0, 0, 0]));
    assert_eq!(err.kind(), DataErrorKind::Unsupported);
    assert_eq!(err.location(), &Location::Offset(2));

    // Offsets inside a gzip file count inflated bytes.
    let err = idx_error(&dir, "data.idx.gz", &gzip(&good[..good.len() - 3]));
    assert_eq!(err.kind(), DataErrorKind::Truncated);
    assert!(matches!(err.location(), Location::Inflated { .. }), "{err}");
    assert!(err.to_string().contains("inflated"), "{err}");

    let compressed = gzip(&good);
    let err = idx_error(&dir, "cut.gz", &compressed[..compressed.len() - 6]);
    assert_eq!(err.kind(), DataErrorKind::Truncated);
    assert!(err.problem().contains("gzip"), "{err}");

    let mut corrupt = compressed.clone();
    for byte in &mut corrupt[10..compressed.len() - 8] {
        *byte = 0xFF;
    }
    let err = idx_error(&dir, "corrupt.gz", &corrupt);
    assert!(
        matches!(
            err.kind(),
            DataErrorKind::Malformed | DataErrorKind::Truncated
        ),
        "{err}"
    );
}

#[test]
fn mismatched_or_invalid_mnist_pairs_are_errors() {
    let dir = scratch_dir("bad_pairs");
    let images = write(&dir, "images", &idx(8, &[2, 2, 2], &[0; 8]));
    let three_labels = write(&dir, "three", &idx(8, &[3], &[1, 2, 3]));
    let err = MnistSplit::load(&images, &three_labels).unwrap_err();
    assert_eq!(err.kind(), DataErrorKind::CountMismatch);
    assert_eq!(err.path(), three_labels);
    assert!(err.problem().contains("3 labels"), "{err}");

    let bad_label = write(&dir, "bad_label", &idx(8, &[2], &[4, 12]));
    let err = MnistSplit::load(&images, &bad_label).unwrap_err();
    assert_eq!(err.kind(), DataErrorKind::Malformed);
    assert!(err.to_string().contains("label 1 (data byte 9)"), "{err}");

    // Labels passed as images: wrong number of dimensions.
    let err = MnistSplit::load(&bad_label, &bad_label).unwrap_err();
    assert_eq!(err.kind(), DataErrorKind::Malformed);
    assert_eq!(err.location(), &Location::Field("dimensions".into()));

    // A folder with only the test files cannot load the full set, and says which file.
    let only_test = scratch_dir("only_test");
    tiny_mnist(&only_test, true);
    std::fs::remove_file(only_test.join("train-labels-idx1-ubyte.gz")).unwrap();
    let err = load_mnist_dir(&only_test).unwrap_err();
    assert_eq!(err.kind(), DataErrorKind::Missing);
    assert!(err.to_string().contains("train-labels-idx1-ubyte"), "{err}");
    assert!(load_mnist_test(&only_test).is_ok());
}
