//! The contaminant set: positions read from a catalogue file, each with a radius (one for all,
//! from a column, or from a magnitude by a star-mask rule), ready to be indexed.

use std::path::PathBuf;

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, RecordBatch, RecordBatchReader};
use arrow::compute::concat;

use crate::angle::Angle;
use crate::columns::{Axis, CoordinateColumns, find_named_column, position, read_f64};
use crate::error::Error;
use crate::io::formats::is_region_file;
use crate::io::read::{
    ArrowSource, BatchSource, HduChoice, InputFormat, ParquetCatalog, open_catalogue, point_to_other_table,
};
use crate::kernel::{ContaminantIndex, KernelChoice};
use crate::motion::{check_year, propagate};
use crate::shape::{Ellipse, Region, Shape};
use crate::sky::{OutOfRange, SearchRadius, UnitVector};
use crate::spelling::Spelling;
use crate::star_mask::{MagnitudeRule, PowerLaw};

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

/// The radius options as a user gives them (the command line's `--maxsep`, `--radius-col`... or
/// a mask layer's `radius`, `radius_col`...), before [`RadiusOptions::model`] checks them.
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)] // one field per option, named after it
pub struct RadiusOptions {
    pub maxsep: Option<SearchRadius>,
    pub radius_col: Option<String>,
    pub radius_unit: Option<Angle>,
    pub radius_from_mag: Option<String>,
    pub mag_radius: Vec<PowerLaw>,
    pub min_radius: Option<SearchRadius>,
    pub max_radius: Option<SearchRadius>,
}

/// What a front door calls each of [`RadiusOptions`], for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // one field per option
pub struct RadiusNames {
    pub maxsep: &'static str,
    pub radius_col: &'static str,
    pub radius_unit: &'static str,
    pub radius_from_mag: &'static str,
    pub mag_radius: &'static str,
    pub min_radius: &'static str,
    pub max_radius: &'static str,
}

impl RadiusNames {
    /// The command line's flags.
    pub const COMMAND_LINE: RadiusNames = RadiusNames {
        maxsep: "--maxsep",
        radius_col: "--radius-col",
        radius_unit: "--radius-unit",
        radius_from_mag: "--radius-from-mag",
        mag_radius: "--mag-radius",
        min_radius: "--min-radius",
        max_radius: "--max-radius",
    };

    /// `angcut.stream`'s keywords.
    pub const PYTHON_STREAM: RadiusNames = RadiusNames {
        maxsep: "maxsep=",
        radius_col: "radius_col=",
        radius_unit: "radius_unit=",
        radius_from_mag: "radius_from_mag=",
        mag_radius: "mag_radius=",
        min_radius: "min_radius=",
        max_radius: "max_radius=",
    };

    /// The names of [`crate::StreamOptions`]' radius options as `spelling` spells them.
    pub fn of_stream(spelling: Spelling) -> RadiusNames {
        match spelling {
            Spelling::CommandLine => RadiusNames::COMMAND_LINE,
            Spelling::Python => RadiusNames::PYTHON_STREAM,
        }
    }
}

