//! Fuzzing every loader of untrusted files: MNIST IDX (raw and gzip, alone and as an
//! images/labels pair), MATLAB v5 `.mat` (plain and with `miCOMPRESSED` elements, and the
//! regularization data set reader), and safetensors checkpoints. A loader may reject a file,
//! never panic on it.
//!
//! The harness is plain `cargo test` (no nightly, no `cargo-fuzz`): each target starts from
//! valid files and applies structured mutations drawn from a seeded generator, so CI runs the
//! same cases every time:
//!
//! - truncation at any length, bit flips, bytes overwritten with extreme values;
//! - the format's own fields overwritten with extreme values (IDX data type, rank and
//!   dimensions; `.mat` element tags and lengths, also inside the inflated `miCOMPRESSED`
//!   payloads, re-deflated; the safetensors header length, and the numbers and dtypes of its
//!   JSON header): 0, 1, `i32::MAX`, `u32::MAX`, `2^63`, `u64::MAX`...;
//! - chunks duplicated or garbage appended.
//!
//! `FERROGRAD_FUZZ_CASES` sets the number of cases per target (default 400; the suite takes
//! well under a second in release), `FERROGRAD_FUZZ_SEED` the seed (default 13). See
//! `docs/fuzzing.md`. A failure prints the target, seed, case and mutations to reproduce it.

use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use nn::checkpoint;
use nn::datasets::{load_idx, load_mat, load_regularization_2d, MatFile, MnistSplit};
use nn::{Activation, BatchNorm, Init, Module, Sequential};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
        })
        .unwrap_or(default)
}

fn cases() -> u64 {
    env_number("FERROGRAD_FUZZ_CASES", 400)
}

fn seed() -> u64 {
    env_number("FERROGRAD_FUZZ_SEED", 13)
}

/// Values that break careless size arithmetic.
const EXTREME_U64: [u64; 10] = [
    0,
    1,
    2,
    0x7f,
    0xff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    1 << 63,
    u64::MAX,
];

/// Where a structured mutation may write: `(offset, width in bytes, big endian)`.
type Field = (usize, usize, bool);

/// Mutates `valid` with 1 to 3 mutations, describing them in `log`.
fn mutate(rng: &mut StdRng, valid: &[u8], fields: &[Field], log: &mut Vec<String>) -> Vec<u8> {
    let mut b = valid.to_vec();
    for _ in 0..rng.random_range(1..=3) {
        match rng.random_range(0..7) {
            0 if !b.is_empty() => {
                let len = rng.random_range(0..b.len());
                log.push(format!("truncate to {len}"));
                b.truncate(len);
            }
            1 if !b.is_empty() => {
                let at = rng.random_range(0..b.len());
                let bit = rng.random_range(0..8);
                log.push(format!("flip bit {bit} of byte {at}"));
                b[at] ^= 1 << bit;
            }
            2 if !b.is_empty() => {
                let at = rng.random_range(0..b.len());
                let v = [0u8, 0xff, 0x7f, 0x80][rng.random_range(0..4)];
                log.push(format!("byte {at} = {v:#x}"));
                b[at] = v;
            }
            3 | 4 if !fields.is_empty() => {
                let (at, width, big) = fields[rng.random_range(0..fields.len())];
                let v = EXTREME_U64[rng.random_range(0..EXTREME_U64.len())];
                log.push(format!("field at {at} ({width} bytes) = {v:#x}"));
                write_int(&mut b, at, width, big, v);
            }
            5 if b.len() >= 8 => {
                // An aligned word anywhere: unknown length fields.
                let at = rng.random_range(0..b.len() / 4) * 4;
                let v = EXTREME_U64[rng.random_range(0..EXTREME_U64.len())];
                let big = rng.random_bool(0.5);
                log.push(format!("word at {at} = {v:#x}"));
                write_int(&mut b, at, 4, big, v);
            }
            _ => {
                if !b.is_empty() && rng.random_bool(0.5) {
                    let from = rng.random_range(0..b.len());
                    let len = rng.random_range(0..=(b.len() - from).min(64));
                    let chunk = b[from..from + len].to_vec();
                    let at = rng.random_range(0..=b.len());
                    log.push(format!("insert {len} bytes from {from} at {at}"));
                    b.splice(at..at, chunk);
                } else {
                    let n = rng.random_range(1..32);
                    log.push(format!("append {n} random bytes"));
                    b.extend((0..n).map(|_| rng.random::<u8>()));
                }
            }
        }
    }
    b
}

/// Writes the low `width` bytes of `v` at `at` (as far as the buffer goes).
fn write_int(b: &mut [u8], at: usize, width: usize, big: bool, v: u64) {
    let bytes = if big {
        v.to_be_bytes()[8 - width..].to_vec()
    } else {
        v.to_le_bytes()[..width].to_vec()
    };
    for (k, byte) in bytes.into_iter().enumerate() {
        if let Some(slot) = b.get_mut(at + k) {
            *slot = byte;
        }
    }
}

