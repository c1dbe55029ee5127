//! Python values in and out: numpy arrays, angles and option names, Arrow streams through the
//! Arrow C stream interface (zero-copy), and the run's summary as a dict.

use std::sync::Arc;

use angcut::columns::{Axis, position};
use angcut::stats::Value;
use angcut::{Angle, KernelChoice, OnInvalid, SearchRadius, UnitVector};

use crate::errors::py_error;
use arrow::array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow::datatypes::Schema;
use arrow::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyDict, PyList};

/// `obj` as a contiguous, aligned float64 numpy array (converting, and copying, only if it is
/// not one). Alignment matters: arrays that Dask rebuilds from network frames can start at any
/// byte, and `ascontiguousarray` alone leaves them so.
pub fn float64_array<'py>(obj: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray1<'py, f64>> {
    let numpy = obj.py().import("numpy")?;
    let array = numpy.call_method1("require", (obj, "float64", "CA"))?;
    Ok(array.cast_into::<PyArray1<f64>>()?.readonly())
}

/// A radius from Python: a string with units (`"30arcsec"`), or a number of degrees.
pub fn radius_argument(value: &Bound<'_, PyAny>, what: &str) -> PyResult<SearchRadius> {
    let text = if let Ok(text) = value.extract::<String>() {
        text
    } else if let Ok(degrees) = value.extract::<f64>() {
        degrees.to_string() // a bare number is degrees; Display round-trips every f64
    } else {
        return Err(PyTypeError::new_err(format!("{what} must be a string such as '30arcsec' or a number of degrees")));
    };
    let radius = SearchRadius::parse(&text).map_err(|error| PyValueError::new_err(format!("{what}: {error}")))?;
    if let Some(warning) = angcut::angle::unitless_warning(what, &text) {
        warn(value.py(), &warning)?;
    }
    Ok(radius)
}

/// Issues a Python `UserWarning` (an error only if the caller's filters make warnings errors).
pub fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let message = std::ffi::CString::new(message.replace('\0', " ")).unwrap_or_default();
    PyErr::warn(py, &py.get_type::<pyo3::exceptions::PyUserWarning>(), &message, 1)
}

pub fn unit_argument(text: &str) -> PyResult<Angle> {
    Angle::parse_unit(text).map_err(|error| PyValueError::new_err(error.to_string()))
}

pub fn kernel_argument(text: &str) -> PyResult<KernelChoice> {
    text.parse().map_err(PyValueError::new_err)
}

pub fn on_invalid_argument(text: &str) -> PyResult<OnInvalid> {
    text.parse().map_err(PyValueError::new_err)
}

/// The Arrow C stream of `data`: anything with `__arrow_c_stream__` (pyarrow Table and
/// RecordBatchReader, polars, DuckDB...), a pyarrow RecordBatch, or a pandas DataFrame.
pub fn arrow_stream(data: &Bound<'_, PyAny>) -> PyResult<RecordBatchStreamReader> {
    let py = data.py();
    let data = if data.hasattr("__arrow_c_stream__")? {
        data.clone()
    } else {
        let pyarrow = py.import("pyarrow")?;
        if data.hasattr("__arrow_c_array__")? {
            pyarrow.getattr("Table")?.call_method1("from_batches", (vec![data.clone()],))?
        } else if data.hasattr("to_numpy")? && data.hasattr("columns")? {
            pyarrow.getattr("Table")?.call_method1("from_pandas", (data,))?
        } else {
            let type_name = data.get_type().name()?;
            return Err(PyTypeError::new_err(format!(
                "expected an Arrow table, record batch or stream, or a pandas DataFrame; got {type_name}"
            )));
        }
    };
    let capsule = data.call_method0("__arrow_c_stream__")?.cast_into::<PyCapsule>()?;
    let pointer = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: the capsule is named "arrow_array_stream", so by the Arrow PyCapsule protocol it
    // points at an FFI_ArrowArrayStream; `from_raw` moves the stream out and leaves the capsule's
    // copy released, so the capsule's destructor does not release it twice.
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(pointer.as_ptr().cast()) };
    RecordBatchStreamReader::try_new(stream).map_err(|error| PyValueError::new_err(error.to_string()))
}

