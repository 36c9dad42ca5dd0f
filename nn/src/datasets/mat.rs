//! MATLAB v5 `.mat` files (also what MATLAB's `-v6` and `-v7` write): numeric matrices, plain
//! or zlib-compressed, either byte order.
//!
//! Written here rather than taken from a crate: the one maintained candidate (`matfile` 0.5)
//! calls itself alpha, reports every parse failure as one opaque error without a place in the
//! file, prints to stderr, and can panic on a malformed matrix. This reader covers what the
//! course needs (real numeric arrays of any MATLAB numeric class, read as f64), says where a
//! bad file goes wrong, and skips, with the reason recorded, variables it does not read
//! (complex, sparse, char, cell, struct, object). `flate2` inflates compressed elements.
//!
//! Format summary (MathWorks, "MAT-File Format"): a 128-byte header (text starting
//! `MATLAB 5.0 MAT-file`, version `0x0100`, and `IM` or `MI` giving the byte order), then data
//! elements, each an 8-byte tag (type, byte count) and its data padded to 8 bytes. A tag whose
//! upper 16 bits are non-zero is a "small element" holding up to 4 bytes inline. A variable is a
//! `miMATRIX` element (type 14) of sub-elements: array flags (class), dimensions, name, real
//! part; `miCOMPRESSED` (type 15) wraps one element in a zlib stream. Data is column-major.

use std::io::Read;
use std::path::{Path, PathBuf};

use engine::Tensor;

use super::{inflate_error_kind, DataError, DataErrorKind, Location};

const HEADER_LEN: usize = 128;
const MI_INT8: u32 = 1;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;

/// A real numeric MATLAB variable, values converted to f64 and kept in MATLAB's column-major
/// order.
#[derive(Clone, Debug, PartialEq)]
pub struct MatArray {
    /// The variable's name.
    pub name: String,
    /// Its dimensions, MATLAB's order (a 211x2 matrix is `[211, 2]`); at least two.
    pub dims: Vec<usize>,
    /// The values in column-major order, as stored.
    pub data: Vec<f64>,
}

impl MatArray {
    /// The first dimension.
    pub fn rows(&self) -> usize {
        self.dims[0]
    }

    /// The product of the other dimensions (the column count of a matrix).
    pub fn cols(&self) -> usize {
        self.dims[1..].iter().product()
    }

    /// The array as a tensor of shape `dims`, in the usual row-major order.
    pub fn to_tensor(&self) -> Tensor<f64> {
        let n = self.data.len();
        let mut data = Vec::with_capacity(n);
        let rank = self.dims.len();
        let mut index = vec![0usize; rank];
        // Column-major strides of the stored array.
        let mut strides = vec![1usize; rank];
        for k in 1..rank {
            strides[k] = strides[k - 1] * self.dims[k - 1];
        }
        for _ in 0..n {
            let offset: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
            data.push(self.data[offset]);
            // Advance the multi-index in row-major order (last axis fastest).
            for k in (0..rank).rev() {
                index[k] += 1;
                if index[k] < self.dims[k] {
                    break;
                }
                index[k] = 0;
            }
        }
        Tensor::from_vec(data, &self.dims)
    }

    /// NumPy's `a.T`: the axes reversed, so a matrix stored one example per row becomes the
    /// course layout `(n_features, m)`. Free: column-major data read row-major is the transpose.
    pub fn to_tensor_transposed(&self) -> Tensor<f64> {
        let dims: Vec<usize> = self.dims.iter().rev().copied().collect();
        Tensor::from_vec(self.data.clone(), &dims)
    }
}

/// The variables of a `.mat` file.
#[derive(Clone, Debug)]
pub struct MatFile {
    path: PathBuf,
    /// The real numeric variables, in file order.
    pub arrays: Vec<MatArray>,
    /// Variables present but not read, with the reason (`"complex"`, `"class char"`, ...).
    pub skipped: Vec<(String, String)>,
}

