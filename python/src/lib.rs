//! `angcut._angcut`: the Python binding of the angcut library.
//!
//! Only translation lives here: numpy arrays and Arrow streams (through the Arrow C stream
//! interface, zero-copy) in, the library's index and cutter in the middle, numpy arrays and Arrow
//! streams out. Every long call releases the GIL, so Dask's threads cut partitions in parallel.
//! Errors become Python exceptions carrying the library's message; a panic becomes `AngcutError`
//! rather than Python's `PanicException` (a BaseException that would take a Dask worker down).

mod contaminant_set;
mod convert;
mod errors;
mod mask;
mod streaming;

use pyo3::prelude::*;

/// mimalloc for the Rust side's own allocations (Python keeps its allocator): Dask's worker
/// processes run with `MALLOC_TRIM_THRESHOLD_=65536`, under which glibc hands every freed batch
/// buffer back to the kernel and faults it in again, zeroed, for the next. Two processes cutting
/// 24 partition files each took 9.13 s that way against 5.97 s without the variable
/// (`scripts/bench_dask.py` measures the effect on whole runs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
fn _angcut(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<contaminant_set::PyContaminantSet>()?;
    m.add_function(wrap_pyfunction!(contaminant_set::_rebuild, m)?)?;
    m.add_class::<mask::PyMask>()?;
    m.add_function(wrap_pyfunction!(mask::_rebuild_mask, m)?)?;
    m.add_function(wrap_pyfunction!(streaming::_stream, m)?)?;
    m.add("AngcutError", m.py().get_type::<errors::AngcutError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    // What a Parquet file's name ends in, from the core's formats table (the HATS helper's check).
    m.add("PARQUET_EXTENSIONS", angcut::io::formats::extensions_of(angcut::io::read::InputFormat::Parquet).to_vec())?;
    Ok(())
}