impl RadiusOptions {
    /// The one radius model these options describe: `(maxsep, row_radius)` of a
    /// [`ContaminantSpec`]. The rules of how they combine live here once, for the command line
    /// and every mask layer; a message names the options as `names` calls them.
    pub fn model(&self, names: &RadiusNames) -> Result<(Option<SearchRadius>, Option<RowRadius>), String> {
        let n = names;
        if self.radius_unit.is_some() && self.radius_col.is_none() {
            return Err(format!("{} gives the unit of {}, which is not given", n.radius_unit, n.radius_col));
        }
        if !self.mag_radius.is_empty() && self.radius_from_mag.is_none() {
            return Err(format!("{} gives the rule of {}, which is not given", n.mag_radius, n.radius_from_mag));
        }
        let (min, max) = (self.min_radius.map(|r| r.angle()), self.max_radius.map(|r| r.angle()));
        let row_radius = match (&self.radius_col, &self.radius_from_mag) {
            (Some(_), Some(_)) => {
                return Err(format!("{} cannot be used with {}: choose one", n.radius_col, n.radius_from_mag));
            }
            (Some(name), None) => Some(RowRadius::Column {
                name: name.clone(),
                unit: self.radius_unit.unwrap_or(Angle::from_arcsec(1.0)),
                min,
                max,
            }),
            (None, Some(name)) => {
                let terms =
                    if self.mag_radius.is_empty() { vec![PowerLaw::legacy_surveys()] } else { self.mag_radius.clone() };
                Some(RowRadius::Magnitude { name: name.clone(), rule: MagnitudeRule { terms, min, max } })
            }
            (None, None) if min.is_some() || max.is_some() => {
                return Err(format!(
                    "{} and {} clamp {} or {} radii; with one {} for all, change {}",
                    n.min_radius, n.max_radius, n.radius_col, n.radius_from_mag, n.maxsep, n.maxsep
                ));
            }
            (None, None) if self.maxsep.is_none() => {
                return Err(format!(
                    "{} is required unless {} or {} gives each contaminant its radius",
                    n.maxsep, n.radius_col, n.radius_from_mag
                ));
            }
            (None, None) => None,
        };
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            return Err(format!("{} is larger than {}", n.min_radius, n.max_radius));
        }
        Ok((self.maxsep, row_radius))
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
    pub hdu: &'static str,
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
        hdu: "--contaminant-hdu",
    };

    /// `angcut.stream`'s keywords.
    pub const PYTHON_STREAM: OptionNames = OptionNames {
        ra: "contaminant_ra=",
        dec: "contaminant_dec=",
        maxsep: "maxsep=",
        radius_col: "radius_col=",
        radius_from_mag: "radius_from_mag=",
        clamps: "min_radius= or max_radius=",
        id_column: "contaminant_id=",
        hdu: "contaminant_hdu=",
    };

    /// The names of [`crate::StreamOptions`]' contaminant options as `spelling` spells them.
    pub fn of_stream(spelling: Spelling) -> OptionNames {
        match spelling {
            Spelling::CommandLine => OptionNames::COMMAND_LINE,
            Spelling::Python => OptionNames::PYTHON_STREAM,
        }
    }
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
    /// Proper motions that move each contaminant to the survey's epoch before it is indexed.
    pub motion: Option<MotionSpec>,
    /// An ellipse per contaminant instead of a circle (`maxsep` then fills a missing major axis).
    pub ellipse: Option<EllipseSpec>,
}

/// Where a contaminant's proper motion comes from, and the epoch to move it to.
#[derive(Debug, Clone, PartialEq)]
pub struct MotionSpec {
    /// The column of the proper motion in RA, in mas/yr, including cos(dec).
    pub pm_ra: String,
    /// The column of the proper motion in Dec, in mas/yr.
    pub pm_dec: String,
    /// The epoch of the catalogue's positions.
    pub ref_epoch: RefEpoch,
    /// The epoch to move the positions to (the survey's), a Julian year such as 2016.0.
    pub epoch: f64,
}

/// The epoch of a catalogue's positions: one for all, or a column (Julian years).
#[derive(Debug, Clone, PartialEq)]
pub enum RefEpoch {
    /// Every position is at this epoch (Hipparcos: 1991.25; Gaia DR3: 2016.0).
    Year(f64),
    /// Each position's epoch is in this column.
    Column(String),
}

/// The columns of an ellipse per contaminant (see [`crate::shape`] for the geometry).
#[derive(Debug, Clone, PartialEq)]
pub struct EllipseSpec {
    /// The column of the major axis.
    pub major: String,
    /// Where the minor axis comes from; without it, a row is a circle of its major axis.
    pub minor: Option<MinorAxis>,
    /// The unit of the axis columns, as an angle of one unit.
    pub unit: Angle,
    /// Whether the columns hold full axes (diameters) rather than semi-axes.
    pub diameters: bool,
    /// The column of the major axis' position angle in degrees east of north (0 if `None`).
    pub pa: Option<String>,
}