impl MatFile {
    /// Parses the bytes of a `.mat` file; `path` is only used in error messages.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<MatFile, DataError> {
        let mut file = MatFile {
            path: path.to_path_buf(),
            arrays: Vec::new(),
            skipped: Vec::new(),
        };
        let order = parse_header(bytes, path)?;
        let top = Span {
            path,
            order,
            compressed_at: None,
        };
        let mut pos = HEADER_LEN;
        while pos < bytes.len() {
            let tag = top.tag(bytes, pos)?;
            let end = top.payload_end(bytes, pos, &tag)?;
            let payload = &bytes[tag.data_start..end];
            match tag.data_type {
                MI_COMPRESSED => {
                    let inflated = inflate_element(payload, &top, tag.data_start)?;
                    let inner = Span {
                        compressed_at: Some(tag.data_start as u64),
                        ..top
                    };
                    let inner_tag = inner.tag(&inflated, 0)?;
                    let inner_end = inner.payload_end(&inflated, 0, &inner_tag)?;
                    if inner_tag.data_type == MI_MATRIX {
                        let body = &inflated[inner_tag.data_start..inner_end];
                        inner.matrix(body, inner_tag.data_start, &mut file)?;
                    }
                    // Compressed elements are not padded.
                    pos = end;
                }
                MI_MATRIX => {
                    top.matrix(payload, tag.data_start, &mut file)?;
                    pos = padded_end(tag.data_start, end).min(bytes.len());
                }
                // Other top-level elements carry no variable: step over them.
                _ => pos = padded_end(tag.data_start, end).min(bytes.len()),
            }
        }
        Ok(file)
    }

    /// The file these variables came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The numeric variable called `name`, if the file has one.
    pub fn get(&self, name: &str) -> Option<&MatArray> {
        self.arrays.iter().find(|a| a.name == name)
    }

    /// The numeric variable called `name`, or an error naming the file and what it holds.
    pub fn require(&self, name: &str) -> Result<&MatArray, DataError> {
        if let Some(array) = self.get(name) {
            return Ok(array);
        }
        let problem = match self.skipped.iter().find(|(n, _)| n == name) {
            Some((_, reason)) => format!("variable is not a real numeric array ({reason})"),
            None => {
                let names: Vec<&str> = self.arrays.iter().map(|a| a.name.as_str()).collect();
                format!("no such variable; the file holds {names:?}")
            }
        };
        Err(DataError::new(
            &self.path,
            Location::Field(name.to_string()),
            DataErrorKind::Missing,
            problem,
        ))
    }
}

/// Loads the real numeric variables of the MATLAB v5 file at `path`.
pub fn load_mat(path: impl AsRef<Path>) -> Result<MatFile, DataError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    MatFile::from_bytes(&bytes, path)
}

/// The regularization exercise's 2-D data set, in the course layout.
#[derive(Clone, Debug)]
pub struct Regularization2d {
    /// Training inputs, `(2, m)` (the file's `X`, transposed).
    pub x_train: Tensor<f64>,
    /// Training labels, `(1, m)` (the file's `y`, transposed).
    pub y_train: Tensor<f64>,
    /// Validation inputs, `(2, m_val)` (the file's `Xval`, transposed).
    pub x_val: Tensor<f64>,
    /// Validation labels, `(1, m_val)` (the file's `yval`, transposed).
    pub y_val: Tensor<f64>,
}

/// Loads `data/regularization_2d.mat` (variables `X` m×2, `y` m×1, `Xval`, `yval`) and
/// transposes each to the course layout, as the course's `data['X'].T` does.
///
/// A file with no training or no validation examples, or with a label other than 0 or 1, is an
/// error naming the variable (and the label's position): the exercise is binary
/// classification, and an empty set would train on nothing and report an accuracy of NaN.
pub fn load_regularization_2d(path: impl AsRef<Path>) -> Result<Regularization2d, DataError> {
    let file = load_mat(path)?;
    let (x_train, y_train) = inputs_and_labels(&file, "X", "y")?;
    let (x_val, y_val) = inputs_and_labels(&file, "Xval", "yval")?;
    Ok(Regularization2d {
        x_train,
        y_train,
        x_val,
        y_val,
    })
}

