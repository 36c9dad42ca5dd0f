//! `apps`: the course assignments reproduced on ferrograd (see `apps --help`).

use clap::Parser;

fn main() {
    let cli = apps::cli::Cli::parse();
    if let Err(e) = apps::run::run(&cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