/// The minor axis of an ellipse: a column of lengths, or of ratios minor / major.
#[derive(Debug, Clone, PartialEq)]
pub enum MinorAxis {
    /// Lengths, in the major axis' unit.
    Column(String),
    /// Axis ratios b / a.
    Ratio(String),
}

impl ContaminantSpec {
    /// The further columns the motion and ellipse models read, with what names them in messages:
    /// (column, what it is), in a fixed order ([`ContaminantSet::collect`] reads them so).
    fn model_columns(&self) -> Vec<(&str, &'static str)> {
        let mut columns = Vec::new();
        if let Some(motion) = &self.motion {
            columns.push((motion.pm_ra.as_str(), "pm_ra"));
            columns.push((motion.pm_dec.as_str(), "pm_dec"));
            if let RefEpoch::Column(name) = &motion.ref_epoch {
                columns.push((name.as_str(), "ref_epoch_col"));
            }
        }
        if let Some(ellipse) = &self.ellipse {
            columns.push((ellipse.major.as_str(), "major"));
            match &ellipse.minor {
                Some(MinorAxis::Column(name)) => columns.push((name.as_str(), "minor")),
                Some(MinorAxis::Ratio(name)) => columns.push((name.as_str(), "axis_ratio")),
                None => {}
            }
            if let Some(pa) = &ellipse.pa {
                columns.push((pa.as_str(), "pa"));
            }
        }
        columns
    }
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
            motion: None,
            ellipse: None,
        }
    }
}

/// The radii of a contaminant set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Radii {
    /// One radius for every contaminant.
    Uniform(SearchRadius),
    /// A radius for each contaminant, in the set's order.
    PerContaminant(Vec<SearchRadius>),
}