fn inputs_and_labels(
    file: &MatFile,
    x_name: &str,
    y_name: &str,
) -> Result<(Tensor<f64>, Tensor<f64>), DataError> {
    let x = file.require(x_name)?;
    let y = file.require(y_name)?;
    let wrong = |name: &str, problem: String| {
        Err(DataError::new(
            file.path(),
            Location::Field(name.to_string()),
            DataErrorKind::CountMismatch,
            problem,
        ))
    };
    if x.dims.len() != 2 || x.cols() != 2 {
        return wrong(
            x_name,
            format!("expected an m×2 matrix, found {:?}", x.dims),
        );
    }
    if y.dims.len() != 2 || y.cols() != 1 || y.rows() != x.rows() {
        return wrong(
            y_name,
            format!(
                "expected a {}×1 column (one label per row of `{x_name}`), found {:?}",
                x.rows(),
                y.dims
            ),
        );
    }
    if x.rows() == 0 {
        return Err(DataError::new(
            file.path(),
            Location::Field(x_name.to_string()),
            DataErrorKind::Malformed,
            format!(
                "no examples ({:?}): the data set needs at least one",
                x.dims
            ),
        ));
    }
    if let Some(i) = y.data.iter().position(|&l| l != 0.0 && l != 1.0) {
        return Err(DataError::new(
            file.path(),
            Location::Field(format!("{y_name}[{i}]")),
            DataErrorKind::Malformed,
            format!("label {} is not 0 or 1", y.data[i]),
        ));
    }
    Ok((x.to_tensor_transposed(), y.to_tensor_transposed()))
}

// ----- parsing ----------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum ByteOrder {
    Little,
    Big,
}

/// Checks the 128-byte header and returns the byte order.
fn parse_header(bytes: &[u8], path: &Path) -> Result<ByteOrder, DataError> {
    let error = |at: u64, kind, problem: &str| {
        Err(DataError::new(path, Location::Offset(at), kind, problem))
    };
    if bytes.starts_with(b"MATLAB 7.3 MAT-file") || bytes.starts_with(b"\x89HDF") {
        return error(
            0,
            DataErrorKind::Unsupported,
            "a MATLAB 7.3 (HDF5) file; save it with `save -v7` to read it here",
        );
    }
    if !bytes.starts_with(b"MATLAB 5.0 MAT-file") {
        return error(
            0,
            DataErrorKind::BadMagic,
            "not a MATLAB v5 file (the header does not start with `MATLAB 5.0 MAT-file`)",
        );
    }
    if bytes.len() < HEADER_LEN {
        return error(
            bytes.len() as u64,
            DataErrorKind::Truncated,
            "the file ends inside the 128-byte header",
        );
    }
    let order = match &bytes[126..128] {
        b"IM" => ByteOrder::Little,
        b"MI" => ByteOrder::Big,
        _ => {
            return error(
                126,
                DataErrorKind::BadMagic,
                "the byte-order mark is neither `IM` nor `MI`",
            )
        }
    };
    let version = read_u16(&bytes[124..126], order);
    if version != 0x0100 {
        return error(
            124,
            DataErrorKind::Unsupported,
            &format!("header version {version:#06x}, expected 0x0100"),
        );
    }
    Ok(order)
}

fn read_u16(b: &[u8], order: ByteOrder) -> u16 {
    let b = [b[0], b[1]];
    match order {
        ByteOrder::Little => u16::from_le_bytes(b),
        ByteOrder::Big => u16::from_be_bytes(b),
    }
}

fn read_u32(b: &[u8], order: ByteOrder) -> u32 {
    let b = [b[0], b[1], b[2], b[3]];
    match order {
        ByteOrder::Little => u32::from_le_bytes(b),
        ByteOrder::Big => u32::from_be_bytes(b),
    }
}

/// The end of an element whose data runs from `start` to `end`, padded to 8 bytes.
fn padded_end(start: usize, end: usize) -> usize {
    let len = end - start;
    start + len.div_ceil(8) * 8
}

/// A decoded tag: the element's type, where its data starts, how many bytes it has, and
/// whether it was a small element (data inside the tag's 8 bytes).
#[derive(Debug)]
struct Tag {
    data_type: u32,
    data_start: usize,
    len: usize,
    small: bool,
}

/// Where a buffer being parsed sits, for error locations: the file itself, or data inflated
/// from a compressed element.
#[derive(Clone, Copy)]
struct Span<'p> {
    path: &'p Path,
    order: ByteOrder,
    compressed_at: Option<u64>,
}

