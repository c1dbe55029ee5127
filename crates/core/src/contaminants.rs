//! The contaminant set: positions read from a catalogue file, each with a radius (one for all,
//! from a column, or from a magnitude by a star-mask rule), ready to be indexed.

use std::path::PathBuf;

use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, RecordBatchReader};
use arrow::compute::concat;

use crate::angle::Angle;
use crate::columns::{Axis, CoordinateColumns, find_named_column, position, read_f64};
use crate::error::Error;
use crate::io::read::{ArrowSource, BatchSource, HduChoice, InputFormat, ParquetCatalog, open_catalogue};
use crate::kernel::{ContaminantIndex, KernelChoice};
use crate::sky::{OutOfRange, SearchRadius, UnitVector};
use crate::star_mask::MagnitudeRule;

/// Where each contaminant's own radius comes from.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // the fields are described on each variant
pub enum RowRadius {
    /// A column of radii in `unit` (an angle of one unit: `Angle::from_arcsec(1.0)` for arcsec),
    /// clamped to `[min, max]` where given.
    Column { name: String, unit: Angle, min: Option<Angle>, max: Option<Angle> },
    /// A magnitude column turned into radii by `rule` (which holds its own clamps).
    Magnitude { name: String, rule: MagnitudeRule },
}

impl RowRadius {
    fn column(&self) -> &str {
        match self {
            RowRadius::Column { name, .. } | RowRadius::Magnitude { name, .. } => name,
        }
    }

    fn option(&self, names: &OptionNames) -> &'static str {
        match self {
            RowRadius::Column { .. } => names.radius_col,
            RowRadius::Magnitude { .. } => names.radius_from_mag,
        }
    }

    /// The radius for one value of the column; `None` if the value cannot give one.
    fn radius(&self, value: f64) -> Option<Angle> {
        match self {
            RowRadius::Column { unit, min, max, .. } => {
                if !value.is_finite() {
                    return None;
                }
                let mut radius = Angle::from_radians(value * unit.radians());
                if let Some(min) = *min {
                    radius = if radius < min { min } else { radius };
                }
                if let Some(max) = *max {
                    radius = if radius > max { max } else { radius };
                }
                Some(radius)
            }
            RowRadius::Magnitude { rule, .. } => rule.radius(value),
        }
    }
}

/// What the caller calls the options that fill a [`ContaminantSpec`], so that a message tells a
/// user of the command line to give `--contaminant-ra` and a Python user `ra=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // one field per option, named after the spec's field it sets
pub struct OptionNames {
    pub ra: &'static str,
    pub dec: &'static str,
    pub maxsep: &'static str,
    pub radius_col: &'static str,
    pub radius_from_mag: &'static str,
    pub clamps: &'static str,
    pub id_column: &'static str,
}

impl OptionNames {
    /// The names of `angcut stream`'s flags.
    pub const COMMAND_LINE: OptionNames = OptionNames {
        ra: "--contaminant-ra",
        dec: "--contaminant-dec",
        maxsep: "--maxsep",
        radius_col: "--radius-col",
        radius_from_mag: "--radius-from-mag",
        clamps: "--min-radius or --max-radius",
        id_column: "--contaminant-id",
    };
}

/// What to read from a contaminant file, and how each contaminant's radius is found.
#[derive(Debug, Clone, PartialEq)]
pub struct ContaminantSpec {
    /// The contaminant file (Parquet, Arrow IPC or CSV).
    pub path: PathBuf,
    /// Coordinate columns; `None` finds them by their usual names.
    pub ra: Option<String>,
    /// See `ra`.
    pub dec: Option<String>,
    /// The radius of every contaminant, or with `row_radius` the radius of those whose own value
    /// is null or NaN.
    pub maxsep: Option<SearchRadius>,
    /// Where each contaminant's own radius comes from, if each has one.
    pub row_radius: Option<RowRadius>,
    /// A column to report as the nearest contaminant's identity (the row number otherwise).
    pub id_column: Option<String>,
    /// The HDU of a FITS contaminant file that holds the table (its first binary table if `None`).
    pub hdu: Option<HduChoice>,
    /// What the caller calls these options, for messages.
    pub names: OptionNames,
}

impl ContaminantSpec {
    /// Every contaminant in `path` with the radius `maxsep`.
    pub fn uniform(path: impl Into<PathBuf>, maxsep: SearchRadius) -> ContaminantSpec {
        ContaminantSpec {
            path: path.into(),
            ra: None,
            dec: None,
            maxsep: Some(maxsep),
            row_radius: None,
            id_column: None,
            hdu: None,
            names: OptionNames::COMMAND_LINE,
        }
    }
}

