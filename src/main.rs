//! `angcut`: parses the command line, runs it, and turns errors into messages and exit codes
//! (2 for usage errors, 1 for failures).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse(); // exits with code 2 on a usage error
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("angcut: error: {error:#}");
            let usage = error.downcast_ref::<angcut::Error>().is_some_and(angcut::Error::is_usage);
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
