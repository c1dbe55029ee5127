//! Making outputs appear whole or not at all: each is written under a hidden temporary name beside
//! its destination, synced, and renamed into place only when the whole job has succeeded.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tempfile::NamedTempFile;

use crate::error::Error;

/// Temporary outputs being written now, so that a signal handler can remove them before exiting
/// (destructors do not run when a process is killed by a signal).
static PARTIAL_OUTPUTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Deletes every temporary output still being written. For a handler of SIGINT/SIGTERM that is
/// about to exit: afterwards no partial file is left, and no output was renamed into place unless
/// it was complete (renaming holds the same lock).
pub fn remove_partial_outputs() {
    let partial = PARTIAL_OUTPUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for path in partial.iter() {
        let _ = std::fs::remove_file(path);
    }
}

/// Keeps a temporary output on the list while it exists.
pub(super) struct PartialOutput(PathBuf);

impl PartialOutput {
    fn register(path: &Path) -> PartialOutput {
        PARTIAL_OUTPUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(path.to_path_buf());
        PartialOutput(path.to_path_buf())
    }
}

impl Drop for PartialOutput {
    fn drop(&mut self) {
        let mut partial = PARTIAL_OUTPUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        partial.retain(|path| path != &self.0);
    }
}

/// A complete output waiting to be moved into place. Dropped without [`commit`](Self::commit),
/// it deletes its temporary file: the destination is left as it was.
#[must_use = "an output that is not committed is deleted"]
pub struct FinishedOutput {
    // `None` for outputs that have no temporary file (stdout).
    pending: Option<(tempfile::TempPath, PathBuf, PartialOutput)>,
}

impl FinishedOutput {
    /// For an output written in place (a stream to stdout): nothing left to do.
    pub fn written() -> FinishedOutput {
        FinishedOutput { pending: None }
    }

    /// Renames the temporary file to its destination.
    pub fn commit(self) -> Result<(), Error> {
        let Some((temp, destination, partial)) = self.pending else {
            return Ok(());
        };
        // Under the lock, so a signal handler either removes the temporary file first or finds the
        // output complete under its final name.
        let lock = PARTIAL_OUTPUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        temp.persist(&destination).map_err(|e| Error::Io { path: destination.clone(), source: e.error })?;
        drop(lock);
        drop(partial);
        Ok(())
    }
}

/// Commits every output, in order: the job they belong to succeeded.
pub fn commit_all(outputs: Vec<FinishedOutput>) -> Result<(), Error> {
    outputs.into_iter().try_for_each(FinishedOutput::commit)
}

/// Creates a temporary file beside `destination` (named `.angcut-*SUFFIX`), on the list that
/// signal handlers clean up.
pub(super) fn create_partial(destination: &Path, suffix: &str) -> Result<(NamedTempFile, PartialOutput), Error> {
    let dir = match destination.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".angcut-").suffix(suffix);
    // An ordinary new file's permissions (0666 less the umask), not the private 0600 of a temp file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let file = builder.tempfile_in(dir).map_err(|source| Error::Io { path: destination.to_path_buf(), source })?;
    let partial = PartialOutput::register(file.path());
    Ok((file, partial))
}

/// Syncs a complete temporary file to disk and closes it (a job with thousands of outputs must
/// not hold thousands of descriptors), ready to be renamed to `destination`.
pub(super) fn durable(temp: NamedTempFile, destination: &Path, partial: PartialOutput) -> Result<FinishedOutput, Error> {
    temp.as_file().sync_all().map_err(|source| Error::Io { path: destination.to_path_buf(), source })?;
    Ok(FinishedOutput { pending: Some((temp.into_temp_path(), destination.to_path_buf(), partial)) })
}

