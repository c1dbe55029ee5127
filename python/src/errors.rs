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
/// `ValueError`, everything else `AngcutError`. The message is the core's as it is: the binding
/// sets `angcut::Spelling::Python`, so it names options as keywords (`radius_col=`).
pub fn py_error(error: angcut::Error) -> PyErr {
    if error.is_usage()
        || matches!(
            error,
            angcut::Error::InvalidContaminant { .. }
                | angcut::Error::InvalidObject { .. }
                | angcut::Error::InvalidRadius { .. }
        )
    {
        PyValueError::new_err(error.to_string())
    } else {
        AngcutError::new_err(error.to_string())
    }
}

/// Runs `work`, turning a panic into `AngcutError`.
pub fn guarded<T>(work: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let message = angcut::error::panic_message(payload.as_ref());
        Err(AngcutError::new_err(format!("internal error: {message} (this is a bug in angcut)")))
    })
}
