//! Saving and loading named parameters in the safetensors format (read by PyTorch, JAX,
//! NumPy through the `safetensors` Python package, and the Rust ecosystem), through the
//! `safetensors` crate.
//!
//! - Tensors are stored under their parameter names (`W1`, `b1`, ...) with their shapes in the
//!   course's layout (`W` is `(n_out, n_in)`), as `F32` or `F64` little-endian.
//! - Writes are atomic: the file is written to a temporary file (`.checkpoint-<pid>-*.tmp`) in
//!   the same directory, flushed to disk, then renamed over the destination, and the directory
//!   is flushed, so a crash never leaves a half-written checkpoint under the real name. A later
//!   save removes the temporary files a killed save left behind. Checkpoints get the
//!   permissions any new file gets (the umask applies), not a temporary file's 0600.
//! - [`save_training`] / [`load_training`] keep a whole training run in one file: the model's
//!   parameters and buffers under their names, the optimizer's buffers as
//!   `optimizer/<buffer>/<parameter>` (e.g. `optimizer/v/encoder.l1.weight`), and in the
//!   header's metadata the optimizer's kind, step count and learning rate and the
//!   [`TrainingState`] (epoch, schedule position). Loading them into fresh objects continues
//!   training bit for bit as if it had never stopped.
//! - Loading checks everything first (the file parses, every parameter is present with the
//!   right shape and element type, no unknown tensors) and only then copies the values in:
//!   on any error the model is untouched and the error says what was wrong and in which file.
//!
//! ```
//! use nn::{checkpoint, Activation, Init, Module, Sequential};
//! use rand::SeedableRng;
//!
//! let mut rng = rand::rngs::StdRng::seed_from_u64(0);
//! let net = Sequential::<f64>::mlp(&[2, 3, 1], Activation::Relu, Activation::Sigmoid,
//!                                  &Init::HeNormal, &mut rng);
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("model.safetensors");
//! checkpoint::save_module(&path, &net).unwrap();
//!
//! let other = Sequential::<f64>::mlp(&[2, 3, 1], Activation::Relu, Activation::Sigmoid,
//!                                    &Init::Zeros, &mut rng);
//! checkpoint::load_module(&path, &other).unwrap();
//! assert_eq!(other.parameters()[0].tensor.to_vec(), net.parameters()[0].tensor.to_vec());
//! ```

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use engine::{Float, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::module::{Module, Param, ParamKind};
use crate::optim::{Optimizer, OptimizerState};

/// Why a checkpoint could not be saved or loaded.
#[derive(Debug)]
pub enum CheckpointError {
    /// Reading, writing or renaming failed.
    Io {
        /// The checkpoint file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file (truncated, corrupt header, bad offsets).
    Format {
        /// The checkpoint file.
        path: PathBuf,
        /// The parser's explanation.
        reason: String,
    },
    /// The model has parameters the file lacks.
    Missing {
        /// The checkpoint file.
        path: PathBuf,
        /// The missing names.
        names: Vec<String>,
    },
    /// The file has tensors the model lacks.
    Unexpected {
        /// The checkpoint file.
        path: PathBuf,
        /// The unknown names.
        names: Vec<String>,
    },
    /// A tensor's shape differs from the parameter's.
    Shape {
        /// The checkpoint file.
        path: PathBuf,
        /// Parameter name.
        name: String,
        /// The model's shape.
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
    },
    /// A tensor's element type differs from the model's.
    Dtype {
        /// The checkpoint file.
        path: PathBuf,
        /// Parameter name.
        name: String,
        /// The model's type (`F32` or `F64`).
        expected: String,
        /// The file's type.
        found: String,
    },
    /// The training state in the file (optimizer kind, step count, metadata) does not fit.
    Training {
        /// The checkpoint file.
        path: PathBuf,
        /// What did not fit.
        reason: String,
    },
    /// Two parameters share a name, so the file could not tell them apart.
    DuplicateName {
        /// The checkpoint file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Io {
                path,
                action,
                source,
            } => write!(
                f,
                "checkpoint {}: {action} failed: {source}",
                path.display()
            ),
            CheckpointError::Format { path, reason } => write!(
                f,
                "checkpoint {}: not a valid safetensors file: {reason}",
                path.display()
            ),
            CheckpointError::Missing { path, names } => write!(
                f,
                "checkpoint {}: missing tensors for parameters {}",
                path.display(),
                names.join(", ")
            ),
            CheckpointError::Unexpected { path, names } => write!(
                f,
                "checkpoint {}: tensors {} match no parameter of the model",
                path.display(),
                names.join(", ")
            ),
            CheckpointError::Shape {
                path,
                name,
                expected,
                found,
            } => write!(
                f,
                "checkpoint {}: tensor {name} has shape {found:?}, the model's has {expected:?}",
                path.display()
            ),
            CheckpointError::Dtype {
                path,
                name,
                expected,
                found,
            } => write!(
                f,
                "checkpoint {}: tensor {name} is {found}, the model holds {expected}",
                path.display()
            ),
            CheckpointError::Training { path, reason } => {
                write!(f, "checkpoint {}: training state: {reason}", path.display())
            }
            CheckpointError::DuplicateName { path, name } => write!(
                f,
                "checkpoint {}: two parameters are named {name}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn dtype_of<T: Float>() -> Dtype {
    if std::mem::size_of::<T>() == 4 {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

fn to_le_bytes<T: Float>(t: &Tensor<T>) -> Vec<u8> {
    let values = t.to_vec();
    match dtype_of::<T>() {
        Dtype::F32 => values
            .iter()
            .flat_map(|v| (v.as_f64() as f32).to_le_bytes())
            .collect(),
        _ => values
            .iter()
            .flat_map(|v| v.as_f64().to_le_bytes())
            .collect(),
    }
}

fn from_le_bytes<T: Float>(bytes: &[u8]) -> Vec<T> {
    match dtype_of::<T>() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| T::from_f64(f32::from_le_bytes(c.try_into().unwrap()) as f64))
            .collect(),
        _ => bytes
            .chunks_exact(8)
            .map(|c| T::from_f64(f64::from_le_bytes(c.try_into().unwrap())))
            .collect(),
    }
}

/// Writes `params` to `path` as safetensors, atomically (temporary file, flush, rename, flush
/// the folder).
pub fn save<T: Float>(path: impl AsRef<Path>, params: &[Param<T>]) -> Result<(), CheckpointError> {
    save_with_metadata(path.as_ref(), params, Vec::new())
}

/// [`save`] with extra header metadata.
fn save_with_metadata<T: Float>(
    path: &Path,
    params: &[Param<T>],
    extra: Vec<(String, String)>,
) -> Result<(), CheckpointError> {
    let mut seen = BTreeSet::new();
    for p in params {
        if !seen.insert(p.name.as_str()) {
            return Err(CheckpointError::DuplicateName {
                path: path.to_path_buf(),
                name: p.name.clone(),
            });
        }
    }
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = params
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.tensor.shape().to_vec(),
                to_le_bytes(&p.tensor),
            )
        })
        .collect();
    let views = buffers.iter().map(|(name, shape, bytes)| {
        let view = TensorView::new(dtype_of::<T>(), shape.clone(), bytes)
            .expect("byte length matches shape by construction");
        (name.as_str(), view)
    });
    let mut metadata = HashMap::from([(
        "layout".to_string(),
        "ferrograd: examples are columns; W is (n_out, n_in), b is (n_out, 1)".to_string(),
    )]);
    metadata.extend(extra);
    let bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| CheckpointError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    write_atomically(path, &bytes)
}

