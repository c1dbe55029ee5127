//! Which files a job reads and writes: one input and its outputs ([`FileTask`]), or several
//! inputs, directories of Parquet files included, mirrored under an output directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::io::is_stdio;
use crate::spelling::Spelling;

/// One input and where its rows go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTask {
    /// The file to cut (`-` for stdin).
    pub input: PathBuf,
    /// Where the selected rows go (`-` for stdout).
    pub output: PathBuf,
    /// Where the other rows go, if anywhere (`--rejected`).
    pub rejected: Option<PathBuf>,
}

impl FileTask {
    /// `input` cut into `output`, with no rejected output.
    pub fn new(input: impl Into<PathBuf>, output: impl Into<PathBuf>) -> FileTask {
        FileTask { input: input.into(), output: output.into(), rejected: None }
    }
}

/// The tasks for `inputs` written under `out_dir` (and their rejected rows under `rejected_dir`):
/// a file keeps its name; a directory contributes every `*.parquet` file below it, in name
/// order, under its path relative to that directory (so HATS and Hive partition folders such
/// as `Norder=3/Dir=0/Npix=12.parquet` or `year=2024/part-0.parquet` are mirrored).
///
/// Names starting with `.` or `_` are skipped (hidden files, `_metadata`, `_common_metadata`,
/// `_SUCCESS`, angcut's own temporary files), and symbolic links to directories are not followed.
/// Checked here, before anything is written: no input is `-`, every directory has a Parquet
/// file, no two inputs map to the same output, and `out_dir` is not inside an input directory
/// (the next run over that directory would read the outputs as inputs).
///
/// ```
/// use angcut::io::paths::plan_out_dir;
/// use angcut::Spelling;
/// # let dir = tempfile::tempdir().unwrap();
/// # let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
/// # std::fs::write(&a, b"").unwrap(); std::fs::write(&b, b"").unwrap();
/// # let clean = dir.path().join("clean");
/// let tasks = plan_out_dir(&[a.clone(), b], &clean, None, Spelling::CommandLine).unwrap();
/// assert_eq!(tasks.len(), 2);
/// assert_eq!(tasks[0].input, a);
/// assert_eq!(tasks[0].output, clean.join("a.parquet"));
/// ```
pub fn plan_out_dir(
    inputs: &[PathBuf],
    out_dir: &Path,
    rejected_dir: Option<&Path>,
    spelling: Spelling,
) -> Result<Vec<FileTask>, Error> {
    if inputs.is_empty() {
        return Err(Error::Usage("no input given".into()));
    }
    let out_dir_resolved = resolve(out_dir);
    let mut tasks = Vec::new();
    for input in inputs {
        if is_stdio(input) {
            let out_dir = spelling.option("out_dir");
            return Err(Error::Usage(format!(
                "stdin ('-') cannot be one of several inputs: give IN OUT without {out_dir}"
            )));
        }
        let metadata = std::fs::metadata(input).map_err(|source| Error::Io { path: input.clone(), source })?;
        if !metadata.is_dir() {
            let name = input.file_name().map(PathBuf::from).unwrap_or_else(|| input.clone());
            tasks.push(task(input.clone(), &name, out_dir, rejected_dir));
            continue;
        }
        if let (Some(out), Ok(dir)) = (&out_dir_resolved, input.canonicalize())
            && out.starts_with(&dir)
        {
            return Err(Error::Usage(format!(
                "{} {} is inside the input directory {}: the outputs would become inputs of the next run; write them elsewhere",
                spelling.option("out_dir"),
                out_dir.display(),
                input.display()
            )));
        }
        let mut found = Vec::new();
        find_parquet_files(input, &mut found)?;
        if found.is_empty() {
            let names = crate::io::formats::parquet_globs();
            return Err(Error::Usage(format!("input directory {} holds no Parquet files ({names})", input.display())));
        }
        for file in found {
            let relative = file.strip_prefix(input).unwrap_or(&file).to_path_buf();
            tasks.push(task(file, &relative, out_dir, rejected_dir));
        }
    }
    let mut outputs: HashMap<PathBuf, &Path> = HashMap::new();
    for task in &tasks {
        let written = std::iter::once(&task.output).chain(&task.rejected);
        for output in written {
            if let Some(earlier) = outputs.insert(output.clone(), &task.input) {
                return Err(Error::Usage(format!(
                    "inputs {} and {} would both be written to {}; cut them in separate runs or rename one",
                    earlier.display(),
                    task.input.display(),
                    output.display()
                )));
            }
        }
    }
    Ok(tasks)
}

fn task(input: PathBuf, relative: &Path, out_dir: &Path, rejected_dir: Option<&Path>) -> FileTask {
    FileTask { input, output: out_dir.join(relative), rejected: rejected_dir.map(|dir| dir.join(relative)) }
}

