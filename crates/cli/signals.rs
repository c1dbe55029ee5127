//! Interruptions: a run stopped by SIGINT or SIGTERM leaves no output behind.

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