/// Prefix and suffix of the temporary files a save writes next to its destination.
const TMP_PREFIX: &str = ".checkpoint-";
const TMP_SUFFIX: &str = ".tmp";

/// A temporary file of a save older than this is stale whoever wrote it (a save that was
/// killed): a live save rewrites its file within seconds.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let io = |action, source| CheckpointError::Io {
        path: path.to_path_buf(),
        action,
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    remove_stale_temporaries(dir);
    // The temporary file lives next to the destination so the rename never crosses file
    // systems; it is deleted if anything fails before the rename. It is created as `File::create`
    // creates files (mode 0666 less the umask on Unix), so the checkpoint gets the permissions
    // any other file would, not the 0600 of a private temporary file.
    let (tmp_path, file) = create_temporary(dir).map_err(|e| io("creating a temporary file", e))?;
    let tmp = TempGuard(Some(tmp_path));
    let mut file = file;
    file.write_all(bytes).map_err(|e| io("writing", e))?;
    file.sync_all().map_err(|e| io("flushing to disk", e))?;
    drop(file);
    let tmp_path = tmp.0.as_deref().expect("set until persisted");
    std::fs::rename(tmp_path, path).map_err(|e| io("renaming the temporary file", e))?;
    std::mem::forget(tmp);
    // The rename is durable only once the directory entry is on disk.
    sync_dir(dir).map_err(|e| io("flushing the folder to disk", e))?;
    Ok(())
}

