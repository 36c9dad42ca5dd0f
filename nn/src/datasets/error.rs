//! [`DataError`]: what went wrong reading a data file, and where.
//!
//! Bad files are user input, not programmer errors, so the loaders never panic on them: every
//! problem becomes a `DataError` naming the file, the place in it (a byte offset, possibly inside
//! a decompressed stream, or a named field) and what was wrong.

use std::fmt;
use std::path::{Path, PathBuf};

/// The class of problem, for callers that want to react differently (say, to a missing file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataErrorKind {
    /// The file could not be opened or read.
    Io,
    /// The leading bytes are not those of the expected format.
    BadMagic,
    /// The data ends before a header or element says it should.
    Truncated,
    /// A value in the file is impossible (a negative size, bytes left over, a label of 12...).
    Malformed,
    /// Two counts that must agree do not (image and label counts, a matrix's size and its data).
    CountMismatch,
    /// Valid in the format, but not something these loaders read (say, a 7.3 HDF5 `.mat` file).
    Unsupported,
    /// A variable or file that was asked for is not there.
    Missing,
}

/// Where in the file the problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole.
    File,
    /// A byte offset from the start of the file.
    Offset(u64),
    /// A byte offset inside data inflated from a compressed stream that starts at
    /// `compressed_at` in the file (a gzip file starts at 0).
    Inflated {
        /// Where the compressed stream starts in the file.
        compressed_at: u64,
        /// The offset within the inflated bytes.
        offset: u64,
    },
    /// A named part of the file (a `.mat` variable, an IDX header field).
    Field(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => Ok(()),
            Location::Offset(offset) => write!(f, "at byte {offset}: "),
            Location::Inflated {
                compressed_at,
                offset,
            } => write!(
                f,
                "at byte {offset} of the data inflated from the compressed stream at byte \
                 {compressed_at}: "
            ),
            Location::Field(name) => write!(f, "in `{name}`: "),
        }
    }
}

/// An error reading a data file: the file, the place in it, and the problem.
///
/// Displays as `path: at byte 8: problem`.
#[derive(Debug)]
pub struct DataError {
    path: PathBuf,
    location: Location,
    kind: DataErrorKind,
    problem: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DataError {
    /// A new error about `path`.
    pub fn new(
        path: impl Into<PathBuf>,
        location: Location,
        kind: DataErrorKind,
        problem: impl Into<String>,
    ) -> Self {
        DataError {
            path: path.into(),
            location,
            kind,
            problem: problem.into(),
            source: None,
        }
    }

    /// An I/O failure opening or reading `path`.
    pub fn io(path: &Path, err: std::io::Error) -> Self {
        let problem = format!("cannot read the file: {err}");
        DataError {
            source: Some(Box::new(err)),
            ..DataError::new(path, Location::File, DataErrorKind::Io, problem)
        }
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where in the file.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The class of problem.
    pub fn kind(&self) -> DataErrorKind {
        self.kind
    }

    /// What was wrong, without the file and location.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}{}",
            self.path.display(),
            self.location,
            self.problem
        )
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