impl Span<'_> {
    fn location(&self, offset: usize) -> Location {
        match self.compressed_at {
            None => Location::Offset(offset as u64),
            Some(compressed_at) => Location::Inflated {
                compressed_at,
                offset: offset as u64,
            },
        }
    }

    fn error(&self, offset: usize, kind: DataErrorKind, problem: impl Into<String>) -> DataError {
        DataError::new(self.path, self.location(offset), kind, problem)
    }

    /// Reads the tag at `pos` of a whole buffer (the file, or one inflated element).
    fn tag(&self, bytes: &[u8], pos: usize) -> Result<Tag, DataError> {
        self.tag_at(bytes, pos, 0)
    }

    /// Reads the tag at `pos` of `bytes`, a slice starting at `base` in the buffer: indices in
    /// the result are relative to `bytes`, offsets in errors to the buffer.
    fn tag_at(&self, bytes: &[u8], pos: usize, base: usize) -> Result<Tag, DataError> {
        if bytes.len() - pos < 8 {
            return Err(self.error(
                base + pos,
                DataErrorKind::Truncated,
                format!("an element tag needs 8 bytes, {} remain", bytes.len() - pos),
            ));
        }
        let first = read_u32(&bytes[pos..], self.order);
        if first >> 16 != 0 {
            let len = (first >> 16) as usize;
            if len > 4 {
                return Err(self.error(
                    base + pos,
                    DataErrorKind::Malformed,
                    format!("a small element cannot hold {len} bytes (at most 4)"),
                ));
            }
            return Ok(Tag {
                data_type: first & 0xffff,
                data_start: pos + 4,
                len,
                small: true,
            });
        }
        let len = read_u32(&bytes[pos + 4..], self.order) as usize;
        Ok(Tag {
            data_type: first,
            data_start: pos + 8,
            len,
            small: false,
        })
    }

    /// Where the tag's data ends in a whole buffer, checking it is all there.
    fn payload_end(&self, bytes: &[u8], pos: usize, tag: &Tag) -> Result<usize, DataError> {
        self.payload_end_at(bytes, pos, tag, 0)
    }

    fn payload_end_at(
        &self,
        bytes: &[u8],
        pos: usize,
        tag: &Tag,
        base: usize,
    ) -> Result<usize, DataError> {
        let available = bytes.len() - tag.data_start;
        if tag.len > available {
            return Err(self.error(
                base + pos,
                DataErrorKind::Truncated,
                format!(
                    "{} element declares {} bytes, only {available} remain",
                    type_name(tag.data_type),
                    tag.len
                ),
            ));
        }
        Ok(tag.data_start + tag.len)
    }

    /// Reads the sub-element at `*pos` of a matrix body (`base` is the body's offset) and
    /// advances past it and its padding.
    fn sub_element<'b>(
        &self,
        body: &'b [u8],
        pos: &mut usize,
        base: usize,
        what: &str,
    ) -> Result<(Tag, &'b [u8]), DataError> {
        if *pos >= body.len() {
            return Err(self.error(
                base + *pos,
                DataErrorKind::Truncated,
                format!("the matrix element ends before its {what}"),
            ));
        }
        let tag = self.tag_at(body, *pos, base)?;
        let end = self.payload_end_at(body, *pos, &tag, base)?;
        let data = &body[tag.data_start..end];
        *pos = if tag.small {
            *pos + 8
        } else {
            padded_end(tag.data_start, end)
        };
        Ok((tag, data))
    }

    /// Parses one `miMATRIX` body starting at `base`, adding the variable to `file`.
    fn matrix(&self, body: &[u8], base: usize, file: &mut MatFile) -> Result<(), DataError> {
        if body.is_empty() {
            return Ok(()); // an empty matrix element: no variable
        }
        let mut pos = 0;
        let flags_at = base + pos;
        let (tag, flags) = self.sub_element(body, &mut pos, base, "array flags")?;
        if tag.data_type != MI_UINT32 || flags.len() != 8 {
            return Err(self.error(
                flags_at,
                DataErrorKind::Malformed,
                format!(
                    "array flags must be 8 bytes of miUINT32, found {} bytes of {}",
                    flags.len(),
                    type_name(tag.data_type)
                ),
            ));
        }
        let flag_word = read_u32(flags, self.order);
        let class = flag_word & 0xff;
        let complex = flag_word & 0x800 != 0;

        let dims_at = base + pos;
        let (tag, dims_bytes) = self.sub_element(body, &mut pos, base, "dimensions")?;
        if tag.data_type != MI_INT32 || dims_bytes.len() % 4 != 0 || dims_bytes.len() < 8 {
            return Err(self.error(
                dims_at,
                DataErrorKind::Malformed,
                format!(
                    "dimensions must be at least two miINT32 values, found {} bytes of {}",
                    dims_bytes.len(),
                    type_name(tag.data_type)
                ),
            ));
        }
        let mut dims = Vec::with_capacity(dims_bytes.len() / 4);
        for chunk in dims_bytes.chunks_exact(4) {
            let d = read_u32(chunk, self.order) as i32;
            let d = usize::try_from(d).map_err(|_| {
                self.error(
                    dims_at,
                    DataErrorKind::Malformed,
                    format!("negative dimension {d}"),
                )
            })?;
            dims.push(d);
        }

        let name_at = base + pos;
        let (tag, name_bytes) = self.sub_element(body, &mut pos, base, "name")?;
        if tag.data_type != MI_INT8 && tag.data_type != MI_UTF8 {
            return Err(self.error(
                name_at,
                DataErrorKind::Malformed,
                format!(
                    "the array name must be miINT8 text, found {}",
                    type_name(tag.data_type)
                ),
            ));
        }
        let name = String::from_utf8_lossy(name_bytes).into_owned();

        // MATLAB classes 6..=15 are double, single and the integer types.
        if !(6..=15).contains(&class) {
            let what = match class {
                1 => "a cell array".to_string(),
                2 => "a struct".to_string(),
                3 => "an object".to_string(),
                4 => "a char array".to_string(),
                5 => "a sparse matrix".to_string(),
                other => format!("array class {other}"),
            };
            file.skipped.push((name, what));
            return Ok(());
        }
        if complex {
            file.skipped.push((name, "complex".to_string()));
            return Ok(());
        }

        let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        let count = count.ok_or_else(|| {
            self.error(
                dims_at,
                DataErrorKind::Malformed,
                format!("dimensions {dims:?} overflow"),
            )
        })?;
        let real_at = base + pos;
        let (tag, real) = self.sub_element(body, &mut pos, base, "real part")?;
        let data = numeric_to_f64(tag.data_type, real, self.order).ok_or_else(|| {
            self.error(
                real_at,
                DataErrorKind::Malformed,
                format!(
                    "real part of `{name}`: {} bytes of {} are not a whole number of numeric \
                     values",
                    real.len(),
                    type_name(tag.data_type)
                ),
            )
        })?;
        if data.len() != count {
            return Err(self.error(
                real_at,
                DataErrorKind::CountMismatch,
                format!(
                    "`{name}` has dimensions {dims:?} ({count} values) but its real part holds {}",
                    data.len()
                ),
            ));
        }
        file.arrays.push(MatArray { name, dims, data });
        Ok(())
    }
}

