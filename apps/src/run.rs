//! Dispatch from the parsed command line to the assignments.

use crate::assignments::{self, AppError, Context};
use crate::cli::{self, Cli, Command};
use crate::report::Reporter;

/// Runs the command `cli` asks for, printing its results.
pub fn run(cli: &Cli) -> Result<(), AppError> {
    let ctx = Context {
        reporter: Reporter::new(cli.output.json, cli.output.quiet),
        out: cli.output.out.clone(),
        print_every: cli.output.print_every,
    };
    match &cli.command {
        Command::Init(a) => assignments::init::run(&ctx, a).map(drop),
        Command::Regularization(a) => assignments::regularization::run(&ctx, a).map(drop),
        Command::Gradcheck(a) => assignments::gradcheck::run(&ctx, a).map(drop),
        Command::Optimization(_) | Command::Mnist(_) | Command::Batchnorm(_) => {
            Err(AppError("not implemented yet".into()))
        }
        Command::All(_) => {
            use clap::Parser;
            let parse = |args: &[&str]| {
                Cli::try_parse_from(std::iter::once("apps").chain(args.iter().copied()))
                    .expect("built-in arguments parse")
            };
            let cli::Command::Init(i) = parse(&["init"]).command else { unreachable!() };
            assignments::init::run(&ctx, &i)?;
            let cli::Command::Regularization(r) = parse(&["regularization"]).command else {
                unreachable!()
            };
            assignments::regularization::run(&ctx, &r)?;
            let cli::Command::Gradcheck(g) = parse(&["gradcheck"]).command else { unreachable!() };
            assignments::gradcheck::run(&ctx, &g)?;
            Ok(())
        }
    }
}