/// Runs `case(rng, log)` for every case of `target`; panics listing every case that panicked.
fn fuzz(target: &str, mut case: impl FnMut(&mut StdRng, &mut Vec<String>)) {
    let (n, seed) = (cases(), seed());
    let mut failures = vec![];
    for i in 0..n {
        // One generator per case, so a failing case can be replayed alone.
        let mut rng = StdRng::seed_from_u64(seed ^ (i.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        let mut log = vec![];
        let result = catch_unwind(AssertUnwindSafe(|| case(&mut rng, &mut log)));
        if result.is_err() {
            failures.push(format!("case {i}: {}", log.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{target}: {} of {n} cases panicked (FERROGRAD_FUZZ_SEED={seed}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrograd-fuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx(data_type: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, data_type, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

/// IDX header fields: data type, rank, dimensions.
fn idx_fields(rank: usize) -> Vec<Field> {
    let mut f = vec![(2, 1, true), (3, 1, true)];
    f.extend((0..rank).map(|k| (4 + 4 * k, 4, true)));
    f
}

fn valid_images() -> Vec<u8> {
    let pixels: Vec<u8> = (0..4 * 28 * 28).map(|k| (k * 7 % 256) as u8).collect();
    idx(8, &[4, 28, 28], &pixels)
}

fn valid_labels() -> Vec<u8> {
    idx(8, &[4], &[0, 9, 3, 7])
}

#[test]
fn mnist_idx_raw_and_gzip() {
    let dir = scratch("idx");
    let (images, labels) = (valid_images(), valid_labels());
    let path = dir.join("file");
    fuzz("load_idx", |rng, log| {
        let (valid, rank) = if rng.random_bool(0.5) {
            (&images, 3)
        } else {
            (&labels, 1)
        };
        let mut bytes = mutate(rng, valid, &idx_fields(rank), log);
        match rng.random_range(0..3) {
            0 => {}
            1 => {
                log.push("gzip after mutating".into());
                bytes = gzip(&bytes);
            }
            _ => {
                log.push("mutate the gzip stream".into());
                bytes = mutate(rng, &gzip(valid), &[], log);
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let _ = load_idx(&path);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mnist_images_and_labels_pairs() {
    let dir = scratch("pair");
    let (images, labels) = (valid_images(), valid_labels());
    let (ip, lp) = (dir.join("images"), dir.join("labels"));
    fuzz("MnistSplit::load", |rng, log| {
        let (i, l) = if rng.random_bool(0.5) {
            log.push("images:".into());
            (mutate(rng, &images, &idx_fields(3), log), labels.clone())
        } else {
            log.push("labels:".into());
            (images.clone(), mutate(rng, &labels, &idx_fields(1), log))
        };
        let gz = rng.random_bool(0.3);
        std::fs::write(&ip, if gz { gzip(&i) } else { i }).unwrap();
        std::fs::write(&lp, if gz { gzip(&l) } else { l }).unwrap();
        if let Ok(split) = MnistSplit::load(&ip, &lp) {
            assert_eq!(split.images.shape()[1], split.len());
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

/// The top-level element tags of a `.mat` file (little endian): `(offset, type, length)`.
fn mat_elements(bytes: &[u8]) -> Vec<(usize, u32, usize)> {
    let mut out = vec![];
    let mut at = 128;
    while at + 8 <= bytes.len() {
        let t = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push((at, t, len));
        let padded = if t == 15 { len } else { len.div_ceil(8) * 8 };
        at += 8 + padded;
    }
    out
}

/// Mutates a `.mat` file: its bytes and top-level tags, or, for a `miCOMPRESSED` element,
/// the inflated element inside (its own tags), deflated again.
fn mutate_mat(rng: &mut StdRng, valid: &[u8], log: &mut Vec<String>) -> Vec<u8> {
    let elements = mat_elements(valid);
    let compressed: Vec<_> = elements.iter().filter(|e| e.1 == 15).collect();
    if !compressed.is_empty() && rng.random_bool(0.5) {
        let &&(at, _, len) = &compressed[rng.random_range(0..compressed.len())];
        let mut inner = vec![];
        flate2::read::ZlibDecoder::new(&valid[at + 8..at + 8 + len])
            .read_to_end(&mut inner)
            .unwrap();
        // Tags inside: the element's own, then its sub-elements' at 8-byte steps.
        let fields: Vec<Field> = (0..inner.len().min(64) / 4)
            .map(|k| (4 * k, 4, false))
            .collect();
        log.push(format!("inside the compressed element at {at}:"));
        let inner = mutate(rng, &inner, &fields, log);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&inner).unwrap();
        let z = z.finish().unwrap();
        let mut out = valid[..at].to_vec();
        out.extend_from_slice(&15u32.to_le_bytes());
        out.extend_from_slice(&(z.len() as u32).to_le_bytes());
        out.extend_from_slice(&z);
        out.extend_from_slice(&valid[at + 8 + len..]);
        return out;
    }
    let mut fields: Vec<Field> = vec![(124, 2, false), (126, 2, false)];
    for &(at, _, _) in &elements {
        fields.push((at, 4, false));
        fields.push((at + 4, 4, false));
        // The first sub-element tags of a matrix (flags, dimensions, name).
        for k in 0..8 {
            fields.push((at + 8 + 4 * k, 4, false));
        }
    }
    mutate(rng, valid, &fields, log)
}

#[test]
fn mat_files_plain_compressed_and_the_regularization_reader() {
    let sources: Vec<Vec<u8>> = [
        "data/regularization_2d.mat",
        "nn/tests/data/mixed_v5.mat",
        "nn/tests/data/mixed_v5_compressed.mat",
    ]
    .iter()
    .map(|f| std::fs::read(repo_file(f)).unwrap())
    .collect();
    let dir = scratch("mat");
    let path = dir.join("file.mat");
    fuzz("load_mat", |rng, log| {
        let which = rng.random_range(0..sources.len());
        log.push(format!("source {which}"));
        let bytes = mutate_mat(rng, &sources[which], log);
        let _ = MatFile::from_bytes(&bytes, Path::new("fuzz.mat"));
        if which == 0 {
            std::fs::write(&path, &bytes).unwrap();
            let _ = load_mat(&path);
            let _ = load_regularization_2d(&path);
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

fn model() -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(1);
    let mut m = Sequential::mlp(
        &[3, 4, 2],
        Activation::Relu,
        Activation::Identity,
        &Init::HeNormal,
        &mut rng,
    );
    m.push(BatchNorm::new(2, 1e-5, 0.9));
    m
}

/// Mutates a safetensors file: bytes, the 8-byte header length, or the JSON header's
/// numbers (shapes, data offsets) and dtypes.
fn mutate_safetensors(rng: &mut StdRng, valid: &[u8], log: &mut Vec<String>) -> Vec<u8> {
    let n = u64::from_le_bytes(valid[..8].try_into().unwrap()) as usize;
    if rng.random_bool(0.5) {
        let header = std::str::from_utf8(&valid[8..8 + n]).unwrap();
        let mut new = header.to_string();
        for _ in 0..rng.random_range(1..=2) {
            if rng.random_bool(0.3) {
                let dtype =
                    ["F32", "F16", "BF16", "I64", "U8", "BOOL", "XX", ""][rng.random_range(0..8)];
                log.push(format!("dtype F64 -> {dtype:?}"));
                new = new.replacen("\"F64\"", &format!("\"{dtype}\""), 1);
            } else {
                // Replace the k-th number in the header.
                let numbers: Vec<(usize, usize)> = number_spans(&new);
                if numbers.is_empty() {
                    continue;
                }
                let (s, e) = numbers[rng.random_range(0..numbers.len())];
                let v = EXTREME_U64[rng.random_range(0..EXTREME_U64.len())];
                let text = if rng.random_bool(0.2) {
                    "-1".to_string()
                } else {
                    v.to_string()
                };
                log.push(format!("header number {:?} -> {text}", &new[s..e]));
                new.replace_range(s..e, &text);
            }
        }
        let mut out = (new.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(new.as_bytes());
        out.extend_from_slice(&valid[8 + n..]);
        return out;
    }
    mutate(
        rng,
        valid,
        &[(0, 8, false), (0, 4, false), (4, 4, false)],
        log,
    )
}

/// Byte spans of the unsigned integers in `s`.
fn number_spans(s: &str) -> Vec<(usize, usize)> {
    let b = s.as_bytes();
    let mut out = vec![];
    let mut k = 0;
    while k < b.len() {
        if b[k].is_ascii_digit() && (k == 0 || !b[k - 1].is_ascii_alphanumeric()) {
            let start = k;
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
            out.push((start, k));
        } else {
            k += 1;
        }
    }
    out
}

#[test]
fn safetensors_checkpoints() {
    let dir = scratch("safetensors");
    let good = dir.join("good.safetensors");
    let source = model();
    checkpoint::save_module(&good, &source).unwrap();
    let valid = std::fs::read(&good).unwrap();
    let path = dir.join("fuzz.safetensors");
    let target = model();
    let before: Vec<Vec<f64>> = target
        .parameters()
        .iter()
        .map(|p| p.tensor.to_vec())
        .collect();
    fuzz("checkpoint::load", |rng, log| {
        let bytes = mutate_safetensors(rng, &valid, log);
        std::fs::write(&path, &bytes).unwrap();
        let fresh = model();
        if checkpoint::load_module(&path, &fresh).is_err() {
            // A rejected file leaves the model untouched.
            let after: Vec<Vec<f64>> = fresh
                .parameters()
                .iter()
                .map(|p| p.tensor.to_vec())
                .collect();
            assert_eq!(after, before, "a failed load changed the model");
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The harness itself: a target that panics on some mutations (here: any truncation) must be
/// reported, with the case and its mutations.
#[test]
#[should_panic(expected = "cases panicked")]
fn the_harness_reports_panicking_cases() {
    fuzz("self-test", |rng, log| {
        let b = mutate(rng, &[0u8; 16], &[(0, 4, true)], log);
        assert!(
            !log.iter().any(|m| m.starts_with("truncate")),
            "truncated to {}",
            b.len()
        );
    });
}
