//! `Mask`: the layers of a mask file (README "Survey masks"), read and indexed once, answering
//! `bits` and `select` on numpy arrays; given to `angcut.stream`, `angcut.dask.cut` and
//! `angcut.hats.cut` in place of a mask file.

use std::path::PathBuf;
use std::sync::OnceLock;

use angcut::cut::MaskCut;
use angcut::mask::{Layer, Mask, MaskSpec, PixelMap, PixelRule, all_bits};
use angcut::{ContaminantSet, CutOptions, KernelChoice, OnInvalid, Selection, Spelling};
use arrow::datatypes::DataType;
use numpy::IntoPyArray;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::convert::{float64_array, kernel_argument, on_invalid_argument, per_object};
use crate::errors::{guarded, py_error};

/// The layers of a mask file, read and indexed once, for any number of calls.
///
/// Mask(path, epoch=None, kernel="auto")
///
/// `path`: a mask file (TOML; README "Survey masks"), its layers' files relative to its folder.
/// `epoch`: the survey epoch the stars are moved to, overriding the file's `epoch`. Every layer's
/// file is read now, and one index of all the layers' shapes built: mistakes in the file raise
/// ValueError naming the layer and key, unreadable files AngcutError naming the file.
#[pyclass(module = "angcut._angcut", name = "Mask", frozen)]
pub struct PyMask {
    pub mask: Mask,
    /// The mask file it was read from, for its repr.
    path: Option<PathBuf>,
    /// A hash of the pickled layers: Dask's token for the mask, made when asked.
    fingerprint: OnceLock<u64>,
}

/// Every object's layer bits (`None`: no valid position, or an error naming the first such
/// object when `on_invalid` is `error`).
fn mark(mask: &Mask, ra: &[f64], dec: &[f64], on_invalid: OnInvalid) -> PyResult<Vec<Option<u64>>> {
    per_object(ra, dec, on_invalid, |objects, degrees, bits| mask.mark_at(objects, Some(degrees), bits))
}

/// `words` as a numpy array of the column type `--mask-bits` writes (0 where there is none).
fn bits_array<'py>(py: Python<'py>, words: &[Option<u64>], layers: usize) -> Bound<'py, PyAny> {
    let each = words.iter().map(|w| w.unwrap_or(0));
    // Every word fits the type: it holds only the bits of the mask's layers.
    match MaskCut::bits_type(layers) {
        DataType::UInt8 => each.map(|w| w as u8).collect::<Vec<_>>().into_pyarray(py).into_any(),
        DataType::UInt16 => each.map(|w| w as u16).collect::<Vec<_>>().into_pyarray(py).into_any(),
        DataType::UInt32 => each.map(|w| w as u32).collect::<Vec<_>>().into_pyarray(py).into_any(),
        _ => each.collect::<Vec<_>>().into_pyarray(py).into_any(),
    }
}

impl PyMask {
    fn bits_of(
        &self,
        py: Python<'_>,
        ra: &Bound<'_, PyAny>,
        dec: &Bound<'_, PyAny>,
        on_invalid: OnInvalid,
    ) -> PyResult<Vec<Option<u64>>> {
        let (ra, dec) = (float64_array(ra)?, float64_array(dec)?);
        let (ra, dec) = (ra.as_slice()?, dec.as_slice()?);
        py.detach(|| guarded(|| mark(&self.mask, ra, dec, on_invalid)))
    }
}

#[pymethods]
impl PyMask {
    #[new]
    #[pyo3(signature = (path, epoch=None, kernel="auto"))]
    fn new(py: Python<'_>, path: PathBuf, epoch: Option<f64>, kernel: &str) -> PyResult<PyMask> {
        let choice = kernel_argument(kernel)?;
        let mask = py.detach(|| {
            guarded(|| {
                let spec = MaskSpec::read(&path, epoch, Spelling::Python).map_err(py_error)?;
                Mask::read(&spec, choice).map_err(py_error)
            })
        })?;
        Ok(PyMask { mask, path: Some(path), fingerprint: OnceLock::new() })
    }

