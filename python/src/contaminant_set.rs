//! `ContaminantSet`: contaminant positions and radii with their index, built once, answering
//! `mask`, `classify`, `nearest` on numpy arrays and `filter` on Arrow tables.

use std::sync::{Arc, OnceLock};

use angcut::columns::position;
use angcut::{
    Angle, BatchCutter, ContaminantIndex, ContaminantSet, ContaminantSpec, CutOptions, KernelChoice, OnInvalid,
    OptionNames, Radii, RowRadius, SearchRadius, Selection, Spelling, UnitVector,
};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, RecordBatchReader};
use arrow::datatypes::{DataType, Field, Schema};
use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::convert::{
    PIECE, arrow_stream, float64_array, kernel_argument, on_invalid_argument, per_object, pyarrow_table,
    radius_argument, unit_argument,
};
use crate::errors::{AngcutError, guarded, py_error};

/// A batch of (ra, dec, radius) columns for the library's contaminant reader.
fn contaminant_batch(ra: &[f64], dec: &[f64], radius: Option<&[f64]>) -> PyResult<RecordBatch> {
    let mut fields = vec![Field::new("ra", DataType::Float64, false), Field::new("dec", DataType::Float64, false)];
    let mut columns: Vec<ArrayRef> =
        vec![Arc::new(Float64Array::from(ra.to_vec())), Arc::new(Float64Array::from(dec.to_vec()))];
    if let Some(radius) = radius {
        fields.push(Field::new("radius", DataType::Float64, true));
        columns.push(Arc::new(Float64Array::from(radius.to_vec())));
    }
    let lengths = (ra.len(), dec.len(), radius.map_or(ra.len(), <[f64]>::len));
    if lengths.1 != lengths.0 || lengths.2 != lengths.0 {
        return Err(PyValueError::new_err(format!(
            "ra, dec and radius must have the same length; got {}, {} and {}",
            lengths.0, lengths.1, lengths.2
        )));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
        .map_err(|error| PyValueError::new_err(error.to_string()))
}

/// Per object: `Some(near)` for a valid position, `None` for an invalid one (or an error naming
/// the first invalid one, when `on_invalid` is `error`).
fn classify(index: &ContaminantIndex, ra: &[f64], dec: &[f64], on_invalid: OnInvalid) -> PyResult<Vec<Option<bool>>> {
    per_object(ra, dec, on_invalid, |objects, _, near| {
        index.mark_near(objects, near);
        Ok(())
    })
}

/// What `ContaminantSet` and `ContaminantSet.from_arrow` call the options, for the core's messages.
const PYTHON_NAMES: OptionNames = OptionNames {
    ra: "ra=",
    dec: "dec=",
    maxsep: "maxsep=",
    radius_col: "radius_col=",
    radius_from_mag: "radius_col=", // no magnitude rule here
    clamps: "a smaller radius",
    id_column: "id_column=",
    hdu: "hdu=",
};

/// A contaminant set and its index, built once and used for any number of calls.
///
/// ContaminantSet(ra, dec, radius=None, maxsep=None, radius_unit="arcsec", kernel="auto")
///
/// `ra`, `dec`: positions in degrees (any array-like). `maxsep`: the radius of every contaminant,
/// a string with units ("30arcsec", "2.5arcmin", "1deg") or a number of degrees; with `radius`,
/// the radius of those whose own radius is NaN. `radius`: each contaminant's own radius, in
/// `radius_unit` (arcsec unless given, as everywhere in angcut: the command line's `--radius-unit`,
/// `from_arrow`, `angcut.stream`). An object is near when its separation from some contaminant is strictly less
/// than that contaminant's radius.
#[pyclass(module = "angcut._angcut", name = "ContaminantSet", frozen)]
pub struct PyContaminantSet {
    pub set: ContaminantSet,
    /// Built on first use (once, whichever thread asks first): a set made on a Dask client only
    /// to be shipped to the workers never needs one there (0.19 s for 1,000,000 contaminants).
    index: OnceLock<Result<ContaminantIndex, String>>,
    choice: KernelChoice,
    /// A hash of the positions, radii and kernel: Dask's token for the set, made when asked.
    fingerprint: OnceLock<u64>,
}

/// A hash of everything that decides the set's answers (about 20 ms for 1,000,000 contaminants).
fn fingerprint(set: &ContaminantSet, choice: KernelChoice) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for v in &set.positions {
        v.map(f64::to_bits).hash(&mut hasher);
    }
    match &set.radii {
        Radii::Uniform(r) => r.angle().radians().to_bits().hash(&mut hasher),
        Radii::PerContaminant(radii) => radii.iter().for_each(|r| r.angle().radians().to_bits().hash(&mut hasher)),
    }
    choice.to_string().hash(&mut hasher);
    hasher.finish()
}