/// Contaminant positions with their radii (and identities, if asked for), read and checked.
/// Serialized without the identities (an Arrow array), which only `--nearest-columns` reads.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ContaminantSet {
    /// The contaminants' positions, in file order.
    pub positions: Vec<UnitVector>,
    /// Their radii.
    pub radii: Radii,
    /// The `id_column` values, one per contaminant, in file order.
    #[serde(skip)]
    pub ids: Option<ArrayRef>,
    /// The shapes, one per contaminant, when they are not the circles of `radii` (ellipses from
    /// columns, a region file's shapes): `positions` and `radii` then hold their bounding caps.
    pub shapes: Option<Vec<Region>>,
    /// Rows left out: ellipses without a major axis and no radius to fill it.
    pub skipped: u64,
    /// The file row of each contaminant when some rows were left out (`None`: contaminant `i`
    /// is row `i`).
    pub rows: Option<Vec<u64>>,
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
        ContaminantSet::open(spec)?.read()
    }

    /// The first half of [`ContaminantSet::read`]: the file opened and its columns found, so
    /// that a wrong file or column is reported before any rows are read (a job reads the rows
    /// while its first batches are read).
    pub(crate) fn open(spec: &ContaminantSpec) -> Result<OpenContaminants<'_>, Error> {
        let path = spec.path.as_path();
        if !crate::io::is_stdio(path) && is_region_file(path) {
            return Err(Error::Usage(format!(
                "{} is a DS9 region file: name it in a [[layer]] of a TOML mask file (file = \"...\"; docs/masks.md)",
                path.display()
            )));
        }
        let opened = open_catalogue(path, 65_536, spec.hdu.as_ref())?;
        let axes = (spec.ra.as_deref(), spec.dec.as_deref());
        let flags = (spec.names.ra, spec.names.dec);
        let point = |e| point_to_other_table(e, opened.source.as_ref(), axes, flags, spec.names.hdu);
        let columns = SpecColumns::find(&opened.source.schema(), spec).map_err(point)?;
        // Parquet decodes only the columns needed; the other formats are read whole (star lists).
        let source: Box<dyn BatchSource> = if opened.format == InputFormat::Parquet {
            drop(opened);
            Box::new(ParquetCatalog::open_projected(path, 65_536, Some(&columns.wanted))?)
        } else {
            opened.source
        };
        Ok(OpenContaminants { source, spec, columns })
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
        Ok(ContaminantSet { positions, radii, ids: None, shapes: None, skipped: 0, rows: None })
    }

    /// The set of `regions`: their bounding caps indexed, their shapes deciding.
    pub fn from_regions(regions: Vec<Region>) -> ContaminantSet {
        let positions = regions.iter().map(|r| r.shape.centre()).collect();
        let radii = Radii::PerContaminant(regions.iter().map(|r| r.shape.bounding_cap()).collect());
        ContaminantSet { positions, radii, ids: None, shapes: Some(regions), skipped: 0, rows: None }
    }

    /// Reads positions, radii and identities from `source`, whose columns `columns` found; moves
    /// each position by its proper motion and makes its ellipse, if `spec` asks for them.
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
        let model_indices = columns.model.iter().map(|name| index_of(name)).collect::<Result<Vec<_>, _>>()?;

        let mut positions = Vec::new();
        let mut radii = Vec::new();
        let mut ellipses = spec.ellipse.as_ref().map(|_| Vec::new());
        let mut ids: Vec<ArrayRef> = Vec::new();
        let (mut rows_before, mut skipped) = (0u64, 0u64);
        let mut rows_kept = Vec::new();
        while let Some(batch) = source.next_batch() {
            let batch = batch?;
            let (ras, decs) = projected.read(&batch, path)?;
            let model = model_indices
                .iter()
                .zip(spec.model_columns())
                .map(|(&i, (name, _))| read_f64(batch.column(i), path, name))
                .collect::<Result<Vec<_>, _>>()?;
            let rows = RowModel { spec, columns: spec.model_columns(), values: &model };
            let mut kept = Vec::with_capacity(batch.num_rows());
            for (i, (ra, dec)) in ras.iter().zip(decs.iter()).enumerate() {
                let row = rows_before + i as u64;
                let v = position(ra, dec).map_err(|invalid| Error::InvalidContaminant {
                    path: path.to_path_buf(),
                    row,
                    column: projected.name(invalid.axis()).to_string(),
                    problem: invalid.describe(),
                })?;
                // Valid positions have both values.
                let (ra, dec) = (ra.unwrap_or_default(), dec.unwrap_or_default());
                let (v, ra, dec) = rows.moved(v, ra, dec, i, row)?;
                if let Some(ellipses) = &mut ellipses {
                    let Some(ellipse) = rows.ellipse(ra, dec, i, row)? else {
                        skipped += 1;
                        kept.push(false);
                        continue;
                    };
                    radii.push(ellipse.bounding_cap());
                    ellipses.push(Region { shape: Shape::Ellipse(ellipse), exclude: false });
                }
                positions.push(v);
                if ellipses.is_some() {
                    rows_kept.push(row);
                }
                kept.push(true);
            }
            if let (Some(row_radius), Some(column)) = (&spec.row_radius, radius_index) {
                let values = read_f64(batch.column(column), path, row_radius.column())?;
                push_radii(&values, spec, rows_before, &mut radii)?;
            }
            if let Some(column) = id_index {
                let column = batch.column(column);
                let arrow_error = |source| Error::Arrow { path: path.to_path_buf(), source };
                let column = if kept.iter().all(|&k| k) {
                    column.clone()
                } else {
                    arrow::compute::filter(column, &BooleanArray::from(kept)).map_err(arrow_error)?
                };
                ids.push(column);
            }
            rows_before += batch.num_rows() as u64;
        }
        let radii = match (&spec.row_radius, spec.maxsep, &ellipses) {
            (Some(_), _, _) | (None, _, Some(_)) => Radii::PerContaminant(radii),
            (None, Some(maxsep), None) => Radii::Uniform(maxsep),
            (None, None, None) => {
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
        let rows = (skipped > 0).then_some(rows_kept);
        Ok(ContaminantSet { positions, radii, ids, shapes: ellipses, skipped, rows })
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

/// A contaminant file opened and its columns found ([`ContaminantSet::open`]), its rows not read.
pub(crate) struct OpenContaminants<'s> {
    source: Box<dyn BatchSource>,
    spec: &'s ContaminantSpec,
    columns: SpecColumns,
}

impl OpenContaminants<'_> {
    /// Reads the rows: the second half of [`ContaminantSet::read`].
    pub(crate) fn read(self) -> Result<ContaminantSet, Error> {
        ContaminantSet::collect(self.source, self.spec, &self.columns)
    }
}