/// The radii of a contaminant set.
#[derive(Debug, Clone, PartialEq)]
pub enum Radii {
    /// One radius for every contaminant.
    Uniform(SearchRadius),
    /// A radius for each contaminant, in the set's order.
    PerContaminant(Vec<SearchRadius>),
}

/// Contaminant positions with their radii (and identities, if asked for), read and checked.
#[derive(Debug, Clone)]
pub struct ContaminantSet {
    /// The contaminants' positions, in file order.
    pub positions: Vec<UnitVector>,
    /// Their radii.
    pub radii: Radii,
    /// The `id_column` values, one per contaminant, in file order.
    pub ids: Option<ArrayRef>,
}

impl ContaminantSet {
    /// Reads the contaminants `spec` describes.
    ///
    /// Only the columns needed are decoded. An invalid position, or a radius that cannot be had
    /// (null with no `maxsep` to fill it, not positive, over 180deg), is an error naming its row:
    /// a contaminant that cannot be placed would silently mask nothing.
    ///
    /// ```
    /// use angcut::contaminants::{ContaminantSet, ContaminantSpec, Radii, RowRadius};
    /// use angcut::star_mask::MagnitudeRule;
    /// let mut spec = ContaminantSpec::uniform("fixtures/hip2_bright.parquet", angcut::SearchRadius::parse("30arcsec").unwrap());
    /// spec.row_radius = Some(RowRadius::Magnitude { name: "hpmag".into(), rule: MagnitudeRule::default() });
    /// let stars = ContaminantSet::read(&spec).unwrap();
    /// assert_eq!(stars.positions.len(), 13_940);
    /// let Radii::PerContaminant(radii) = &stars.radii else { unreachable!() };
    /// // Sirius, Hp = -1.09: 1630 arcsec * 1.396^1.09 = 2344 arcsec.
    /// let largest = radii.iter().map(|r| r.angle().arcsec()).fold(0.0, f64::max);
    /// assert!((2_300.0..2_400.0).contains(&largest), "{largest}");
    /// ```
    pub fn read(spec: &ContaminantSpec) -> Result<ContaminantSet, Error> {
        let path = spec.path.as_path();
        let opened = open_catalogue(path, 65_536, spec.hdu.as_ref())?;
        let columns = SpecColumns::find(&opened.source.schema(), spec)?;
        // Parquet decodes only the columns needed; the other formats are read whole (star lists).
        let source: Box<dyn BatchSource> = if opened.format == InputFormat::Parquet {
            drop(opened);
            Box::new(ParquetCatalog::open_projected(path, 65_536, Some(&columns.wanted))?)
        } else {
            opened.source
        };
        ContaminantSet::collect(source, spec, &columns)
    }

    /// The contaminants of a record batch, with the columns and radius rule of `spec` (whose
    /// `path` only names the batch in messages).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Float64Array, RecordBatch};
    /// use angcut::{Angle, ContaminantSet, ContaminantSpec, RowRadius, SearchRadius};
    /// let batch = RecordBatch::try_from_iter([
    ///     ("ra", Arc::new(Float64Array::from(vec![10.0, 200.0])) as _),
    ///     ("dec", Arc::new(Float64Array::from(vec![-30.0, 45.0])) as _),
    ///     ("r_arcsec", Arc::new(Float64Array::from(vec![Some(12.0), None])) as _),
    /// ]).unwrap();
    /// let mut spec = ContaminantSpec::uniform("artefacts", SearchRadius::parse("5arcsec").unwrap()); // fills the null
    /// spec.row_radius = Some(RowRadius::Column { name: "r_arcsec".into(), unit: Angle::from_arcsec(1.0), min: None, max: None });
    /// let set = ContaminantSet::from_batch(&batch, &spec).unwrap();
    /// assert_eq!(set.largest_radius(), Some(Angle::from_arcsec(12.0)));
    /// ```
    pub fn from_batch(batch: &RecordBatch, spec: &ContaminantSpec) -> Result<ContaminantSet, Error> {
        let columns = SpecColumns::find(&batch.schema(), spec)?;
        let source = ArrowSource::new(&spec.path, batch.schema(), std::iter::once(Ok(batch.clone())));
        ContaminantSet::collect(Box::new(source), spec, &columns)
    }

