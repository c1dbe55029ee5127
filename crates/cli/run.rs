//! Running what the command line asks for: the core plans and runs the job; this adds what only a
//! person at a terminal needs (the progress line, the summary line, the stats file).

use std::io::IsTerminal;

use angcut::io::write::ParquetOutputOptions;
use angcut::job::Progress;
use angcut::job::ProgressReport;
use angcut::mask::area::area_and_cells;
use angcut::mask::{Mask, MaskSpec};
use angcut::randoms::generate_with_progress;
use angcut::stats::{area_record, record_json};
use angcut::stream_file_with_progress;
use angcut::synthetic::write_catalogue;
use angcut::{KernelChoice, Spelling};

use clap::CommandFactory;

use crate::flags::{Args, Cli};
use crate::progress::ProgressLine;

/// Runs the parsed command; errors carry the library's context (file, column, row).
pub fn run(args: Args) -> anyhow::Result<()> {
    match args {
        Args::Stream { options, stats_json, quiet, warnings } => {
            let job = options.plan()?;
            // Warnings are printed even with --quiet: they are about the result, not the progress.
            for warning in &warnings {
                eprintln!("angcut: warning: {warning}");
            }
            let summary = with_progress(quiet, |progress| stream_file_with_progress(&job, progress))?;
            if let Some(path) = &stats_json {
                write_stats(path, &angcut::stats::summary_json(&job, &summary))?;
            }
            if !quiet {
                eprintln!("{}", summary.line());
            }
            for warning in summary.warnings() {
                eprintln!("angcut: warning: {warning}");
            }
            Ok(())
        }
        Args::Randoms { options, stats_json, quiet } => {
            let job = options.plan()?;
            let summary = with_progress(quiet, |progress| generate_with_progress(&job, progress))?;
            if let Some(path) = &stats_json {
                write_stats(path, &angcut::stats::randoms_json(&job, &summary))?;
            }
            if !quiet {
                eprintln!("{}", summary.line());
            }
            Ok(())
        }
        Args::Area { masks, order, epoch, json, products } => {
            let spec = MaskSpec::read(&masks, epoch, Spelling::CommandLine)?;
            products.check(std::iter::once(masks.as_path()).chain(spec.layers.iter().map(|l| l.path())))?;
            let mask = Mask::read(&spec, KernelChoice::Auto)?;
            let (report, cells) = area_and_cells(&mask, order)?;
            for line in products.write(&mask, &report, &cells)? {
                eprintln!("angcut: {line}");
            }
            if json {
                print!("{}", record_json(&area_record(&report)));
            } else {
                print!("{}", report.table());
            }
            Ok(())
        }
        Args::Completions(shell) => {
            clap_complete::generate(shell, &mut Cli::command(), "angcut", &mut std::io::stdout());
            Ok(())
        }
        Args::Man(subcommand) => {
            let command = Cli::command();
            let page = match subcommand {
                None => command,
                Some(name) => {
                    let Some(sub) = command.find_subcommand(&name) else {
                        let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
                        let message = format!("'{name}' is no subcommand of angcut: {}", names.join(", "));
                        return Err(angcut::Error::Usage(message).into());
                    };
                    // Its page named as man(1) names subcommands' pages: angcut-stream(1).
                    let page_name = format!("angcut-{name}");
                    sub.clone().name(page_name).version(command.get_version().unwrap_or_default().to_string())
                }
            };
            let mut out = Vec::new();
            clap_mangen::Man::new(page)
                .render(&mut out)
                .map_err(|source| angcut::Error::Io { path: "-".into(), source })?;
            std::io::Write::write_all(&mut std::io::stdout(), &out)
                .map_err(|source| angcut::Error::Io { path: "-".into(), source })?;
            Ok(())
        }
        Args::Formats => {
            print!("{}", angcut::io::formats::markdown());
            Ok(())
        }
        Args::Gen { output, catalogue } => {
            write_catalogue(&output, &catalogue, &ParquetOutputOptions::default())?;
            Ok(())
        }
    }
}

/// Runs `run` with a progress line for a person watching (not when stderr goes to a file or a
/// pipe, nor with --quiet), cleared when it ends.
fn with_progress<T>(
    quiet: bool,
    run: impl FnOnce(Option<&mut Progress>) -> Result<T, angcut::Error>,
) -> Result<T, angcut::Error> {
    if quiet || !std::io::stderr().is_terminal() {
        return run(None);
    }
    let mut line = ProgressLine::new();
    let result = run(Some(&mut |report: &ProgressReport| line.update(report)));
    line.clear();
    result
}

/// Writes a run's summary as JSON (`--stats-json`).
fn write_stats(path: &std::path::Path, json: &str) -> Result<(), angcut::Error> {
    std::fs::write(path, json).map_err(|source| angcut::Error::Io { path: path.to_path_buf(), source })
}