/// The columns a [`ContaminantSpec`] names, found in a schema: (ra, dec, radius, id) names, the
/// motion and ellipse columns' names (in [`ContaminantSpec::model_columns`] order), and all their
/// indices in ascending order (the projection to read).
struct SpecColumns {
    names: (String, String, Option<String>, Option<String>),
    model: Vec<String>,
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
        let model = spec
            .model_columns()
            .into_iter()
            .map(|(name, key)| find_named_column(schema, path, name, key))
            .collect::<Result<Vec<usize>, _>>()?;
        let name = |i: usize| schema.field(i).name().clone();
        let names = (name(columns.ra), name(columns.dec), radius_column.map(name), id_column.map(name));
        let mut wanted: Vec<usize> = [Some(columns.ra), Some(columns.dec), radius_column, id_column]
            .into_iter()
            .flatten()
            .chain(model.iter().copied())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        Ok(SpecColumns { names, model: model.into_iter().map(name).collect(), wanted })
    }
}

/// One batch's motion and ellipse columns, read row by row into moved positions and ellipses.
struct RowModel<'a> {
    spec: &'a ContaminantSpec,
    /// [`ContaminantSpec::model_columns`]: (column, role), one per array of `values`.
    columns: Vec<(&'a str, &'static str)>,
    values: &'a [Float64Array],
}

