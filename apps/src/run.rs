//! Dispatch from the parsed command line to the assignments.

use std::time::Instant;

use clap::Parser;

use crate::assignments::{self, AppError, Context};
use crate::cli::{AllArgs, Cli, Command, OptimizationArgs, OutputKind};
use crate::report::Reporter;

/// Runs the command `cli` asks for, printing its results.
pub fn run(cli: &Cli) -> Result<(), AppError> {
    let ctx = Context {
        reporter: Reporter::new(cli.output.json, cli.output.quiet),
        out: cli.output.out.clone(),
        print_every: cli.output.print_every,
    };
    run_command(&ctx, &cli.command)
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
                "batchnorm"
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
