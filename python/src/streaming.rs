//! `angcut.stream`: the command line's `angcut stream` on files, in this process. The keyword
//! arguments become the core's `StreamOptions` field by field; the core checks them into a plan,
//! exactly as it does the command line's flags.

use std::path::PathBuf;

use angcut::io::read::HduChoice;
use angcut::io::write::{OutputCompression, OutputFormat};
use angcut::star_mask::PowerLaw;
use angcut::{SearchRadius, Spelling, StreamOptions};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::contaminant_set::PyContaminantSet;
use crate::convert::{kernel_argument, on_invalid_argument, radius_argument, summary_value, unit_argument, warn};
use crate::errors::{AngcutError, guarded, py_error};
use crate::mask::PyMask;

/// An option's text parsed by the core's parser for it, a ValueError naming the option if bad.
fn parsed<T: std::str::FromStr<Err = String>>(name: &str, text: Option<&str>) -> PyResult<Option<T>> {
    text.map(|text| text.parse::<T>().map_err(|error| PyValueError::new_err(format!("{name}: {error}")))).transpose()
}

/// An HDU from Python: its number, or its EXTNAME.
fn hdu_argument(value: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<HduChoice>> {
    let Some(value) = value else { return Ok(None) };
    let text = match value.extract::<usize>() {
        Ok(index) => index.to_string(),
        Err(_) => value
            .extract::<String>()
            .map_err(|_| PyTypeError::new_err(format!("{name} must be an HDU number or an EXTNAME string")))?,
    };
    parsed::<HduChoice>(name, Some(&text))
}

fn radius(value: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<SearchRadius>> {
    value.map(|value| radius_argument(value, name)).transpose()
}

/// Runs `angcut stream` with these options, GIL released; returns the summary (what
/// `--stats-json` writes) as a dict. With `given`, cuts against that set and its index (built
/// once per set, kept for the next call) instead of reading a contaminant file; with `given_mask`,
/// against that mask instead of reading a mask file.
#[pyfunction]
#[pyo3(signature = (
    paths, *, contaminants=None, given=None, masks=None, given_mask=None, mask_bits=None, cut_layers=Vec::new(), epoch=None, out_dir=None, maxsep=None, radius_col=None, radius_unit=None,
    radius_from_mag=None, mag_radius=Vec::new(), min_radius=None, max_radius=None, invert=false, rejected=None,
    flag_column=None, nearest_columns=false, contaminant_id=None, ra=None, dec=None, hdu=None,
    contaminant_hdu=None, contaminant_ra=None, contaminant_dec=None, kernel=None, threads=None, batch_size=None, on_invalid=None, compression=None,
    output_format=None, row_group_size=None, rewrite=false, stats_json=None
))]
#[allow(clippy::too_many_arguments)] // Python keyword arguments, one per option
pub fn _stream<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    contaminants: Option<PathBuf>,
    given: Option<&PyContaminantSet>,
    masks: Option<PathBuf>,
    given_mask: Option<&PyMask>,
    mask_bits: Option<String>,
    cut_layers: Vec<String>,
    epoch: Option<f64>,
    out_dir: Option<PathBuf>,
    maxsep: Option<&Bound<'py, PyAny>>,
    radius_col: Option<String>,
    radius_unit: Option<&str>,
    radius_from_mag: Option<String>,
    mag_radius: Vec<String>,
    min_radius: Option<&Bound<'py, PyAny>>,
    max_radius: Option<&Bound<'py, PyAny>>,
    invert: bool,
    rejected: Option<PathBuf>,
    flag_column: Option<String>,
    nearest_columns: bool,
    contaminant_id: Option<String>,
    ra: Option<String>,
    dec: Option<String>,
    hdu: Option<&Bound<'py, PyAny>>,
    contaminant_hdu: Option<&Bound<'py, PyAny>>,
    contaminant_ra: Option<String>,
    contaminant_dec: Option<String>,
    kernel: Option<&str>,
    threads: Option<usize>,
    batch_size: Option<usize>,
    on_invalid: Option<&str>,
    compression: Option<&str>,
    output_format: Option<&str>,
    row_group_size: Option<usize>,
    rewrite: bool,
    stats_json: Option<PathBuf>,
) -> PyResult<Bound<'py, PyAny>> {
    let options = StreamOptions {
        paths,
        out_dir,
        contaminants,
        masks,
        mask_bits,
        cut_layers,
        epoch,
        maxsep: radius(maxsep, "maxsep")?,
        radius_col,
        radius_unit: radius_unit.map(unit_argument).transpose()?,
        radius_from_mag,
        mag_radius: mag_radius
            .iter()
            .map(|term| term.parse::<PowerLaw>().map_err(|error| PyValueError::new_err(format!("mag_radius: {error}"))))
            .collect::<PyResult<_>>()?,
        min_radius: radius(min_radius, "min_radius")?,
        max_radius: radius(max_radius, "max_radius")?,
        invert,
        rejected,
        flag_column,
        nearest_columns,
        contaminant_id,
        ra,
        dec,
        hdu: hdu_argument(hdu, "hdu")?,
        contaminant_hdu: hdu_argument(contaminant_hdu, "contaminant_hdu")?,
        contaminant_ra,
        contaminant_dec,
        kernel: kernel.map(kernel_argument).transpose()?.unwrap_or_default(),
        threads,
        batch_size,
        on_invalid: on_invalid.map(on_invalid_argument).transpose()?.unwrap_or_default(),
        compression: parsed::<OutputCompression>("compression", compression)?,
        output_format: parsed::<OutputFormat>("output_format", output_format)?,
        row_group_size,
        rewrite,
        spelling: Spelling::Python,
    };
    let job = match (given, given_mask) {
        (Some(_), _) => options.plan_with_given_set(),
        (None, Some(mask)) => options.plan_with_given_mask(&mask.mask),
        (None, None) => options.plan(),
    }
    .map_err(|error| match error {
        // A set or a mask has said what these options would: giving both is a mistake in the call.
        angcut::Error::OptionsForGivenSet(_) | angcut::Error::OptionsForGivenMask(_) => {
            PyTypeError::new_err(format!("stream(): {error}"))
        }
        error => py_error(error),
    })?;
    let (record, warnings) = py.detach(|| {
        guarded(|| {
            let summary = match (given, given_mask) {
                (Some(set), _) => angcut::stream_with_index(&job, &set.set, set.index()?),
                (None, Some(mask)) => angcut::stream_with_mask(&job, &mask.mask),
                (None, None) => angcut::stream_file(&job),
            }
            .map_err(py_error)?;
            if let Some(path) = &stats_json {
                std::fs::write(path, angcut::stats::summary_json(&job, &summary))
                    .map_err(|e| AngcutError::new_err(format!("{}: {e}", path.display())))?;
            }
            Ok((angcut::stats::summary_record(&job, &summary), summary.warnings()))
        })
    })?;
    for warning in &warnings {
        warn(py, warning)?;
    }
    summary_value(py, &record)
}