/// The format's name for a data type, for messages.
fn type_name(data_type: u32) -> String {
    let name = match data_type {
        1 => "miINT8",
        2 => "miUINT8",
        3 => "miINT16",
        4 => "miUINT16",
        5 => "miINT32",
        6 => "miUINT32",
        7 => "miSINGLE",
        9 => "miDOUBLE",
        12 => "miINT64",
        13 => "miUINT64",
        14 => "miMATRIX",
        15 => "miCOMPRESSED",
        16 => "miUTF8",
        17 => "miUTF16",
        18 => "miUTF32",
        other => return format!("data type {other}"),
    };
    name.to_string()
}

/// Inflates a `miCOMPRESSED` element's zlib stream (which starts at `at` in the file).
fn inflate_element(payload: &[u8], span: &Span, at: usize) -> Result<Vec<u8>, DataError> {
    let mut inflated = Vec::new();
    flate2::read::ZlibDecoder::new(payload)
        .read_to_end(&mut inflated)
        .map_err(|e| {
            span.error(
                at,
                inflate_error_kind(&e),
                format!("the compressed element cannot be inflated: {e}"),
            )
        })?;
    Ok(inflated)
}

/// Converts a numeric element to f64; `None` for non-numeric types or a ragged byte count.
fn numeric_to_f64(data_type: u32, bytes: &[u8], order: ByteOrder) -> Option<Vec<f64>> {
    macro_rules! convert {
        ($t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            let chunks = bytes.chunks_exact(N);
            if !chunks.remainder().is_empty() {
                return None;
            }
            chunks
                .map(|c| {
                    let mut b = [0u8; N];
                    b.copy_from_slice(c);
                    let v = match order {
                        ByteOrder::Little => <$t>::from_le_bytes(b),
                        ByteOrder::Big => <$t>::from_be_bytes(b),
                    };
                    v as f64
                })
                .collect()
        }};
    }
    Some(match data_type {
        1 => convert!(i8),
        2 => convert!(u8),
        3 => convert!(i16),
        4 => convert!(u16),
        5 => convert!(i32),
        6 => convert!(u32),
        7 => convert!(f32),
        9 => convert!(f64),
        12 => convert!(i64),
        13 => convert!(u64),
        _ => return None,
    })
}
