//! Which paths name the same file, so that no output can replace an input (by any name: hard links
//! and `..` included) and no two outputs collide.

use std::path::{Path, PathBuf};

use crate::error::Error;

/// The files a job reads, so that no output can replace one of them (by any name: hard links
/// and `..` included).
pub(crate) struct InputIdentities(std::collections::HashMap<FileIdentity, PathBuf>);

impl InputIdentities {
    /// The identities of `inputs` (those that do not exist are left out).
    pub fn of<'a>(inputs: impl IntoIterator<Item = &'a Path>) -> InputIdentities {
        let known = inputs.into_iter().filter_map(|input| Some((FileIdentity::of(input)?, input.to_path_buf())));
        InputIdentities(known.collect())
    }

    /// The input that `output` is, if it is one.
    fn find(&self, output: &Path) -> Option<&Path> {
        self.0.get(&FileIdentity::of(output)?).map(PathBuf::as_path)
    }
}

/// Refuses an output path that would destroy an input, or that cannot be created; its directory
/// must exist unless `create_dirs`.
pub(crate) fn check_output_path(output: &Path, inputs: &InputIdentities, create_dirs: bool) -> Result<(), Error> {
    if output.is_dir() {
        return Err(Error::Usage(format!("output {} is a directory; give a file name", output.display())));
    }
    if let Some(input) = inputs.find(output) {
        return Err(Error::Usage(format!(
            "output {} is the same file as input {}; angcut never overwrites its inputs",
            output.display(),
            input.display()
        )));
    }
    let parent = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !create_dirs && !parent.is_dir() {
        return Err(Error::Usage(format!(
            "cannot write {}: directory {} does not exist",
            output.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// Would writing `a` and `b` write the same file? Either may not exist yet: their directories
/// are compared as the file system resolves them, then their names.
pub(crate) fn same_destination(a: &Path, b: &Path) -> bool {
    if same_file(a, b) {
        return true;
    }
    let resolved = |p: &Path| {
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Some((parent.canonicalize().ok()?, p.file_name()?.to_os_string()))
    };
    matches!((resolved(a), resolved(b)), (Some(a), Some(b)) if a == b)
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((FileIdentity::of(a), FileIdentity::of(b)), (Some(a), Some(b)) if a == b)
}

/// What makes a file itself: device and inode on unix (catching hard links), else its canonical
/// path. `None` if it does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileIdentity {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Canonical(PathBuf),
}

impl FileIdentity {
    fn of(path: &Path) -> Option<FileIdentity> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let metadata = std::fs::metadata(path).ok()?;
            Some(FileIdentity::Inode(metadata.dev(), metadata.ino()))
        }
        #[cfg(not(unix))]
        {
            path.canonicalize().ok().map(FileIdentity::Canonical)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_to_overwrite_an_input_even_through_another_name() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.parquet");
        std::fs::write(&input, b"x").unwrap();
        let alias = dir.path().join("sub/../in.parquet");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let inputs = InputIdentities::of([input.as_path()]);
        let err = check_output_path(&alias, &inputs, false).unwrap_err();
        assert!(err.to_string().contains("same file as input"), "{err}");
        assert!(check_output_path(dir.path(), &inputs, false).unwrap_err().to_string().contains("is a directory"));
        let missing = dir.path().join("nowhere/out.parquet");
        assert!(check_output_path(&missing, &inputs, false).unwrap_err().to_string().contains("does not exist"));
        assert!(check_output_path(&missing, &inputs, true).is_ok());
        assert!(check_output_path(&dir.path().join("out.parquet"), &inputs, false).is_ok());
    }
}