impl RowModel<'_> {
    /// The value of the column playing `role` (`pm_ra`, `major`...) at batch row `i`; `None` for
    /// null or NaN, or when the spec has no such column.
    fn value(&self, role: &str, i: usize) -> Option<f64> {
        let column = &self.values[self.columns.iter().position(|(_, r)| *r == role)?];
        (!column.is_null(i)).then(|| column.value(i)).filter(|v| !v.is_nan())
    }

    /// The error for file row `row`, naming the column playing `role`.
    fn invalid(&self, role: &str, row: u64, problem: String) -> Error {
        let column = self.columns.iter().find(|(_, r)| *r == role).map_or(role, |(name, _)| name);
        Error::InvalidContaminant { path: self.spec.path.clone(), row, column: column.to_string(), problem }
    }

    /// The position moved to the spec's epoch (unmoved without a proper motion), and its RA and
    /// Dec in degrees.
    fn moved(&self, v: UnitVector, ra: f64, dec: f64, i: usize, row: u64) -> Result<(UnitVector, f64, f64), Error> {
        let Some(motion) = &self.spec.motion else { return Ok((v, ra, dec)) };
        let (Some(pm_ra), Some(pm_dec)) = (self.value("pm_ra", i), self.value("pm_dec", i)) else {
            return Ok((v, ra, dec));
        };
        if !(pm_ra.is_finite() && pm_dec.is_finite()) {
            return Err(self.invalid(
                "pm_ra",
                row,
                format!("the proper motion ({pm_ra}, {pm_dec}) mas/yr is not finite"),
            ));
        }
        let ref_epoch = match &motion.ref_epoch {
            RefEpoch::Year(year) => *year,
            RefEpoch::Column(_) => match self.value("ref_epoch_col", i) {
                Some(year) => check_year(year).map_err(|problem| self.invalid("ref_epoch_col", row, problem))?,
                None => {
                    return Err(self.invalid("ref_epoch_col", row, "a star with a proper motion has no epoch".into()));
                }
            },
        };
        let moved = propagate(ra, dec, pm_ra, pm_dec, motion.epoch - ref_epoch);
        if !moved.iter().all(|x| x.is_finite()) {
            let problem = format!("moved by ({pm_ra}, {pm_dec}) mas/yr to {}, it has no finite position", motion.epoch);
            return Err(self.invalid("pm_ra", row, problem));
        }
        let ra = moved[1].atan2(moved[0]).to_degrees().rem_euclid(360.0);
        Ok((moved, ra, moved[2].clamp(-1.0, 1.0).asin().to_degrees()))
    }

    /// The row's ellipse centred at (`ra`, `dec`): a missing minor axis (or ratio) makes a circle
    /// of the major one, a missing position angle is 0, a missing major axis takes the spec's
    /// `maxsep` as a circle or, without one, skips the row (`None`).
    fn ellipse(&self, ra: f64, dec: f64, i: usize, row: u64) -> Result<Option<Ellipse>, Error> {
        let Some(spec) = &self.spec.ellipse else { return Ok(None) };
        let scale = spec.unit.radians() / if spec.diameters { 2.0 } else { 1.0 };
        let (major, minor) = match self.value("major", i) {
            Some(major) => {
                let major = major * scale;
                let minor = match &spec.minor {
                    Some(MinorAxis::Column(_)) => self.value("minor", i).map(|b| b * scale),
                    Some(MinorAxis::Ratio(_)) => self.value("axis_ratio", i).map(|ratio| ratio * major),
                    None => None,
                };
                (major, minor.unwrap_or(major))
            }
            None => match self.spec.maxsep {
                Some(fill) => (fill.angle().radians(), fill.angle().radians()),
                None => return Ok(None),
            },
        };
        let pa = self.value("pa", i).unwrap_or(0.0);
        let (major, minor, pa) = (Angle::from_radians(major), Angle::from_radians(minor), Angle::from_degrees(pa));
        Ellipse::new(ra, dec, major, minor, pa).map(Some).map_err(|error| self.invalid("major", row, error.0))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The names written out for messages are the options' spelled field names: the flags
    /// clap declares and the keywords `angcut.stream` takes.
    #[test]
    fn stream_option_names_are_the_spelled_field_names() {
        for spelling in [Spelling::CommandLine, Spelling::Python] {
            let o = |field: &str| spelling.option(field);
            let n = OptionNames::of_stream(spelling);
            let fields = [n.ra, n.dec, n.maxsep, n.radius_col, n.radius_from_mag, n.id_column, n.hdu];
            let expected = ["contaminant_ra", "contaminant_dec", "maxsep", "radius_col", "radius_from_mag"];
            let expected: Vec<String> =
                expected.iter().chain(&["contaminant_id", "contaminant_hdu"]).map(|f| o(f)).collect();
            assert_eq!(fields.to_vec(), expected, "{spelling:?}");
            assert_eq!(n.clamps, format!("{} or {}", o("min_radius"), o("max_radius")));
            let r = RadiusNames::of_stream(spelling);
            let radius =
                [r.maxsep, r.radius_col, r.radius_unit, r.radius_from_mag, r.mag_radius, r.min_radius, r.max_radius];
            let fields =
                ["maxsep", "radius_col", "radius_unit", "radius_from_mag", "mag_radius", "min_radius", "max_radius"];
            assert_eq!(radius.to_vec(), fields.iter().map(|f| o(f)).collect::<Vec<_>>(), "{spelling:?}");
        }
    }
}
