//! Making outputs appear whole or not at all: each is written under a hidden temporary name beside
//! its destination (`.angcut-*.partial`), synced, renamed into place only when the whole job has
//! succeeded, and its directory synced after the rename, so that a crash right after angcut
//! exits cannot lose the new name.
//!
//! A run killed outright (SIGKILL, a power cut) cannot remove its partial files. So every partial
//! file is locked (`flock`) from its creation until it is committed or deleted, and the first
//! output a run creates in a directory removes the partial files there whose lock nobody holds:
//! leftovers of dead runs, never the files of a run still going, in this process or another.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tempfile::NamedTempFile;

use super::writeback::Writeback;
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

/// Keeps a temporary output on the list while it exists, and flushes it to disk as it grows
/// until it is complete.
pub(super) struct PartialOutput {
    path: PathBuf,
    writeback: Writeback,
}

impl PartialOutput {
    fn register(file: &NamedTempFile) -> PartialOutput {
        let path = file.path().to_path_buf();
        PARTIAL_OUTPUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(path.clone());
        PartialOutput { path, writeback: Writeback::start(file.as_file()) }
    }

    /// For a file that is deleted once read back (a FITS table before it is gzipped): flushing
    /// it to disk would only take the disk's time from the output.
    pub(super) fn scratch(&mut self) {
        self.writeback.stop();
    }
}

impl Drop for PartialOutput {
    fn drop(&mut self) {
        let mut partial = PARTIAL_OUTPUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        partial.retain(|path| path != &self.path);
    }
}

/// A complete output waiting to be moved into place. Dropped without [`commit`](Self::commit),
/// it deletes its temporary file: the destination is left as it was.
#[must_use = "an output that is not committed is deleted"]
pub struct FinishedOutput {
    // `None` for outputs that have no temporary file (stdout). The file stays open until it is
    // committed: closing it would release its lock (see the module's doc).
    pending: Option<(NamedTempFile, PathBuf, PartialOutput)>,
    row_groups: Option<super::RowGroupCounts>,
}

impl FinishedOutput {
    /// For an output written in place (a stream to stdout): nothing left to do.
    pub fn written() -> FinishedOutput {
        FinishedOutput { pending: None, row_groups: None }
    }

    /// The same output, saying what became of its input's row groups.
    pub(super) fn with_row_groups(mut self, counts: super::RowGroupCounts) -> FinishedOutput {
        self.row_groups = Some(counts);
        self
    }

    /// For a Parquet output written from a Parquet input's stored row groups: how many were
    /// copied as stored, filtered as stored pages and decoded again.
    pub fn row_groups(&self) -> Option<&super::RowGroupCounts> {
        self.row_groups.as_ref()
    }

    /// Renames the temporary file to its destination.
    pub fn commit(self) -> Result<(), Error> {
        let Some((temp, destination, partial)) = self.pending else {
            return Ok(());
        };
        // Under the lock, so a signal handler either removes the temporary file first or finds the
        // output complete under its final name.
        let lock = PARTIAL_OUTPUTS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let file = temp.persist(&destination).map_err(|e| Error::Io { path: destination.clone(), source: e.error })?;
        drop(lock);
        drop(partial);
        drop(file);
        sync_dir(directory(&destination)).map_err(|source| Error::Io { path: destination, source })
    }
}

/// Commits every output, in order: the job they belong to succeeded.
pub fn commit_all(outputs: Vec<FinishedOutput>) -> Result<(), Error> {
    outputs.into_iter().try_for_each(FinishedOutput::commit)
}