/// Removes the temporary file on drop (a failed save).
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Creates `dir/.checkpoint-<pid>-<n>.tmp` with a name no other file has.
fn create_temporary(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{TMP_PREFIX}{}-{n}-{nanos:08x}{TMP_SUFFIX}",
            std::process::id()
        );
        let candidate = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(f) => return Ok((candidate, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Deletes temporary files of our naming (`.checkpoint-*.tmp`) that a killed save left in
/// `dir`: those whose writing process is gone (known on Linux from the process id in the
/// name) or that are older than [`STALE_AFTER`]. Best effort: a file that cannot be removed is
/// left alone, and nothing else in the folder is touched.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(middle) = name
            .strip_prefix(TMP_PREFIX)
            .and_then(|n| n.strip_suffix(TMP_SUFFIX))
        else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let old = meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if old || writer_is_gone(middle) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether the process that wrote the temporary file `.checkpoint-<middle>.tmp` has ended:
/// its id is the name's first field; only Linux (`/proc`) answers, elsewhere we wait for the
/// file to age.
fn writer_is_gone(middle: &str) -> bool {
    let Some(pid) = middle.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    cfg!(target_os = "linux")
        && Path::new("/proc/self").exists()
        && !Path::new("/proc").join(pid.to_string()).exists()
}

/// Flushes the directory entry (the rename) to disk; a no-op where directories cannot be
/// opened as files (Windows).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Reads the checkpoint at `path` into `params` (matched by name). Everything is validated
/// before any value is copied: on error, no parameter has changed.
pub fn load<T: Float>(path: impl AsRef<Path>, params: &[Param<T>]) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        action: "reading",
        source,
    })?;
    let values = validate(path, &bytes, params, None)?;
    for (p, v) in params.iter().zip(values) {
        p.tensor.update_data(|d| d.copy_from_slice(&v));
    }
    Ok(())
}

/// Parses `bytes` and returns the values for each parameter, in order, or the first problem.
/// Tensors whose names start with `ignore` (another part of the file) are neither expected nor
/// unexpected.
fn validate<T: Float>(
    path: &Path,
    bytes: &[u8],
    params: &[Param<T>],
    ignore: Option<&str>,
) -> Result<Vec<Vec<T>>, CheckpointError> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let wanted: BTreeSet<&str> = params.iter().map(|p| p.name.as_str()).collect();
    if wanted.len() != params.len() {
        let mut seen = BTreeSet::new();
        let dup = params
            .iter()
            .find(|p| !seen.insert(p.name.as_str()))
            .unwrap();
        return Err(CheckpointError::DuplicateName {
            path: path.to_path_buf(),
            name: dup.name.clone(),
        });
    }
    let mut unexpected: Vec<String> = file
        .names()
        .into_iter()
        .filter(|n| !wanted.contains(n) && !ignore.is_some_and(|prefix| n.starts_with(prefix)))
        .map(str::to_string)
        .collect();
    unexpected.sort();
    let missing: Vec<String> = params
        .iter()
        .filter(|p| file.tensor(&p.name).is_err())
        .map(|p| p.name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(CheckpointError::Missing {
            path: path.to_path_buf(),
            names: missing,
        });
    }
    if !unexpected.is_empty() {
        return Err(CheckpointError::Unexpected {
            path: path.to_path_buf(),
            names: unexpected,
        });
    }
    let mut out = Vec::with_capacity(params.len());
    for p in params {
        let view = file.tensor(&p.name).expect("presence checked above");
        if view.dtype() != dtype_of::<T>() {
            return Err(CheckpointError::Dtype {
                path: path.to_path_buf(),
                name: p.name.clone(),
                expected: format!("{:?}", dtype_of::<T>()),
                found: format!("{:?}", view.dtype()),
            });
        }
        if view.shape() != p.tensor.shape() {
            return Err(CheckpointError::Shape {
                path: path.to_path_buf(),
                name: p.name.clone(),
                expected: p.tensor.shape().to_vec(),
                found: view.shape().to_vec(),
            });
        }
        out.push(from_le_bytes(view.data()));
    }
    Ok(out)
}

/// Every parameter and buffer (batch-norm running statistics) of `model`, by name.
fn state<T: Float, M: Module<T> + ?Sized>(model: &M) -> Vec<Param<T>> {
    let mut all = model.parameters();
    all.extend(model.buffers());
    all
}

