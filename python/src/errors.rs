//! Errors as Python exceptions: the library's usage errors and invalid values are `ValueError`,
//! every other failure `AngcutError`, and a panic `AngcutError` too (never Python's
//! `PanicException`, a BaseException that would take a Dask worker down).

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    angcut._angcut,
    AngcutError,
    PyRuntimeError,
    "A failure of angcut's Rust core (an unreadable file, a failed write); the message names the file, column and row."
);

/// The library's error as a Python exception: usage errors (a wrong column, a bad option) are
/// `ValueError`, everything else `AngcutError`.
pub fn py_error(error: angcut::Error) -> PyErr {
    if error.is_usage()
        || matches!(
            error,
            angcut::Error::InvalidContaminant { .. }
                | angcut::Error::InvalidObject { .. }
                | angcut::Error::InvalidRadius { .. }
        )
    {
        PyValueError::new_err(as_keywords(&error.to_string()))
    } else {
        AngcutError::new_err(as_keywords(&error.to_string()))
    }
}

/// The core names the options of a plan, a cut and its outputs as the caller spells them
/// (`angcut::Spelling::Python`: `radius_col=`), but a few of its messages still spell the command
/// line's flags (`--on-invalid`, `--kernel kdtree`, a mask file's `--epoch`...); to a Python user
/// they are keywords too, rewritten here, so that no option is named the command line's way.
fn as_keywords(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("--") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        // A flag starts a word: after a space, a quote or a bracket, or the message's start.
        let starts_word = before.chars().next_back().is_none_or(|c| c.is_whitespace() || "('\"`,;[".contains(c));
        let name: String = after[2..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect();
        let name = name.trim_end_matches('-');
        if starts_word && !name.is_empty() {
            out.push_str(&name.replace('-', "_"));
            out.push('=');
            rest = &after[2 + name.len()..];
        } else {
            out.push_str("--");
            rest = &after[2..];
        }
    }
    out.push_str(rest);
    out
}

/// Runs `work`, turning a panic into `AngcutError`.
pub fn guarded<T>(work: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let message = angcut::error::panic_message(payload.as_ref());
        Err(AngcutError::new_err(format!("internal error: {message} (this is a bug in angcut)")))
    })
}