/// The directory `path` is in (`.` for a bare name).
pub(super) fn directory(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Makes a rename in `dir` durable. File systems that cannot sync a directory say so with
/// `EINVAL`; they have nothing to sync.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    match File::open(dir)?.sync_all() {
        Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => Ok(()),
        other => other,
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The temporary files' names: `.angcut-` + random + a suffix ending in this.
const PARTIAL_PREFIX: &str = ".angcut-";
const PARTIAL_SUFFIX: &str = ".partial";

/// A partial file younger than this is left alone even when unlocked: it may be one another run
/// has just created and not yet locked.
const STALE_AFTER: Duration = Duration::from_secs(10);

/// Directories this process has already cleaned of dead runs' partial files.
static CLEANED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Removes the partial files in `dir` that no live run holds (their lock is free) and that are
/// older than [`STALE_AFTER`]; once per directory and process. Returns how many it removed.
fn remove_dead_partials(dir: &Path) -> usize {
    let key = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    {
        let mut cleaned = CLEANED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !cleaned.get_or_insert_with(HashSet::new).insert(key) {
            return 0;
        }
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(PARTIAL_PREFIX) && name.ends_with(PARTIAL_SUFFIX)) {
            continue;
        }
        let path = entry.path();
        let old = entry
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .and_then(|m| m.modified().ok())
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .is_some_and(|age| age >= STALE_AFTER);
        // Holding its lock while removing it: no run can take the file up in between.
        if old
            && let Ok(file) = File::open(&path)
            && file.try_lock().is_ok()
            && std::fs::remove_file(&path).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Creates a temporary file beside `destination` (named `.angcut-*SUFFIX`), locked, and on the
/// list that signal handlers clean up, flushed to disk as it grows (see `writeback`); dead runs'
/// partial files in that directory go first.
pub(super) fn create_partial(destination: &Path, suffix: &str) -> Result<(NamedTempFile, PartialOutput), Error> {
    debug_assert!(suffix.ends_with(PARTIAL_SUFFIX));
    let dir = directory(destination);
    remove_dead_partials(dir);
    let mut builder = tempfile::Builder::new();
    builder.prefix(PARTIAL_PREFIX).suffix(suffix);
    // An ordinary new file's permissions (0666 less the umask), not the private 0600 of a temp file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let io_error = |source| Error::Io { path: destination.to_path_buf(), source };
    let file = builder.tempfile_in(dir).map_err(io_error)?;
    let partial = PartialOutput::register(&file);
    file.as_file()
        .try_lock()
        .map_err(|error| io_error(std::io::Error::other(format!("cannot lock its temporary file: {error}"))))?;
    Ok((file, partial))
}

/// An output that is not a table (a MOC, a HealSparse map), written whole by `write` into a
/// temporary file beside `destination` that is synced, ready to be committed: what `write`
/// returns as an error, or an I/O error of the file, leaves nothing behind.
pub fn write_whole(
    destination: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> Result<(), Error>,
) -> Result<FinishedOutput, Error> {
    let (temp, partial) = create_partial(destination, PARTIAL_SUFFIX)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, temp);
    write(&mut out)?;
    durable_buffered(out, destination, &mut Some(partial))
}

/// Syncs a complete temporary file to disk, ready to be renamed to `destination`. The file stays
/// open, and so locked, until then: a job with many outputs holds a descriptor for each (the
/// command line raises its limit of open files to the most the system allows).
pub(super) fn durable(
    temp: NamedTempFile,
    destination: &Path,
    mut partial: PartialOutput,
) -> Result<FinishedOutput, Error> {
    partial.writeback.stop();
    temp.as_file().sync_all().map_err(|source| Error::Io { path: destination.to_path_buf(), source })?;
    Ok(FinishedOutput { pending: Some((temp, destination.to_path_buf(), partial)), row_groups: None })
}

/// [`durable`] for a sink that wrote through a buffer and keeps its partial file's registration
/// in an `Option` (taken here): the buffer is flushed first, an I/O error of that flush named.
pub(super) fn durable_buffered(
    out: std::io::BufWriter<NamedTempFile>,
    destination: &Path,
    partial: &mut Option<PartialOutput>,
) -> Result<FinishedOutput, Error> {
    let temp = out.into_inner().map_err(|e| Error::Io { path: destination.to_path_buf(), source: e.into_error() })?;
    let partial = partial
        .take()
        .ok_or_else(|| Error::Internal { path: destination.to_path_buf(), message: "no temporary file".into() })?;
    durable(temp, destination, partial)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A partial file as a killed run leaves it: unlocked, and old.
    fn leftover(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, b"half a catalogue").unwrap();
        let old = SystemTime::now() - 2 * STALE_AFTER;
        File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        path
    }

    #[test]
    fn dead_runs_partial_files_go_and_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let dead = leftover(dir.path(), ".angcut-dead01.parquet.partial");
        let live = leftover(dir.path(), ".angcut-live01.parquet.partial");
        let young = dir.path().join(".angcut-young1.parquet.partial");
        std::fs::write(&young, b"just created").unwrap();
        let other = leftover(dir.path(), "kept.parquet.partial");
        let holder = File::open(&live).unwrap();
        holder.lock().unwrap(); // a run still writing it

        assert_eq!(remove_dead_partials(dir.path()), 1);
        assert!(!dead.exists(), "an unlocked, old partial file is a dead run's");
        assert!(live.exists() && young.exists() && other.exists());
        drop(holder);
        // Once per directory and process: the next output into it does not look again.
        assert_eq!(remove_dead_partials(dir.path()), 0);
        assert!(live.exists());
    }

    #[test]
    fn an_output_being_written_is_locked_until_it_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let destination = dir.path().join("out.parquet");
        let dead = leftover(dir.path(), ".angcut-dead02.arrow.partial");
        let (mut file, partial) = create_partial(&destination, ".parquet.partial").unwrap();
        assert!(!dead.exists(), "creating an output cleans the directory first");
        std::io::Write::write_all(&mut file, b"rows").unwrap();
        let temp = file.path().to_path_buf();
        let other_run = File::open(&temp).unwrap();
        assert!(other_run.try_lock().is_err(), "locked while written");
        let finished = durable(file, &destination, partial).unwrap();
        assert!(other_run.try_lock().is_err(), "still locked, finished but not committed");
        finished.commit().unwrap();
        assert_eq!(std::fs::read(&destination).unwrap(), b"rows");
        assert!(!temp.exists());
        assert!(other_run.try_lock().is_ok(), "released once committed");
    }
}