    /// The contaminants of a stream of record batches (an Arrow C stream from Python, an IPC
    /// reader...), by the rules of [`ContaminantSet::from_batch`]; the columns are found before
    /// anything is read, and only they are decoded.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::{Float64Array, RecordBatch, RecordBatchIterator};
    /// use angcut::{ContaminantSet, ContaminantSpec, SearchRadius};
    /// let batch = |ra: f64| RecordBatch::try_from_iter([
    ///     ("RAJ2000", Arc::new(Float64Array::from(vec![ra])) as _),
    ///     ("DEJ2000", Arc::new(Float64Array::from(vec![-5.0])) as _),
    /// ]).unwrap();
    /// let (a, b) = (batch(10.0), batch(20.0));
    /// let reader = RecordBatchIterator::new([Ok(a.clone()), Ok(b)], a.schema());
    /// let set = ContaminantSet::from_reader(reader, &ContaminantSpec::uniform("stream", SearchRadius::parse("9arcsec").unwrap())).unwrap();
    /// assert_eq!(set.len(), 2);
    /// ```
    pub fn from_reader(
        reader: impl RecordBatchReader + Send + 'static,
        spec: &ContaminantSpec,
    ) -> Result<ContaminantSet, Error> {
        let schema = reader.schema();
        let columns = SpecColumns::find(&schema, spec)?;
        let source = ArrowSource::new(&spec.path, schema, reader);
        ContaminantSet::collect(Box::new(source), spec, &columns)
    }