/// `path` made absolute through its nearest existing ancestor (it may not exist yet).
fn resolve(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    let mut missing = Vec::new();
    let mut existing = absolute.as_path();
    loop {
        if let Ok(found) = existing.canonicalize() {
            return Some(missing.iter().rev().fold(found, |path: PathBuf, part| path.join(part)));
        }
        missing.push(existing.file_name()?.to_os_string());
        existing = existing.parent()?;
    }
}

/// Every Parquet file below `dir` (`*.parquet`, `*.pq`, `*.parq`: [`crate::io::formats::named_parquet`]),
/// in name order, skipping names that start with `.` or `_`.
fn find_parquet_files(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), Error> {
    let io_error = |source| Error::Io { path: dir.to_path_buf(), source };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io_error)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_error)?;
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let link = std::fs::symlink_metadata(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
        if link.is_dir() {
            find_parquet_files(&path, found)?;
        } else if (!link.is_symlink() || path.is_file()) && crate::io::formats::named_parquet(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// Creates `dir` and any missing parents, remembering which it created so that a failed run can
/// take them away again ([`CreatedDirs::remove_if_empty`]).
#[derive(Debug, Default)]
pub(crate) struct CreatedDirs(Vec<PathBuf>);

impl CreatedDirs {
    /// Creates `dir` and its missing parents, remembering those it created.
    pub fn create(&mut self, dir: &Path) -> Result<(), Error> {
        let mut missing = Vec::new();
        let mut next = Some(dir);
        while let Some(path) = next.filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
            missing.push(path.to_path_buf());
            next = path.parent();
        }
        for path in missing.into_iter().rev() {
            std::fs::create_dir(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
            self.0.push(path);
        }
        Ok(())
    }

    /// Removes the directories this created, deepest first, where nothing else was put in them.
    pub fn remove_if_empty(self) {
        for dir in self.0.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn a_directory_is_mirrored_with_its_partition_folders_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let cat = dir.path().join("cat");
        for name in [
            "Norder=1/Dir=0/Npix=5.parquet",
            "Norder=1/Dir=0/Npix=12.parquet",
            "Norder=0/Dir=0/Npix=3.pq",
            "Norder=0/Dir=0/Npix=4.PARQ",
            "_metadata",
            "Norder=0/.angcut-x.parquet.partial",
            "Norder=0/_common_metadata.parquet",
            "notes.txt",
        ] {
            touch(&cat.join(name));
        }
        let out = dir.path().join("out");
        let tasks =
            plan_out_dir(std::slice::from_ref(&cat), &out, Some(&dir.path().join("rej")), Spelling::CommandLine)
                .unwrap();
        let outputs: Vec<_> = tasks.iter().map(|t| t.output.strip_prefix(&out).unwrap().to_path_buf()).collect();
        assert_eq!(
            outputs,
            [
                PathBuf::from("Norder=0/Dir=0/Npix=3.pq"),
                // Every name the writer takes as Parquet is found (`.parq` was once skipped).
                PathBuf::from("Norder=0/Dir=0/Npix=4.PARQ"),
                PathBuf::from("Norder=1/Dir=0/Npix=12.parquet"),
                PathBuf::from("Norder=1/Dir=0/Npix=5.parquet"),
            ]
        );
        assert_eq!(tasks[2].input, cat.join("Norder=1/Dir=0/Npix=12.parquet"));
        assert_eq!(tasks[2].rejected, Some(dir.path().join("rej/Norder=1/Dir=0/Npix=12.parquet")));
    }

    #[test]
    fn refuses_clashing_names_empty_directories_stdin_and_an_out_dir_inside_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a/x.parquet"), dir.path().join("b/x.parquet"));
        touch(&a);
        touch(&b);
        let out = dir.path().join("out");
        let message = |inputs: &[PathBuf], out: &Path| {
            plan_out_dir(inputs, out, None, Spelling::CommandLine).unwrap_err().to_string()
        };
        assert!(message(&[a.clone(), b], &out).contains("would both be written to"));
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(
            message(std::slice::from_ref(&empty), &out).contains("holds no Parquet files (*.parquet, *.pq, *.parq)")
        );
        assert!(message(&[PathBuf::from("-")], &out).contains("stdin"));
        let inside = dir.path().join("a/clean/deeper");
        assert!(message(&[dir.path().join("a")], &inside).contains("is inside the input directory"));
        assert!(message(&[dir.path().join("missing.parquet")], &out).contains("No such file"));
        assert!(plan_out_dir(&[a], &out, None, Spelling::CommandLine).is_ok());
    }

    #[test]
    fn created_directories_are_removed_again_only_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut created = CreatedDirs::default();
        created.create(&dir.path().join("one/two/three")).unwrap();
        created.create(&dir.path().join("one/other")).unwrap();
        touch(&dir.path().join("one/other/kept.parquet"));
        created.remove_if_empty();
        assert!(!dir.path().join("one/two").exists());
        assert!(dir.path().join("one/other/kept.parquet").exists());
    }
}