impl PyContaminantSet {
    /// The set as it is; its radii were checked when it was read, and its index waits for its
    /// first query.
    fn build(set: ContaminantSet, choice: KernelChoice) -> PyContaminantSet {
        PyContaminantSet { set, index: OnceLock::new(), choice, fingerprint: OnceLock::new() }
    }

    /// The index, built now if this is its first use. Call it without the GIL.
    pub fn index(&self) -> PyResult<&ContaminantIndex> {
        let built = self.index.get_or_init(|| {
            guarded(|| self.set.index(self.choice).map_err(py_error)).map_err(|error| error.to_string())
        });
        built.as_ref().map_err(|message| AngcutError::new_err(message.clone()))
    }

    fn from_batch(
        py: Python<'_>,
        batch: &RecordBatch,
        spec: &ContaminantSpec,
        choice: KernelChoice,
    ) -> PyResult<PyContaminantSet> {
        let set = py.detach(|| guarded(|| ContaminantSet::from_batch(batch, spec).map_err(py_error)))?;
        Ok(PyContaminantSet::build(set, choice))
    }
}

#[pymethods]
impl PyContaminantSet {
    #[new]
    #[pyo3(signature = (ra, dec, radius=None, maxsep=None, radius_unit="arcsec", kernel="auto"))]
    fn new(
        py: Python<'_>,
        ra: &Bound<'_, PyAny>,
        dec: &Bound<'_, PyAny>,
        radius: Option<&Bound<'_, PyAny>>,
        maxsep: Option<&Bound<'_, PyAny>>,
        radius_unit: &str,
        kernel: &str,
    ) -> PyResult<PyContaminantSet> {
        let choice = kernel_argument(kernel)?;
        let maxsep = maxsep.map(|m| radius_argument(m, "maxsep")).transpose()?;
        if radius.is_none() && maxsep.is_none() {
            return Err(PyValueError::new_err("give maxsep (one radius for all) or radius (one per contaminant)"));
        }
        let (ra, dec) = (float64_array(ra)?, float64_array(dec)?);
        let radius = radius.map(float64_array).transpose()?;
        let radius = match &radius {
            Some(radius) => Some(radius.as_slice()?),
            None => None,
        };
        let batch = contaminant_batch(ra.as_slice()?, dec.as_slice()?, radius)?;
        let mut spec = ContaminantSpec {
            path: "<contaminant arrays>".into(),
            ra: Some("ra".into()),
            dec: Some("dec".into()),
            maxsep,
            row_radius: None,
            id_column: None,
            hdu: None,
            names: OptionNames { radius_col: "radius=", ..PYTHON_NAMES },
            motion: None,
            ellipse: None,
        };
        if radius.is_some() {
            let unit = unit_argument(radius_unit)?;
            spec.row_radius = Some(RowRadius::Column { name: "radius".into(), unit, min: None, max: None });
        }
        PyContaminantSet::from_batch(py, &batch, &spec, choice)
    }

