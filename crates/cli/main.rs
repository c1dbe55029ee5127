//! `angcut`: parses the command line, runs it, and turns errors into messages and exit codes
//! (2 for usage errors, 1 for failures, 128 + N when stopped by signal N).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;

mod flags;
mod process;
mod progress;
mod run;

/// mimalloc instead of the system allocator: with glibc's, peak memory crept up with the input's
/// length (its arenas and moving mmap threshold keep freed batch buffers), 221 MB at 2,000,000
/// wide rows and 281 MB at 20,000,000; docs/performance.md has the figures with mimalloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = flags::parse(); // exits with code 2 on a usage error
    // Every panic is caught (in the workers, around the Parquet reader, and here) and reported as
    // an error, so the default hook's "thread panicked at ..." text would only be noise.
    std::panic::set_hook(Box::new(|_| {}));
    process::stop_cleanly_on_signals();
    process::allow_many_open_files();
    match catch_unwind(AssertUnwindSafe(|| run::run(args))) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) if error.downcast_ref::<angcut::Error>().is_some_and(angcut::Error::is_broken_pipe) => {
            // The reader of our output went away (`... | head`): say so in one line, and exit as a
            // process killed by SIGPIPE would, so a pipeline with `pipefail` sees it.
            eprintln!("angcut: the output pipe was closed before all rows were written; stopped");
            ExitCode::from(141)
        }
        Ok(Err(error)) => {
            // The library's messages already include their causes: print the top one only, or
            // anyhow's chain would repeat them ("...: No such file (os error 2): No such file ...").
            eprintln!("angcut: error: {error}");
            let usage = error.downcast_ref::<angcut::Error>().is_some_and(angcut::Error::is_usage);
            ExitCode::from(if usage { 2 } else { 1 })
        }
        Err(payload) => {
            let message = angcut::error::panic_message(payload.as_ref());
            eprintln!("angcut: internal error: {message} (this is a bug in angcut; no output was written)");
            ExitCode::from(1)
        }
    }
}
