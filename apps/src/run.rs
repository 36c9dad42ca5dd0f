//! Dispatch from the parsed command line to the assignments.

use std::path::Path;
use std::time::Instant;

use clap::Parser;

use crate::assignments::{self, AppError, Context};
use crate::cli::{AllArgs, Cli, Command, OptimizationArgs, OutputKind};
use crate::report::Reporter;

/// Runs the command `cli` asks for, printing its results. Everything that can be checked
/// without training is checked first: the hyperparameters ([`Cli::validate`]), the output
/// folder (created and written to) and the MNIST folder (its files present), so that a typo
/// fails in a second rather than after minutes of training.
pub fn run(cli: &Cli) -> Result<(), AppError> {
    cli.validate().map_err(AppError)?;
    if let Some(dir) = &cli.output.out {
        check_out_dir(dir)?;
    }
    if let Some(dir) = data_dir(&cli.command) {
        crate::data::check_mnist_dir(dir)?;
    }
    let ctx = Context {
        reporter: Reporter::new(cli.output.json, cli.output.quiet),
        out: cli.output.out.clone(),
        print_every: cli.output.print_every,
        check: cli.output.check,
        allow_nonfinite: cli.output.allow_nonfinite,
    };
    run_command(&ctx, &cli.command)
}

/// The MNIST folder the command reads, if any.
fn data_dir(command: &Command) -> Option<&Path> {
    match command {
        Command::Mnist(a) => a.data_dir.as_deref(),
        Command::Batchnorm(a) => a.data_dir.as_deref(),
        Command::All(a) => a.data_dir.as_deref(),
        _ => None,
    }
}

/// Creates the plot folder and writes (then removes) a probe file in it.
pub fn check_out_dir(dir: &Path) -> Result<(), AppError> {
    let fail =
        |what: &str, e: std::io::Error| AppError(format!("--out {}: {what}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(|e| fail("cannot create the folder", e))?;
    let probe = dir.join(format!(".apps-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| fail("cannot write into the folder", e))?;
    std::fs::remove_file(&probe).map_err(|e| fail("cannot remove a file from the folder", e))
}

fn run_command(ctx: &Context, command: &Command) -> Result<(), AppError> {
    match command {
        Command::Init(a) => assignments::init::run(ctx, a).map(drop),
        Command::Regularization(a) => assignments::regularization::run(ctx, a).map(drop),
        Command::Gradcheck(a) => assignments::gradcheck::run(ctx, a).map(drop),
        Command::Optimization(a) => assignments::optimization::run(ctx, a).map(drop),
        Command::Mnist(a) => assignments::mnist::run(ctx, a).map(drop),
        Command::Batchnorm(a) => assignments::batchnorm::run(ctx, a).map(drop),
        Command::All(a) => run_all(ctx, a),
        Command::Cnn(a) => assignments::cnn::run(ctx, a).map(drop),
        Command::Attention(a) => assignments::attention::run(ctx, a).map(drop),
    }
}

/// The commands `apps all` runs, in order, with the seeds' defaults.
pub fn all_commands(args: &AllArgs) -> Vec<Command> {
    let parse = |words: &[&str]| {
        let mut argv = vec!["apps"];
        argv.extend_from_slice(words);
        let dir = args.data_dir.as_ref().map(|d| d.display().to_string());
        if let (Some(d), true) = (&dir, matches!(words[0], "mnist" | "batchnorm")) {
            argv.push("--data-dir");
            argv.push(d);
            return Cli::try_parse_from(argv)
                .expect("built-in arguments parse")
                .command;
        }
        Cli::try_parse_from(argv)
            .expect("built-in arguments parse")
            .command
    };
    let mut commands = vec![
        parse(&["gradcheck"]),
        parse(&["init"]),
        parse(&["regularization"]),
        parse(&["optimization"]),
    ];
    if let Command::Optimization(a) = parse(&["optimization"]) {
        commands.push(Command::Optimization(OptimizationArgs {
            output: OutputKind::Sigmoid,
            ..a
        }));
    }
    commands.push(parse(&["mnist"]));
    commands.push(parse(&["batchnorm"]));
    commands.push(parse(&["cnn"]));
    commands.push(parse(&["attention"]));
    commands
}

fn run_all(ctx: &Context, args: &AllArgs) -> Result<(), AppError> {
    let started = Instant::now();
    for command in all_commands(args) {
        run_command(ctx, &command)?;
    }
    ctx.reporter.line(&format!(
        "apps all: done in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_runs_every_assignment_with_defaults() {
        let cmds = all_commands(&AllArgs::default());
        let names: Vec<&str> = cmds
            .iter()
            .map(|c| match c {
                Command::Init(_) => "init",
                Command::Regularization(_) => "regularization",
                Command::Gradcheck(_) => "gradcheck",
                Command::Optimization(_) => "optimization",
                Command::Mnist(_) => "mnist",
                Command::Batchnorm(_) => "batchnorm",
                Command::All(_) => "all",
                Command::Cnn(_) => "cnn",
                Command::Attention(_) => "attention",
            })
            .collect();
        assert_eq!(
            names,
            [
                "gradcheck",
                "init",
                "regularization",
                "optimization",
                "optimization",
                "mnist",
                "batchnorm",
                "cnn",
                "attention"
            ]
        );
        let dir = AllArgs {
            data_dir: Some("/data/mnist".into()),
        };
        let Command::Mnist(m) = &all_commands(&dir)[5] else {
            panic!("mnist expected")
        };
        assert_eq!(
            m.data_dir.as_deref(),
            Some(std::path::Path::new("/data/mnist"))
        );
    }
}