    /// ContaminantSet.from_arrow(table, ra=None, dec=None, radius_col=None, radius_unit="arcsec", maxsep=None, kernel="auto")
    ///
    /// The contaminants of an Arrow table (or record batch, stream, pandas DataFrame), read by the
    /// same rules as the command line's `--contaminants` file: `ra`/`dec` found by their usual
    /// names unless given, `radius_col` in `radius_unit`, `maxsep` for all or for null radii.
    #[staticmethod]
    #[pyo3(signature = (table, ra=None, dec=None, radius_col=None, radius_unit="arcsec", maxsep=None, kernel="auto"))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn from_arrow(
        py: Python<'_>,
        table: &Bound<'_, PyAny>,
        ra: Option<String>,
        dec: Option<String>,
        radius_col: Option<String>,
        radius_unit: &str,
        maxsep: Option<&Bound<'_, PyAny>>,
        kernel: &str,
    ) -> PyResult<PyContaminantSet> {
        let choice = kernel_argument(kernel)?;
        let maxsep = maxsep.map(|m| radius_argument(m, "maxsep")).transpose()?;
        if radius_col.is_none() && maxsep.is_none() {
            return Err(PyValueError::new_err("give maxsep (one radius for all) or radius_col (one per contaminant)"));
        }
        let unit = unit_argument(radius_unit)?;
        let spec = ContaminantSpec {
            path: "<arrow table>".into(),
            ra,
            dec,
            maxsep,
            row_radius: radius_col.map(|name| RowRadius::Column { name, unit, min: None, max: None }),
            id_column: None,
            hdu: None,
            names: PYTHON_NAMES,
            motion: None,
            ellipse: None,
        };
        let reader = arrow_stream(table)?;
        let set = py.detach(|| guarded(|| ContaminantSet::from_reader(reader, &spec).map_err(py_error)))?;
        Ok(PyContaminantSet::build(set, choice))
    }

    /// mask(ra, dec, on_invalid="error") -> numpy.ndarray[bool]
    ///
    /// True where the object is strictly closer than its radius to some contaminant (the rows the
    /// cut removes). An invalid position (NaN, infinite, |dec| > 90) is a ValueError naming it,
    /// or with on_invalid="keep" or "drop" is False here (see `classify` to tell them apart).
    #[pyo3(signature = (ra, dec, on_invalid="error"))]
    fn mask<'py>(
        &self,
        py: Python<'py>,
        ra: &Bound<'py, PyAny>,
        dec: &Bound<'py, PyAny>,
        on_invalid: &str,
    ) -> PyResult<Bound<'py, PyArray1<bool>>> {
        let state = self.classify_objects(py, ra, dec, on_invalid_argument(on_invalid)?)?;
        Ok(state.into_iter().map(|s| s == Some(true)).collect::<Vec<_>>().into_pyarray(py))
    }

    /// classify(ra, dec, on_invalid="keep") -> numpy.ndarray[int8]
    ///
    /// Per object: 1 near a contaminant, 0 far from all, -1 no valid position (with
    /// on_invalid="error", an invalid position is a ValueError instead).
    #[pyo3(signature = (ra, dec, on_invalid="keep"))]
    fn classify<'py>(
        &self,
        py: Python<'py>,
        ra: &Bound<'py, PyAny>,
        dec: &Bound<'py, PyAny>,
        on_invalid: &str,
    ) -> PyResult<Bound<'py, PyArray1<i8>>> {
        let state = self.classify_objects(py, ra, dec, on_invalid_argument(on_invalid)?)?;
        Ok(state.into_iter().map(|s| s.map_or(-1, i8::from)).collect::<Vec<_>>().into_pyarray(py))
    }

    /// nearest(ra, dec) -> (separation_deg: numpy.ndarray[float64], index: numpy.ndarray[int64])
    ///
    /// For each object, the nearest of the contaminants whose radius covers it (of equal
    /// separations, the first in the set): its separation in degrees and its position in the set;
    /// NaN and -1 where no contaminant covers the object or its position is invalid.
    fn nearest<'py>(
        &self,
        py: Python<'py>,
        ra: &Bound<'py, PyAny>,
        dec: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        use rayon::prelude::*;
        let (ra, dec) = (float64_array(ra)?, float64_array(dec)?);
        let (ra, dec) = (ra.as_slice()?, dec.as_slice()?);
        if ra.len() != dec.len() {
            return Err(PyValueError::new_err(format!(
                "ra and dec must have the same length; got {} and {}",
                ra.len(),
                dec.len()
            )));
        }
        let found: Vec<(f64, i64)> = py.detach(|| {
            let index = self.index()?;
            guarded(|| {
                Ok(ra
                    .par_iter()
                    .zip(dec)
                    .with_min_len(PIECE)
                    .map(|(&ra, &dec)| {
                        let nearest = position(Some(ra), Some(dec)).ok().and_then(|v| index.nearest(&v));
                        nearest.map_or((f64::NAN, -1), |n| (n.separation().degrees(), i64::from(n.index)))
                    })
                    .collect())
            })
        })?;
        let (separation, which): (Vec<f64>, Vec<i64>) = found.into_iter().unzip();
        PyTuple::new(py, [separation.into_pyarray(py).into_any(), which.into_pyarray(py).into_any()])
    }

    /// filter(data, ra=None, dec=None, invert=False, flag_column=None, nearest_columns=False, on_invalid="error") -> pyarrow.Table
    ///
    /// The rows of `data` (pyarrow Table, RecordBatch or RecordBatchReader, anything with
    /// `__arrow_c_stream__`, or a pandas DataFrame) far from every contaminant, in order, every
    /// column kept: the command line's cut, on a table. `invert=True` keeps the near rows instead;
    /// `flag_column="near"` keeps every row and adds that boolean column; `nearest_columns` adds
    /// nearest_sep_arcsec and nearest_row. Columns are read and written through the Arrow C
    /// stream interface, without copying what is kept.
    #[pyo3(signature = (data, ra=None, dec=None, invert=false, flag_column=None, nearest_columns=false, on_invalid="error"))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn filter<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        ra: Option<String>,
        dec: Option<String>,
        invert: bool,
        flag_column: Option<String>,
        nearest_columns: bool,
        on_invalid: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = CutOptions {
            on_invalid: on_invalid_argument(on_invalid)?,
            selection: Selection::from_flags(invert, flag_column, Spelling::Python).map_err(py_error)?,
            nearest_columns,
            rejected: false,
            spelling: Spelling::Python,
        };
        let reader = arrow_stream(data)?;
        let schema = reader.schema();
        let index = py.detach(|| self.index())?;
        let cutter = BatchCutter::new(&schema, "<arrow table>", ra.as_deref(), dec.as_deref(), index, None, options)
            .map_err(py_error)?;
        let kept = py.detach(|| {
            guarded(|| {
                let mut first_row = 0;
                let mut kept = Vec::new();
                for batch in reader {
                    let batch = batch.map_err(|e| AngcutError::new_err(e.to_string()))?;
                    let rows = batch.num_rows() as u64;
                    kept.push(cutter.cut(&batch, first_row).map_err(py_error)?.kept);
                    first_row += rows;
                }
                Ok(kept)
            })
        })?;
        pyarrow_table(py, cutter.output_schema(), kept)
    }

    /// select(ra, dec, invert=False, flag_column=None, on_invalid="error") -> (keep: numpy.ndarray[bool], state: numpy.ndarray[int8])
    ///
    /// The cut rule on arrays, as the command line applies it to a file: which objects the output
    /// keeps (`keep`), and where each stands (`state`: 1 near, 0 far, -1 no valid position), for
    /// a caller that assembles its own table (`angcut.dask` on pandas partitions).
    #[pyo3(signature = (ra, dec, invert=false, flag_column=None, on_invalid="error"))]
    fn select<'py>(
        &self,
        py: Python<'py>,
        ra: &Bound<'py, PyAny>,
        dec: &Bound<'py, PyAny>,
        invert: bool,
        flag_column: Option<String>,
        on_invalid: &str,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let options = CutOptions {
            on_invalid: on_invalid_argument(on_invalid)?,
            selection: Selection::from_flags(invert, flag_column, Spelling::Python).map_err(py_error)?,
            spelling: Spelling::Python,
            ..CutOptions::default()
        };
        let state = self.classify_objects(py, ra, dec, options.on_invalid)?;
        let (keep, _) = options.route(&state);
        let state: Vec<i8> = state.into_iter().map(|s| s.map_or(-1, i8::from)).collect();
        PyTuple::new(py, [keep.into_pyarray(py).into_any(), state.into_pyarray(py).into_any()])
    }

    /// Dask's token: without it Dask would pickle the whole set to name each task that takes it
    /// (1.8 s for 1,000,000 contaminants, once per task key).
    fn __dask_tokenize__(&self) -> (String, u64) {
        let fingerprint = *self.fingerprint.get_or_init(|| fingerprint(&self.set, self.choice));
        ("angcut.ContaminantSet".to_string(), fingerprint)
    }

    fn __len__(&self) -> usize {
        self.set.positions.len()
    }

    /// The kernel the index uses: "naive", "kdtree" or "grid" ("auto" picks by the set's size).
    #[getter]
    fn kernel(&self) -> String {
        self.choice.resolve(self.set.positions.len()).to_string()
    }

    /// The largest radius of any contaminant, in degrees (None for an empty set).
    #[getter]
    fn largest_radius_deg(&self) -> Option<f64> {
        self.set.largest_radius().map(Angle::degrees)
    }

    fn __repr__(&self) -> String {
        let radius = match &self.set.radii {
            Radii::Uniform(r) => format!("maxsep={r}"),
            Radii::PerContaminant(_) => match self.set.largest_radius() {
                Some(r) => format!("radii up to {r}"),
                None => "no radii".into(),
            },
        };
        format!(
            "<angcut.ContaminantSet: {} contaminants, {radius}, kernel {}>",
            self.set.positions.len(),
            self.kernel()
        )
    }

    /// Pickles the positions (unit vectors) and radii, exactly; the copy builds its own index on
    /// first use, so a Dask worker receives a few bytes per contaminant and indexes them once.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let positions: Vec<u8> = self.set.positions.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
        let radii: Bound<'py, PyAny> = match &self.set.radii {
            Radii::Uniform(r) => r.angle().radians().into_pyobject(py)?.into_any(),
            Radii::PerContaminant(radii) => {
                let bytes: Vec<u8> = radii.iter().flat_map(|r| r.angle().radians().to_le_bytes()).collect();
                PyBytes::new(py, &bytes).into_any()
            }
        };
        let rebuild = py.import("angcut._angcut")?.getattr("_rebuild")?;
        let state = (PyBytes::new(py, &positions), radii, self.choice.to_string());
        PyTuple::new(py, [rebuild, state.into_pyobject(py)?.into_any()])
    }
}