    /// bits(ra, dec, on_invalid="keep") -> numpy.ndarray[uint8 | uint16 | uint32 | uint64]
    ///
    /// Per object, the bits of the layers that hold it (bit i for the file's layer i), in the
    /// narrowest unsigned type that holds every layer (what `--mask-bits` writes); 0 for an
    /// invalid position (or, with on_invalid="error", a ValueError naming it).
    #[pyo3(signature = (ra, dec, on_invalid="keep"))]
    fn bits<'py>(
        &self,
        py: Python<'py>,
        ra: &Bound<'py, PyAny>,
        dec: &Bound<'py, PyAny>,
        on_invalid: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let words = self.bits_of(py, ra, dec, on_invalid_argument(on_invalid)?)?;
        Ok(bits_array(py, &words, self.mask.layers().len()))
    }

    /// select(ra, dec, cut_layers=None, mask_bits=False, invert=False, flag_column=None, on_invalid="error") -> (keep, state, bits)
    ///
    /// The command line's cut against this mask, on arrays: `keep` (bool) the objects the output
    /// keeps, `state` (int8: 1 inside a layer that cuts, 0 not, -1 no valid position) and `bits`
    /// (as `bits` returns them). The layers that cut are `cut_layers` (names), else every layer
    /// unless `mask_bits` asks for the bits alone, as `--cut-layers` and `--mask-bits` decide.
    #[pyo3(signature = (ra, dec, cut_layers=None, mask_bits=false, invert=false, flag_column=None, on_invalid="error"))]
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    fn select<'py>(
        &self,
        py: Python<'py>,
        ra: &Bound<'py, PyAny>,
        dec: &Bound<'py, PyAny>,
        cut_layers: Option<Vec<String>>,
        mask_bits: bool,
        invert: bool,
        flag_column: Option<String>,
        on_invalid: &str,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let options = CutOptions {
            on_invalid: on_invalid_argument(on_invalid)?,
            selection: Selection::from_flags(invert, flag_column.clone(), Spelling::Python).map_err(py_error)?,
            spelling: Spelling::Python,
            ..CutOptions::default()
        };
        let named = match cut_layers.as_deref() {
            Some(names) if !names.is_empty() => Some(self.mask.bits_of(names, Spelling::Python).map_err(py_error)?),
            _ => None,
        };
        let uses = [("invert", invert), ("flag_column", flag_column.is_some())];
        let all = all_bits(self.mask.layers().len());
        let how =
            MaskCut::choose(named, all, mask_bits.then(String::new), &uses, Spelling::Python).map_err(py_error)?;
        let words = self.bits_of(py, ra, dec, options.on_invalid)?;
        let state: Vec<Option<bool>> = words.iter().map(|w| w.map(|w| w & how.cut != 0)).collect();
        let (keep, _) = options.route(&state);
        let state: Vec<i8> = state.into_iter().map(|s| s.map_or(-1, i8::from)).collect();
        let bits = bits_array(py, &words, self.mask.layers().len());
        PyTuple::new(py, [keep.into_pyarray(py).into_any(), state.into_pyarray(py).into_any(), bits])
    }

    /// The layers' names, bit 0 first.
    #[getter]
    fn layers(&self) -> Vec<String> {
        self.mask.layers().iter().map(|l| l.name().to_string()).collect()
    }

    /// The numpy type of the bits: "uint8", "uint16", "uint32" or "uint64".
    #[getter]
    fn bits_dtype(&self) -> String {
        MaskCut::bits_type(self.mask.layers().len()).to_string().to_lowercase()
    }

    /// The kernel of the index: "naive", "kdtree" or "grid".
    #[getter]
    fn kernel(&self) -> String {
        self.mask.index().kernel().to_string()
    }

    fn __len__(&self) -> usize {
        self.mask.contaminants()
    }

    fn __repr__(&self) -> String {
        let layers: Vec<String> = self
            .mask
            .layers()
            .iter()
            .map(|l| match l.pixels() {
                Some(_) => format!("{} (pixels)", l.name()),
                None => format!("{} ({})", l.name(), l.contaminants().positions.len()),
            })
            .collect();
        let from = self.path.as_ref().map_or(String::new(), |p| format!(" from {}", p.display()));
        format!("<angcut.Mask{from}: layers {}; {} kernel>", layers.join(", "), self.kernel())
    }

    /// Dask's token: without it Dask would pickle the whole mask to name each task that takes it.
    fn __dask_tokenize__(&self) -> PyResult<(String, u64)> {
        if let Some(&fingerprint) = self.fingerprint.get() {
            return Ok(("angcut.Mask".into(), fingerprint));
        }
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            self.state()?.hash(&mut hasher);
            hasher.finish()
        };
        Ok(("angcut.Mask".into(), *self.fingerprint.get_or_init(|| fingerprint)))
    }

    /// Pickles every layer (name, file, shapes and their caps, exactly) and the kernel; the copy
    /// builds its index when unpickled, so a Dask worker indexes the mask once.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let rebuild = py.import("angcut._angcut")?.getattr("_rebuild_mask")?;
        let state = (PyBytes::new(py, &self.state()?), self.kernel());
        PyTuple::new(py, [rebuild, state.into_pyobject(py)?.into_any()])
    }
}

/// What a pickled mask holds per layer: its name, its file, and its shapes or (a pixel layer)
/// the rule its map is read with again, from the same file, when unpickled.
type PickledLayer<S> = (String, Option<PathBuf>, Option<S>, Option<PixelRule>);

impl PyMask {
    /// The layers as bytes (postcard: the floats as their 8 bytes, so exactly).
    fn state(&self) -> PyResult<Vec<u8>> {
        let layers: Vec<PickledLayer<&ContaminantSet>> = self
            .mask
            .layers()
            .iter()
            .map(|l| match l.pixels() {
                Some(map) => (l.name().to_string(), l.file().map(PathBuf::from), None, Some(map.rule().clone())),
                None => (l.name().to_string(), l.file().map(PathBuf::from), Some(l.contaminants()), None),
            })
            .collect();
        postcard::to_allocvec(&layers)
            .map_err(|error| PyValueError::new_err(format!("cannot pickle the mask: {error}")))
    }
}

/// Unpickles a Mask (see `Mask.__reduce__`).
#[pyfunction]
pub fn _rebuild_mask(py: Python<'_>, state: &[u8], kernel: &str) -> PyResult<PyMask> {
    let layers: Vec<PickledLayer<ContaminantSet>> = postcard::from_bytes(state)
        .map_err(|error| PyValueError::new_err(format!("not a pickled angcut.Mask: {error}")))?;
    let choice: KernelChoice = kernel_argument(kernel)?;
    let mask = py.detach(|| {
        guarded(|| {
            let layers = layers.into_iter().map(|(name, file, set, rule)| match (set, rule, file) {
                (_, Some(rule), Some(file)) => Ok(Layer::from_pixels(name, PixelMap::open(&file, &rule)?)),
                (Some(set), _, Some(file)) => Ok(Layer::new(name, set).from_file(file)),
                (Some(set), _, None) => Ok(Layer::new(name, set)),
                _ => Err(angcut::Error::Usage(format!("a pickled layer '{name}' has neither shapes nor a map"))),
            });
            Mask::new(layers.collect::<Result<_, _>>().map_err(py_error)?, choice).map_err(py_error)
        })
    })?;
    Ok(PyMask { mask, path: None, fingerprint: OnceLock::new() })
}