/// A pyarrow Table of `batches`, handed over through the Arrow C stream interface.
pub fn pyarrow_table<'py>(
    py: Python<'py>,
    schema: Arc<Schema>,
    batches: Vec<RecordBatch>,
) -> PyResult<Bound<'py, PyAny>> {
    let reader: Box<dyn RecordBatchReader + Send> =
        Box::new(RecordBatchIterator::new(batches.into_iter().map(Ok), schema));
    let capsule = PyCapsule::new_with_value(py, FFI_ArrowArrayStream::new(reader), c"arrow_array_stream")?;
    let reader =
        py.import("pyarrow")?.getattr("RecordBatchReader")?.call_method1("_import_from_c_capsule", (capsule,))?;
    reader.call_method0("read_all")
}

/// A summary value ([`angcut::stats::summary_record`]) as a Python object: a record is a dict.
pub fn summary_value<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Int(n) => n.into_pyobject(py)?.into_any(),
        Value::Bool(b) => pyo3::types::PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(x) if !x.is_finite() => py.None().into_bound(py),
        Value::Number(x) | Value::Seconds(x) => x.into_pyobject(py)?.into_any(),
        Value::Text(text) => text.into_pyobject(py)?.into_any(),
        Value::List(items) => {
            let items = items.iter().map(|item| summary_value(py, item)).collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Record(fields) => {
            let dict = PyDict::new(py);
            for (name, value) in fields {
                dict.set_item(name, summary_value(py, value)?)?;
            }
            dict.into_any()
        }
    })
}

/// Objects per piece handed to one rayon task.
pub const PIECE: usize = 8_192;

/// `answer`'s value for every object with a valid position, `None` for the others (or, when
/// `on_invalid` is `error`, an error naming the first of them); in pieces on the rayon pool.
/// `answer` fills one value per unit vector (and its RA, Dec in degrees) of a piece (a pixel map's read can fail: its error
/// is raised as the core's errors are).
pub fn per_object<T: Copy + Default + Send + Sync>(
    ra: &[f64],
    dec: &[f64],
    on_invalid: OnInvalid,
    answer: impl Fn(&[UnitVector], &[(f64, f64)], &mut [T]) -> Result<(), angcut::Error> + Sync,
) -> PyResult<Vec<Option<T>>> {
    use rayon::prelude::*;
    if ra.len() != dec.len() {
        return Err(PyValueError::new_err(format!(
            "ra and dec must have the same length; got {} and {}",
            ra.len(),
            dec.len()
        )));
    }
    let mut values = vec![None; ra.len()];
    values.par_chunks_mut(PIECE).enumerate().try_for_each(|(piece, values)| {
        let first = piece * PIECE;
        let (mut rows, mut vectors) = (Vec::with_capacity(values.len()), Vec::with_capacity(values.len()));
        let mut degrees = Vec::with_capacity(values.len());
        for i in 0..values.len() {
            match position(Some(ra[first + i]), Some(dec[first + i])) {
                Ok(v) => {
                    rows.push(i);
                    vectors.push(v);
                    degrees.push((ra[first + i], dec[first + i]));
                }
                Err(invalid) if on_invalid == OnInvalid::Error => {
                    let column = if invalid.axis() == Axis::Ra { "ra" } else { "dec" };
                    return Err(PyValueError::new_err(format!(
                        "object {} has no valid position: {column}: {} (on_invalid='keep' or 'drop' lets such objects through)",
                        first + i,
                        invalid.describe()
                    )));
                }
                Err(_) => {}
            }
        }
        let mut found = vec![T::default(); vectors.len()];
        answer(&vectors, &degrees, &mut found).map_err(py_error)?;
        for (row, value) in rows.into_iter().zip(found) {
            values[row] = Some(value);
        }
        Ok(())
    })?;
    Ok(values)
}
