//! Reading and writing catalogues: every format, file or stdio, and the paths of a job.
//!
//! [`formats`] is the one table of the formats angcut knows, which every other part reads;
//! [`read`] opens inputs by their content, [`write`](mod@write) creates outputs that appear whole or not at
//! all, [`paths`] maps several inputs and directories onto outputs, and `identity` keeps an
//! output from replacing an input. `-` meaning stdin or stdout is decided here, once
//! ([`is_stdio`]).

pub(crate) mod fits;
pub mod formats;
pub(crate) mod identity;
pub mod paths;
pub mod read;
pub(crate) mod thrift;
pub(crate) mod votable;
pub mod write;

use std::path::Path;

/// The name that means stdin as IN (and stdout as OUT).
pub const STDIO: &str = "-";

/// How stdin is named in messages.
pub const STDIN_NAME: &str = "<stdin>";

/// How stdout is named in messages.
pub const STDOUT_NAME: &str = "<stdout>";

/// The Arrow field metadata key of a column's unit, read from FITS's TUNIT or ECSV's `unit`
/// and written back as TUNIT.
pub(crate) const UNIT_KEY: &str = "unit";

/// The Arrow field metadata key of a column's description, read from ECSV and VOTable.
pub(crate) const DESCRIPTION_KEY: &str = "description";

/// The Arrow field metadata key of a column's UCD (a VOTable FIELD's `ucd`).
pub(crate) const UCD_KEY: &str = "ucd";

/// Whether `path` is `-`: stdin as an input, stdout as an output.
pub fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == STDIO
}