impl PyContaminantSet {
    fn classify_objects(
        &self,
        py: Python<'_>,
        ra: &Bound<'_, PyAny>,
        dec: &Bound<'_, PyAny>,
        on_invalid: OnInvalid,
    ) -> PyResult<Vec<Option<bool>>> {
        let (ra, dec) = (float64_array(ra)?, float64_array(dec)?);
        let (ra, dec) = (ra.as_slice()?, dec.as_slice()?);
        if ra.is_empty() && dec.is_empty() {
            return Ok(Vec::new()); // no index needed (nor built, on a client that only checks options)
        }
        py.detach(|| {
            let index = self.index()?;
            guarded(|| classify(index, ra, dec, on_invalid))
        })
    }
}

fn f64s(bytes: &[u8]) -> Vec<f64> {
    bytes.chunks_exact(8).map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])).collect()
}

/// Unpickles a ContaminantSet (see `ContaminantSet.__reduce__`).
#[pyfunction]
pub fn _rebuild(positions: &[u8], radii: &Bound<'_, PyAny>, kernel: &str) -> PyResult<PyContaminantSet> {
    let coordinates = f64s(positions);
    if !positions.len().is_multiple_of(24) {
        return Err(PyValueError::new_err("not a pickled angcut.ContaminantSet: positions are not whole unit vectors"));
    }
    let positions: Vec<UnitVector> = coordinates.chunks_exact(3).map(|v| [v[0], v[1], v[2]]).collect();
    let radius = |radians: f64| {
        SearchRadius::new(Angle::from_radians(radians))
            .map_err(|error| PyValueError::new_err(format!("not a pickled angcut.ContaminantSet: {error}")))
    };
    let radii = if let Ok(radians) = radii.extract::<f64>() {
        Radii::Uniform(radius(radians)?)
    } else {
        let bytes: Vec<u8> = radii.extract()?;
        Radii::PerContaminant(f64s(&bytes).into_iter().map(radius).collect::<PyResult<_>>()?)
    };
    if let Radii::PerContaminant(r) = &radii
        && r.len() != positions.len()
    {
        return Err(PyValueError::new_err("not a pickled angcut.ContaminantSet: one radius per position expected"));
    }
    let set = ContaminantSet { positions, radii, ids: None, shapes: None, skipped: 0, rows: None };
    Ok(PyContaminantSet::build(set, kernel_argument(kernel)?))
}