/// Saves a model's parameters and buffers ([`Module::parameters`], [`Module::buffers`]).
pub fn save_module<T: Float, M: Module<T> + ?Sized>(
    path: impl AsRef<Path>,
    model: &M,
) -> Result<(), CheckpointError> {
    save(path, &state(model))
}

/// Loads a model's parameters and buffers saved by [`save_module`]; the model is untouched on
/// error.
pub fn load_module<T: Float, M: Module<T> + ?Sized>(
    path: impl AsRef<Path>,
    model: &M,
) -> Result<(), CheckpointError> {
    load(path, &state(model))
}

/// Where a training run is, beside the model and the optimizer: saved by [`save_training`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrainingState {
    /// Epochs completed.
    pub epoch: u64,
    /// The learning-rate schedule's position (its next epoch or step, as the loop drives it).
    pub schedule_position: u64,
}

/// Prefix of the optimizer's tensors in a training checkpoint.
const OPTIMIZER_PREFIX: &str = "optimizer/";

/// Saves a training run: `model`'s parameters and buffers, `optimizer`'s state (buffers by
/// parameter name, step count, learning rate) and `training`, in one safetensors file,
/// atomically.
///
/// ```
/// use engine::Tensor;
/// use nn::checkpoint::{load_training, save_training, TrainingState};
/// use nn::optim::{Adam, Optimizer};
/// use nn::{Dense, Init, Module};
/// use rand::SeedableRng;
///
/// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
/// let model = Dense::<f64>::new(2, 1, &Init::HeNormal, &mut rng);
/// let mut opt = Adam::new(0.01);
/// model.forward(&Tensor::ones(&[2, 3])).sum().backward();
/// opt.step(&model.parameters());
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("run.safetensors");
/// save_training(&path, &model, &opt, TrainingState { epoch: 1, schedule_position: 1 }).unwrap();
///
/// let fresh = Dense::<f64>::new(2, 1, &Init::Zeros, &mut rng);
/// let mut fresh_opt = Adam::new(0.01);
/// let state = load_training(&path, &fresh, &mut fresh_opt).unwrap();
/// assert_eq!(state.epoch, 1);
/// assert_eq!(fresh_opt.step_count(), 1);
/// assert_eq!(fresh.weight.to_vec(), model.weight.to_vec());
/// ```
pub fn save_training<T: Float, M: Module<T> + ?Sized, O: Optimizer<T> + ?Sized>(
    path: impl AsRef<Path>,
    model: &M,
    optimizer: &O,
    training: TrainingState,
) -> Result<(), CheckpointError> {
    let mut all = state(model);
    let opt = optimizer.state();
    for (key, values) in opt.buffers {
        let n = values.len();
        all.push(Param::new(
            format!("{OPTIMIZER_PREFIX}{key}"),
            Tensor::from_vec(values, &[n]),
            ParamKind::Other,
        ));
    }
    // `{:?}` of an f64 is the shortest decimal that parses back to the same bits.
    let metadata = vec![
        ("optimizer.kind".to_string(), opt.kind),
        ("optimizer.step".to_string(), opt.step.to_string()),
        (
            "optimizer.learning_rate".to_string(),
            format!("{:?}", opt.learning_rate),
        ),
        ("training.epoch".to_string(), training.epoch.to_string()),
        (
            "training.schedule_position".to_string(),
            training.schedule_position.to_string(),
        ),
    ];
    save_with_metadata(path.as_ref(), &all, metadata)
}

