//! Flushing an output file to disk while it is being written.
//!
//! Every output is synced before it is renamed into place (`commit`), and the kernel writes dirty
//! pages back on its own only once they pass a share of memory (`vm.dirty_background_ratio`,
//! 10% by default: ~2 GB on a 24 GB machine) or grow 30 s old. Left to that, a 2.6 GB FITS output
//! spent 4.8 s in the final sync after the cut had ended, the disk idle while the cut ran. A
//! thread beside each output flushes what has been written every [`EVERY`] bytes instead, so the
//! disk works while the cut runs and the final sync finds little left. It watches the file's
//! length rather than being told of each write: cfitsio writes the FITS rows through its own
//! descriptor. Only a hint: its errors are left to the final sync, which reports them.

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};

/// Bytes written between two flushes. Small enough that the last flush, at the end of the run,
/// is short (a 126 MB Parquet output flushed every 64 MB spent 0.12 s in it); each flush also
/// commits the file's new length, so not a few kilobytes either.
const EVERY: u64 = 8 << 20;

/// How often the thread looks at the file's length.
const POLL: Duration = Duration::from_millis(20);

/// The flushing thread of one output file: stopped, after the flush it may be in, by
/// [`stop`](Self::stop) or when dropped.
pub(super) struct Writeback {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// How many flushes the thread has made (read by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    flushes: Arc<AtomicUsize>,
}

impl Writeback {
    /// Starts flushing `file` as it grows. If the descriptor cannot be shared or no thread
    /// started, nothing is flushed early: the final sync does it all, as it would anyway.
    pub(super) fn start(file: &File) -> Writeback {
        let flushes = Arc::new(AtomicUsize::new(0));
        let idle = Writeback { stop: None, thread: None, flushes: flushes.clone() };
        let Ok(file) = file.try_clone() else {
            return idle;
        };
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let counted = flushes.clone();
        let thread = std::thread::Builder::new().name("angcut-writeback".into()).spawn(move || {
            let mut flushed = 0;
            // Until `stop` is dropped (nothing is ever sent on it).
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(POLL) {
                let Ok(length) = file.metadata().map(|m| m.len()) else {
                    return;
                };
                if length >= flushed + EVERY {
                    let _ = file.sync_data();
                    counted.fetch_add(1, Ordering::Relaxed);
                    flushed = length;
                }
            }
        });
        match thread {
            Ok(thread) => Writeback { stop: Some(stop), thread: Some(thread), flushes },
            Err(_) => idle,
        }
    }

    /// Stops flushing: the file is complete (the final sync follows) or about to be deleted.
    pub(super) fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// How many flushes the thread has made.
    #[cfg(test)]
    fn flushes(&self) -> usize {
        self.flushes.load(Ordering::Relaxed)
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Instant;

    use super::*;

    /// Polls `writeback` until it has flushed `at_least` times, for up to 10 s (a busy machine);
    /// returns the count.
    fn flushes_after(writeback: &Writeback, at_least: usize) -> usize {
        let start = Instant::now();
        while writeback.flushes() < at_least && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(POLL);
        }
        writeback.flushes()
    }

    #[test]
    fn a_growing_file_is_flushed_every_few_megabytes_and_a_stopped_one_no_more() {
        let mut file = tempfile::tempfile().unwrap();
        let mut writeback = Writeback::start(&file);
        let chunk = vec![7u8; (EVERY / 2) as usize];
        file.write_all(&chunk).unwrap();
        // Half the interval: several polls go by without a flush.
        std::thread::sleep(POLL * 5);
        assert_eq!(writeback.flushes(), 0, "flushed before {EVERY} bytes were written");
        file.write_all(&chunk).unwrap();
        assert_eq!(flushes_after(&writeback, 1), 1, "one flush once {EVERY} bytes were written");
        file.write_all(&chunk).unwrap();
        file.write_all(&chunk).unwrap();
        assert_eq!(flushes_after(&writeback, 2), 2, "a second flush {EVERY} bytes later");
        writeback.stop();
        file.write_all(&chunk).unwrap();
        file.write_all(&chunk).unwrap();
        std::thread::sleep(POLL * 5);
        assert_eq!(writeback.flushes(), 2, "stopped, it flushes no more");
    }
}