    /// Contaminants at (`ra`, `dec`) in degrees with `radii`; a non-finite position or |dec| > 90
    /// is an error naming its index.
    ///
    /// ```
    /// use angcut::{ContaminantSet, KernelChoice, Radii, SearchRadius, unit_vector};
    /// let set = ContaminantSet::from_degrees(&[83.82], &[-5.39], Radii::Uniform(SearchRadius::parse("60arcsec").unwrap())).unwrap();
    /// let index = set.index(KernelChoice::Auto).unwrap();
    /// assert!(index.is_near(&unit_vector(83.82, -5.38)));
    /// ```
    pub fn from_degrees(ra: &[f64], dec: &[f64], radii: Radii) -> Result<ContaminantSet, Error> {
        let name = std::path::Path::new("<contaminant arrays>");
        let lengths_differ =
            |what: &str, n: usize| Error::Usage(format!("{}: {} ra values but {n} {what}", name.display(), ra.len()));
        if dec.len() != ra.len() {
            return Err(lengths_differ("dec values", dec.len()));
        }
        if let Radii::PerContaminant(radii) = &radii
            && radii.len() != ra.len()
        {
            return Err(lengths_differ("radii", radii.len()));
        }
        let positions = ra
            .iter()
            .zip(dec)
            .enumerate()
            .map(|(row, (&ra, &dec))| {
                position(Some(ra), Some(dec)).map_err(|invalid| Error::InvalidContaminant {
                    path: name.to_path_buf(),
                    row: row as u64,
                    column: if invalid.axis() == Axis::Ra { "ra" } else { "dec" }.to_string(),
                    problem: invalid.describe(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ContaminantSet { positions, radii, ids: None })
    }

    /// Reads positions, radii and identities from `source`, whose columns `columns` found.
    fn collect(
        mut source: Box<dyn BatchSource>,
        spec: &ContaminantSpec,
        columns: &SpecColumns,
    ) -> Result<ContaminantSet, Error> {
        let path = spec.path.as_path();
        let flags = (spec.names.ra, spec.names.dec);
        let names = &columns.names;
        let schema = source.schema();
        let projected = CoordinateColumns::resolve(&schema, path, Some(&names.0), Some(&names.1), flags)?;
        let index_of =
            |name: &str| schema.index_of(name).map_err(|source| Error::Arrow { path: path.to_path_buf(), source });
        let radius_index = names.2.as_deref().map(index_of).transpose()?;
        let id_index = names.3.as_deref().map(index_of).transpose()?;

        let mut positions = Vec::new();
        let mut radii = Vec::new();
        let mut ids: Vec<ArrayRef> = Vec::new();
        while let Some(batch) = source.next_batch() {
            let batch = batch?;
            let (ras, decs) = projected.read(&batch, path)?;
            let first_row = positions.len() as u64;
            for (i, (ra, dec)) in ras.iter().zip(decs.iter()).enumerate() {
                let v = position(ra, dec).map_err(|invalid| Error::InvalidContaminant {
                    path: path.to_path_buf(),
                    row: first_row + i as u64,
                    column: projected.name(invalid.axis()).to_string(),
                    problem: invalid.describe(),
                })?;
                positions.push(v);
            }
            if let (Some(row_radius), Some(column)) = (&spec.row_radius, radius_index) {
                let values = read_f64(batch.column(column), path, row_radius.column())?;
                push_radii(&values, spec, first_row, &mut radii)?;
            }
            if let Some(column) = id_index {
                ids.push(batch.column(column).clone());
            }
        }
        let radii = match (&spec.row_radius, spec.maxsep) {
            (Some(_), _) => Radii::PerContaminant(radii),
            (None, Some(maxsep)) => Radii::Uniform(maxsep),
            (None, None) => {
                let names = &spec.names;
                let options = format!("{}, {} or {}", names.maxsep, names.radius_col, names.radius_from_mag);
                return Err(Error::Usage(format!("give {options}")));
            }
        };
        let ids = match id_index {
            // No rows: an empty array of the column's own type, so the added column keeps it.
            Some(column) if ids.is_empty() => Some(arrow::array::new_empty_array(schema.field(column).data_type())),
            Some(_) => {
                let parts: Vec<&dyn Array> = ids.iter().map(|a| a.as_ref()).collect();
                Some(concat(&parts).map_err(|source| Error::Arrow { path: path.to_path_buf(), source })?)
            }
            None => None,
        };
        Ok(ContaminantSet { positions, radii, ids })
    }

    /// How many contaminants there are.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The largest radius (`None` for an empty set with radii per contaminant).
    pub fn largest_radius(&self) -> Option<Angle> {
        match &self.radii {
            Radii::Uniform(radius) => Some(radius.angle()),
            Radii::PerContaminant(radii) => SearchRadius::largest(radii.iter().copied()).map(|r| r.angle()),
        }
    }

    /// Indexes the set with the kernel `choice`.
    pub fn index(&self, choice: KernelChoice) -> Result<ContaminantIndex, Error> {
        match &self.radii {
            Radii::Uniform(radius) => Ok(ContaminantIndex::build(&self.positions, *radius, choice)?),
            Radii::PerContaminant(radii) => Ok(ContaminantIndex::build_with_radii(&self.positions, radii, choice)?),
        }
    }
}

/// The columns a [`ContaminantSpec`] names, found in a schema: (ra, dec, radius, id) names and
/// their indices in ascending order (the projection to read).
struct SpecColumns {
    names: (String, String, Option<String>, Option<String>),
    wanted: Vec<usize>,
}

impl SpecColumns {
    fn find(schema: &arrow::datatypes::Schema, spec: &ContaminantSpec) -> Result<SpecColumns, Error> {
        let path = spec.path.as_path();
        let flags = (spec.names.ra, spec.names.dec);
        let columns = CoordinateColumns::resolve(schema, path, spec.ra.as_deref(), spec.dec.as_deref(), flags)?;
        let radius_column = match &spec.row_radius {
            Some(row) => Some(find_named_column(schema, path, row.column(), row.option(&spec.names))?),
            None => None,
        };
        let id_column = match &spec.id_column {
            Some(name) => Some(find_named_column(schema, path, name, spec.names.id_column)?),
            None => None,
        };
        let name = |i: usize| schema.field(i).name().clone();
        let names = (name(columns.ra), name(columns.dec), radius_column.map(name), id_column.map(name));
        let mut wanted: Vec<usize> =
            [Some(columns.ra), Some(columns.dec), radius_column, id_column].into_iter().flatten().collect();
        wanted.sort_unstable();
        wanted.dedup();
        Ok(SpecColumns { names, wanted })
    }
}

/// Appends the radius of each row of `values`, or fails naming the first row without one.
fn push_radii(
    values: &Float64Array,
    spec: &ContaminantSpec,
    first_row: u64,
    radii: &mut Vec<SearchRadius>,
) -> Result<(), Error> {
    let Some(row_radius) = &spec.row_radius else { return Ok(()) };
    let (fill, names) = (spec.maxsep, &spec.names);
    for i in 0..values.len() {
        let value = (!values.is_null(i)).then(|| values.value(i)).filter(|v| !v.is_nan());
        let problem = match (value, fill) {
            (Some(v), _) => match row_radius.radius(v).map(SearchRadius::new) {
                Some(Ok(radius)) => {
                    radii.push(radius);
                    continue;
                }
                Some(Err(OutOfRange(r))) => {
                    format!("{v} gives the radius {r}, outside (0, 180deg]; {} can clamp it", names.clamps)
                }
                None => format!("{v} gives no radius"),
            },
            // Null or NaN: --maxsep fills it, if given.
            (None, Some(fill)) => {
                radii.push(fill);
                continue;
            }
            (None, None) => {
                let what = if values.is_null(i) { "null" } else { "NaN" };
                format!("the value is {what}; give {} to use it for contaminants without a radius", names.maxsep)
            }
        };
        return Err(Error::InvalidRadius {
            path: spec.path.clone(),
            row: first_row + i as u64,
            column: row_radius.column().to_string(),
            problem,
        });
    }
    Ok(())
}
