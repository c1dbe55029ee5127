//! Process-wide set-up: a run stopped by SIGINT or SIGTERM leaves no output behind, and a run with
//! many outputs may hold a descriptor open for each.

/// On SIGINT or SIGTERM, removes the output being written and exits with 128 + the signal number
/// (130, 143), as shells expect: an interrupted run leaves neither OUT nor a partial file.
pub fn stop_cleanly_on_signals() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::iterator::Signals;
        match Signals::new([SIGINT, SIGTERM]) {
            Ok(mut signals) => {
                std::thread::spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        angcut::io::write::remove_partial_outputs();
                        eprintln!("angcut: interrupted by signal {signal}; no output written");
                        std::process::exit(128 + signal);
                    }
                });
            }
            Err(error) => eprintln!("angcut: warning: cannot watch for interruptions ({error})"),
        }
    }
}

/// Raises the soft limit of open files to the hard limit. Every output stays open (and locked)
/// until the whole job is committed, so `--out-dir` over a catalogue of thousands of partition
/// files holds thousands of descriptors; the usual soft limit (1,024) would fail such a run half
/// way. Failing to raise it is not an error: smaller runs do not need it.
pub fn allow_many_open_files() {
    #[cfg(unix)]
    // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
    unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