/// Loads a run saved by [`save_training`] into `model` and `optimizer` (fresh or not) and
/// returns the [`TrainingState`]. Everything is checked first (parameters and buffers as
/// [`load`] checks them; the optimizer's kind, buffers, their parameters and lengths): on any
/// error neither the model nor the optimizer has changed.
pub fn load_training<T: Float, M: Module<T> + ?Sized, O: Optimizer<T> + ?Sized>(
    path: impl AsRef<Path>,
    model: &M,
    optimizer: &mut O,
) -> Result<TrainingState, CheckpointError> {
    let path = path.as_ref();
    let bad = |reason: String| CheckpointError::Training {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        action: "reading",
        source,
    })?;
    let params = state(model);
    let values = validate(path, &bytes, &params, Some(OPTIMIZER_PREFIX))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| CheckpointError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| CheckpointError::Format {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let field = |key: &str| {
        metadata
            .get(key)
            .cloned()
            .ok_or_else(|| bad(format!("metadata field {key:?} is missing")))
    };
    let number = |key: &str| -> Result<u64, CheckpointError> {
        let text = field(key)?;
        text.parse()
            .map_err(|_| bad(format!("metadata field {key:?} is not a count: {text:?}")))
    };
    let learning_rate: f64 = {
        let text = field("optimizer.learning_rate")?;
        text.parse().map_err(|_| {
            bad(format!(
                "metadata field \"optimizer.learning_rate\" is not a number: {text:?}"
            ))
        })?
    };
    let training = TrainingState {
        epoch: number("training.epoch")?,
        schedule_position: number("training.schedule_position")?,
    };
    let mut buffers = Vec::new();
    let mut names: Vec<&str> = file
        .names()
        .into_iter()
        .filter(|n| n.starts_with(OPTIMIZER_PREFIX))
        .collect();
    names.sort();
    for name in names {
        let key = &name[OPTIMIZER_PREFIX.len()..];
        let view = file.tensor(name).map_err(|e| CheckpointError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if view.dtype() != dtype_of::<T>() {
            return Err(CheckpointError::Dtype {
                path: path.to_path_buf(),
                name: name.to_string(),
                expected: format!("{:?}", dtype_of::<T>()),
                found: format!("{:?}", view.dtype()),
            });
        }
        let param_name = key.split_once('/').map_or("", |(_, p)| p);
        let param = params
            .iter()
            .find(|p| p.name == param_name)
            .ok_or_else(|| bad(format!("{name} belongs to no parameter of the model")))?;
        if view.shape() != [param.tensor.numel()] {
            return Err(CheckpointError::Shape {
                path: path.to_path_buf(),
                name: name.to_string(),
                expected: vec![param.tensor.numel()],
                found: view.shape().to_vec(),
            });
        }
        buffers.push((key.to_string(), from_le_bytes::<T>(view.data())));
    }
    optimizer
        .load_state(OptimizerState {
            kind: field("optimizer.kind")?,
            step: number("optimizer.step")?,
            learning_rate,
            buffers,
        })
        .map_err(bad)?;
    for (p, v) in params.iter().zip(values) {
        p.tensor.update_data(|d| d.copy_from_slice(&v));
    }
    Ok(training)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, BatchNorm, Dense, Init, Sequential};
    use rand::SeedableRng;

    fn net(init: Init, seed: u64) -> Sequential<f64> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        Sequential::new(vec![
            Box::new(Dense::new(3, 4, &init, &mut rng)),
            Box::new(BatchNorm::new(4, 1e-5, 0.9)),
            Box::new(Activation::Relu),
            Box::new(Dense::new(4, 2, &init, &mut rng)),
        ])
    }

    fn values(m: &Sequential<f64>) -> Vec<Vec<f64>> {
        state(m).iter().map(|p| p.tensor.to_vec()).collect()
    }

    #[test]
    fn round_trip_restores_parameters_and_running_statistics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        let a = net(Init::HeNormal, 1);
        // Move the running statistics away from their initial values.
        a.forward(&Tensor::from_vec(
            (0..15).map(|i| i as f64).collect(),
            &[3, 5],
        ));
        save_module(&path, &a).unwrap();
        let b = net(Init::Zeros, 2);
        assert_ne!(values(&a), values(&b));
        load_module(&path, &b).unwrap();
        assert_eq!(values(&a), values(&b));
        // Only the destination is left in the directory: no temporary files.
        let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn file_follows_the_safetensors_layout() {
        // Header: 8-byte little-endian length, then JSON naming each tensor with dtype, shape
        // and data offsets; data little-endian.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let w = Tensor::<f64>::from_vec(vec![1.5, -2.0], &[2, 1]);
        save(&path, &[Param::weight("W1", w)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
        assert!(header.contains(r#""W1":{"dtype":"F64","shape":[2,1],"data_offsets":[0,16]}"#));
        let data = &bytes[8 + n..];
        assert_eq!(f64::from_le_bytes(data[..8].try_into().unwrap()), 1.5);
        assert_eq!(f64::from_le_bytes(data[8..].try_into().unwrap()), -2.0);
    }

    fn assert_untouched_after(err: CheckpointError, before: &[Vec<f64>], model: &Sequential<f64>) {
        assert!(!err.to_string().is_empty());
        assert_eq!(values(model), before, "model changed after error: {err}");
    }

    #[test]
    fn corrupt_files_give_format_errors_and_leave_the_model_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        save_module(&path, &net(Init::HeNormal, 1)).unwrap();
        let good = std::fs::read(&path).unwrap();
        let target = net(Init::Zeros, 3);
        let before = values(&target);
        for bad in [
            good[..good.len() - 5].to_vec(), // truncated data
            good[..4].to_vec(),              // truncated header length
            b"not a checkpoint at all".to_vec(),
            {
                let mut g = good.clone();
                g[12] = b'#'; // break the JSON header
                g
            },
        ] {
            std::fs::write(&path, &bad).unwrap();
            let err = load_module(&path, &target).unwrap_err();
            assert!(matches!(err, CheckpointError::Format { .. }), "{err}");
            assert!(err.to_string().contains("net.safetensors"));
            assert_untouched_after(err, &before, &target);
        }
        let err = load_module(dir.path().join("absent.safetensors"), &target).unwrap_err();
        assert!(
            matches!(
                err,
                CheckpointError::Io {
                    action: "reading",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn mismatched_files_are_rejected_before_any_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("net.safetensors");
        let source = net(Init::HeNormal, 1);
        save_module(&path, &source).unwrap();
        // Shape: a model whose second layer is wider. Its W1 would match, but must stay as is.
        let mut rng = rand::rngs::StdRng::seed_from_u64(4);
        let wider = Sequential::<f64>::new(vec![
            Box::new(Dense::new(3, 4, &Init::Zeros, &mut rng)),
            Box::new(BatchNorm::new(4, 1e-5, 0.9)),
            Box::new(Dense::new(4, 3, &Init::Zeros, &mut rng)),
        ]);
        let before = values(&wider);
        let err = load_module(&path, &wider).unwrap_err();
        match &err {
            CheckpointError::Shape {
                name,
                expected,
                found,
                ..
            } => {
                assert_eq!(name, "W2");
                assert_eq!(
                    (expected.as_slice(), found.as_slice()),
                    (&[3, 4][..], &[2, 4][..])
                );
            }
            other => panic!("expected a shape error, got {other}"),
        }
        assert_untouched_after(err, &before, &wider);
        // Missing and unexpected names.
        let w1_only = [Param::weight("W1", Tensor::<f64>::zeros(&[4, 3]).to_leaf())];
        let err = load(&path, &w1_only).unwrap_err();
        assert!(
            matches!(&err, CheckpointError::Unexpected { names, .. } if names.contains(&"b2".to_string())),
            "{err}"
        );
        assert_eq!(w1_only[0].tensor.to_vec(), [0.0; 12]);
        let extra = [
            Param::weight("W1", Tensor::<f64>::zeros(&[4, 3]).to_leaf()),
            Param::weight("W9", Tensor::<f64>::zeros(&[1, 1]).to_leaf()),
        ];
        let err = load(&path, &extra).unwrap_err();
        assert!(
            matches!(&err, CheckpointError::Missing { names, .. } if names == &["W9"]),
            "{err}"
        );
        // Element type: an f32 model cannot silently load f64 data.
        let f32_params = [Param::weight("W1", Tensor::<f32>::zeros(&[4, 3]).to_leaf())];
        save(
            dir.path().join("f64.safetensors"),
            &[Param::weight("W1", Tensor::<f64>::ones(&[4, 3]))],
        )
        .unwrap();
        let err = load(dir.path().join("f64.safetensors"), &f32_params).unwrap_err();
        assert!(
            matches!(&err, CheckpointError::Dtype { found, .. } if found == "F64"),
            "{err}"
        );
    }

    #[test]
    fn f32_round_trip_and_duplicate_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f32.safetensors");
        let w = Tensor::<f32>::from_vec(vec![0.1, -3.25, 7.0], &[3, 1]);
        save(&path, &[Param::weight("W", w.clone())]).unwrap();
        let target = [Param::weight("W", Tensor::<f32>::zeros(&[3, 1]))];
        load(&path, &target).unwrap();
        assert_eq!(target[0].tensor.to_vec(), w.to_vec());
        let dup = [
            Param::weight("W", Tensor::<f32>::zeros(&[1])),
            Param::weight("W", Tensor::<f32>::zeros(&[1])),
        ];
        assert!(matches!(
            save(&path, &dup),
            Err(CheckpointError::DuplicateName { .. })
        ));
        // The failed save left the previous file intact.
        load(&path, &target).unwrap();
    }

    #[test]
    fn saving_into_a_missing_directory_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/model.safetensors");
        let err = save(&path, &[Param::weight("W", Tensor::<f64>::zeros(&[1]))]).unwrap_err();
        assert!(matches!(err, CheckpointError::Io { .. }), "{err}");
    }
}
