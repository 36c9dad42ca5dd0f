//! One module per assignment. Each has a `run` that the binary calls with the parsed command
//! line, and smaller functions (one training run, one check) that tests call with shortened
//! iteration counts.

pub mod attention;
pub mod batchnorm;
pub mod cnn;
pub mod gradcheck;
pub mod init;
pub mod mnist;
pub mod optimization;
pub mod regularization;

use std::path::{Path, PathBuf};
use std::time::Instant;

use engine::Tensor;
use nn::Sequential;

use crate::model::{self, Output};
use crate::plot;
use crate::report::{Reporter, RunReport};
use crate::train::Trained;

/// An error an app reports to the user (bad data file, unwritable output folder).
#[derive(Debug, Clone, PartialEq)]
pub struct AppError(pub String);

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AppError {}

impl From<plot::PlotError> for AppError {
    fn from(e: plot::PlotError) -> Self {
        AppError(e.0)
    }
}

/// What every app needs besides its own arguments.
#[derive(Debug)]
pub struct Context {
    /// Where results go.
    pub reporter: Reporter,
    /// Folder for plots, if any.
    pub out: Option<PathBuf>,
    /// Overrides the seeds' reporting cadence.
    pub print_every: Option<u64>,
    /// How much of a batch the gradient checks cover.
    pub check: crate::cli::CheckScope,
    /// Keep training through a NaN or infinite cost instead of stopping with an error.
    pub allow_nonfinite: bool,
}

impl Context {
    /// A context that prints nothing and plots nothing (tests).
    pub fn silent() -> Self {
        Context {
            reporter: Reporter::silent(),
            out: None,
            print_every: None,
            check: crate::cli::CheckScope::Bounded,
            allow_nonfinite: false,
        }
    }

    /// The plot folder, created if needed.
    pub fn out_dir(&self) -> Result<Option<&Path>, AppError> {
        match &self.out {
            None => Ok(None),
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    AppError(format!("creating output folder {}: {e}", dir.display()))
                })?;
                Ok(Some(dir.as_path()))
            }
        }
    }
}

/// A labelled data set split into training and (optionally) test examples; examples are
/// columns, targets `(1, m)` labels or `(classes, m)` one-hot.
#[derive(Clone, Debug)]
pub struct Data {
    /// Training inputs.
    pub x: Tensor<f64>,
    /// Training targets.
    pub y: Tensor<f64>,
    /// Test inputs and targets.
    pub test: Option<(Tensor<f64>, Tensor<f64>)>,
    /// Where the examples came from: the files loaded, or how they were generated.
    pub source: Vec<String>,
}

impl Data {
    /// Says which files were loaded (text mode: the run's first line; JSON: each run's `data`
    /// field).
    pub fn announce(&self, ctx: &Context) {
        ctx.reporter
            .line(&format!("data: {}", self.source.join(", ")));
    }
}

/// Assembles a run's report (accuracies as the course's `predict` computes them), writing its
/// plots (cost curve, and the decision boundary when the inputs are 2-D) into the context's
/// folder.
#[allow(clippy::too_many_arguments)]
pub fn finish_run(
    ctx: &Context,
    run: &str,
    unit: &'static str,
    trained: Trained,
    model: &Sequential<f64>,
    output: Output,
    data: &Data,
    started: Instant,
) -> Result<RunReport, AppError> {
    let accuracy = |x: &Tensor<f64>, y: &Tensor<f64>| {
        model::accuracy(&model::predict(model, output, x), &model::labels_of(y))
    };
    let train_acc = accuracy(&data.x, &data.y);
    let test_acc = data.test.as_ref().map(|(x, y)| accuracy(x, y));
    let mut plots = vec![];
    let mini_batch = unit == "epoch";
    if let Some(dir) = ctx.out_dir()? {
        let points: Vec<(f64, f64)> = trained
            .cost_at
            .iter()
            .zip(&trained.costs)
            .map(|(&i, &c)| (i as f64, c))
            .collect();
        // Mini-batch runs report the cost of an epoch's last mini-batch, as the seed does:
        // draw each epoch's mean cost with it, which shows the trend without that noise.
        let means: Vec<(f64, f64)> = trained
            .epoch_means
            .iter()
            .map(|&(e, c)| (e as f64, c))
            .collect();
        let mut series = vec![plot::Series {
            label: if mini_batch {
                "last mini-batch of the epoch (reported)"
            } else {
                run
            },
            points: &points,
            markers: true,
        }];
        if mini_batch {
            series.push(plot::Series {
                label: "mean over the epoch's mini-batches",
                points: &means,
                markers: false,
            });
        }
        let path = dir.join(format!("{}-cost.svg", plot::file_stem(run)));
        plot::cost_curves(&path, &format!("{run}: cost"), unit, "cost", &series)?;
        plots.push(path.display().to_string());
        if data.x.shape()[0] == 2 {
            let path = dir.join(format!("{}-boundary.svg", plot::file_stem(run)));
            let xs = data.x.to_vec();
            let m = data.x.shape()[1];
            let pts: Vec<(f64, f64)> = (0..m).map(|j| (xs[j], xs[m + j])).collect();
            let mut classify = |grid: &[(f64, f64)]| {
                let mut g = Vec::with_capacity(2 * grid.len());
                g.extend(grid.iter().map(|p| p.0));
                g.extend(grid.iter().map(|p| p.1));
                model::predict(model, output, &Tensor::from_vec(g, &[2, grid.len()]))
            };
            plot::decision_boundary(
                &path,
                &format!("{run}: decision boundary"),
                &pts,
                &model::labels_of(&data.y),
                &mut classify,
            )?;
            plots.push(path.display().to_string());
        }
    }
    Ok(RunReport {
        run: run.to_string(),
        data: data.source.clone(),
        unit,
        cost_at: trained.cost_at,
        costs: trained.costs,
        train_acc,
        test_acc,
        checks: trained.checks,
        hvp_checks: vec![],
        test_acc_curve: vec![],
        plots,
        seconds: started.elapsed().as_secs_f64(),
    })
}
