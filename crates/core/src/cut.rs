//! What one record batch becomes: which rows are near a contaminant, which are kept, and the
//! columns added to say so (a flag, the nearest contaminant).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, PrimitiveArray, RecordBatch, StringArray, UInt32Array,
};
use arrow::buffer::NullBuffer;
use arrow::compute::{filter_record_batch, take};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;

use crate::columns::{CoordinateColumns, checked};
use crate::error::Error;
use crate::kernel::{ContaminantIndex, Nearest};
use crate::mask::Mask;
use crate::sky::{UnitVector, unit_vector};
use crate::spelling::Spelling;

/// What to do with objects whose position is null, NaN, infinite, or has |dec| > 90.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnInvalid {
    /// Stop with an error naming the file, row and column.
    #[default]
    Error,
    /// Keep them: a position that is nowhere cannot be near a contaminant.
    Keep,
    /// Leave them out of every output.
    Drop,
}

impl FromStr for OnInvalid {
    type Err = String;

    fn from_str(text: &str) -> Result<OnInvalid, String> {
        match text.to_ascii_lowercase().as_str() {
            "error" => Ok(OnInvalid::Error),
            "keep" => Ok(OnInvalid::Keep),
            "drop" => Ok(OnInvalid::Drop),
            _ => Err(format!("unknown policy '{text}': use error, keep or drop")),
        }
    }
}

/// Which rows the main output gets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    /// The objects far from every contaminant (the cut).
    #[default]
    Far,
    /// Only the objects near a contaminant (`--invert`).
    Near,
    /// Every object, with a boolean column of this name appended (`--flag-column`): true = near
    /// a contaminant, null = no valid position.
    Flag(String),
}

impl Selection {
    /// The selection `--invert` and `--flag-column` ask for. The one place that decides it, for
    /// the command line, the library and Python alike: a flag column keeps every row, so it
    /// cannot be combined with `invert`. A message names the options as `spelling` does.
    ///
    /// ```
    /// use angcut::{Selection, Spelling};
    /// assert_eq!(Selection::from_flags(true, None, Spelling::CommandLine).unwrap(), Selection::Near);
    /// let both = Selection::from_flags(true, Some("near".into()), Spelling::Python).unwrap_err();
    /// assert!(both.to_string().contains("flag_column= cannot be used with invert="));
    /// ```
    pub fn from_flags(invert: bool, flag_column: Option<String>, spelling: Spelling) -> Result<Selection, Error> {
        match (invert, flag_column) {
            (true, Some(_)) => Err(Error::Usage(format!(
                "{} cannot be used with {}: a flag column keeps every row and flags it",
                spelling.option("flag_column"),
                spelling.option("invert")
            ))),
            (false, Some(name)) => Ok(Selection::Flag(name)),
            (true, None) => Ok(Selection::Near),
            (false, None) => Ok(Selection::Far),
        }
    }

    /// The flag column's name, if this selection adds one.
    pub fn flag_column(&self) -> Option<&str> {
        match self {
            Selection::Flag(name) => Some(name),
            Selection::Far | Selection::Near => None,
        }
    }
}

/// How batches are cut, and what is added to them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CutOptions {
    /// What happens to objects without a valid position.
    pub on_invalid: OnInvalid,
    /// Which rows the main output gets.
    pub selection: Selection,
    /// Append the separation to, and the identity of, the nearest contaminant within its radius.
    pub nearest_columns: bool,
    /// Also return the rows the main output does not get (other than dropped invalid ones);
    /// with [`Selection::Flag`] there are none.
    pub rejected: bool,
    /// How messages name the options (the command line's flags unless set).
    pub spelling: Spelling,
}

/// A column a cutter appends to its input's (see [`CutOptions::added`]).
enum Added<'o> {
    /// `--flag-column NAME`: whether the row is near.
    Flag(&'o str),
    /// `--mask-bits NAME`: the mask's layers the row is in.
    Bits(&'o str),
    /// `--nearest-columns`: the separation to the nearest contaminant,
    NearestSeparation,
    /// its layer (against a mask),
    NearestLayer,
    /// and its identity (an id column's value, or its row).
    NearestId,
}

impl CutOptions {
    /// The columns a cutter with these options appends to its input's, in order: the flag, a
    /// mask's bits column (`bits`, the name `--mask-bits` gives), and the nearest contaminant's
    /// separation, layer (against a mask) and identity. The one list both
    /// [`BatchCutter::output_schema`] and [`CutOptions::adds_columns`] come from.
    fn added<'o>(&'o self, bits: Option<&'o str>, mask: bool) -> Vec<Added<'o>> {
        let mut added: Vec<Added> = self.selection.flag_column().into_iter().map(Added::Flag).collect();
        added.extend(bits.map(Added::Bits));
        if self.nearest_columns {
            added.push(Added::NearestSeparation);
            if mask {
                added.push(Added::NearestLayer);
            }
            added.push(Added::NearestId);
        }
        added
    }

    /// Whether a cutter with these options (and `bits`, a mask's bits column, if any) adds
    /// columns to the input's: if not, its [`BatchCutter::output_schema`] is its input's.
    pub(crate) fn adds_columns(&self, bits: Option<&str>) -> bool {
        !self.added(bits, false).is_empty()
    }

    /// The cut rule: where each object goes, given where it stands (`Some(true)` near a
    /// contaminant, `Some(false)` far from all, `None` no valid position). Returns, per object,
    /// whether the main output gets it and, if rejected rows are asked for, whether the rejected
    /// output does. Every front door (the command line, the library, Python and its Dask and HATS
    /// cuts) decides through here.
    ///
    /// ```
    /// use angcut::{CutOptions, OnInvalid, Selection};
    /// let state = [Some(true), Some(false), None];
    /// let cut = CutOptions { on_invalid: OnInvalid::Drop, rejected: true, ..CutOptions::default() };
    /// assert_eq!(cut.route(&state), (vec![false, true, false], Some(vec![true, false, false])));
    /// let invert = CutOptions { selection: Selection::Near, ..CutOptions::default() };
    /// assert_eq!(invert.route(&state), (vec![true, false, false], None));
    /// ```
    pub fn route(&self, state: &[Option<bool>]) -> (Vec<bool>, Option<Vec<bool>>) {
        let dropped = |s: Option<bool>| s.is_none() && self.on_invalid == OnInvalid::Drop;
        let kept: Vec<bool> = state
            .iter()
            .map(|&s| match self.selection {
                _ if dropped(s) => false,
                Selection::Far => s != Some(true),
                Selection::Near => s == Some(true),
                Selection::Flag(_) => true,
            })
            .collect();
        let rejected = self.rejected.then(|| state.iter().zip(&kept).map(|(&s, &k)| !k && !dropped(s)).collect());
        (kept, rejected)
    }
}

/// The name of the separation column `nearest_columns` adds.
pub const NEAREST_SEPARATION_COLUMN: &str = "nearest_sep_arcsec";
/// The name of the row-number column `nearest_columns` adds without contaminant ids (against a
/// mask: the row of the layer's file, or the shape's number in a region file, from 0).
pub const NEAREST_ROW_COLUMN: &str = "nearest_row";
/// The name of the layer column `nearest_columns` adds against a mask.
pub const NEAREST_LAYER_COLUMN: &str = "nearest_layer";

/// How a cut against a mask's layers goes: which layers cut, and the column of layer bits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MaskCut {
    /// The bits of the layers whose objects count as near (removed by the cut, kept by
    /// `--invert`, flagged by `--flag-column`).
    pub cut: u64,
    /// The name of the column of every object's layer bits (`--mask-bits`), if asked for.
    pub bits_column: Option<String>,
}

impl MaskCut {
    /// How a mask whose layers' bits are `all` cuts: the layers `named` (`--cut-layers`), else
    /// every layer unless `bits_column` (`--mask-bits`) asks for the bits alone. `uses` are the
    /// options given (field name, whether given) that work on the layers that cut: with none
    /// cutting, a given one is a usage error, naming the options as `spelling` does. The one
    /// rule for the command line, the library and Python.
    pub fn choose(
        named: Option<u64>,
        all: u64,
        bits_column: Option<String>,
        uses: &[(&str, bool)],
        spelling: Spelling,
    ) -> Result<MaskCut, Error> {
        let cut = match (named, &bits_column) {
            (Some(named), _) => named,
            (None, None) => all,
            (None, Some(_)) => 0,
        };
        if cut == 0
            && let Some((field, _)) = uses.iter().find(|(_, given)| *given)
        {
            let o = |field| spelling.option(field);
            return Err(Error::Usage(format!(
                "{} works on the layers that cut, and with {} no layer cuts unless {} names it",
                o(field),
                o("mask_bits"),
                o("cut_layers")
            )));
        }
        Ok(MaskCut { cut, bits_column })
    }

    /// The narrowest unsigned type with a bit for each of `layers` layers.
    pub fn bits_type(layers: usize) -> DataType {
        match layers {
            0..=8 => DataType::UInt8,
            9..=16 => DataType::UInt16,
            17..=32 => DataType::UInt32,
            _ => DataType::UInt64,
        }
    }
}

/// Row counts of a cut.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rows read.
    pub read: u64,
    /// Rows strictly within the radius of a contaminant.
    pub removed: u64,
    /// Rows without a valid position (kept or dropped as `on_invalid` says).
    pub invalid: u64,
    /// Rows in the main output.
    pub written: u64,
    /// Rows in the rejected output.
    pub rejected: u64,
    /// The most batches that were in flight at once (read, not yet written), for a whole run.
    pub peak_in_flight: u64,
    /// Against a mask: the rows inside each layer, bit 0 first (a row may count in several);
    /// empty against one contaminant set.
    pub layers: Vec<u64>,
}

impl Counts {
    /// Adds the row counts of `other` (not the in-flight peak).
    pub fn add(&mut self, other: &Counts) {
        self.read += other.read;
        self.removed += other.removed;
        self.invalid += other.invalid;
        self.written += other.written;
        self.rejected += other.rejected;
        if self.layers.len() < other.layers.len() {
            self.layers.resize(other.layers.len(), 0);
        }
        for (total, n) in self.layers.iter_mut().zip(&other.layers) {
            *total += n;
        }
    }
}

/// A cut batch: the rows for the main output, the others if asked for, and the counts.
#[derive(Debug, Clone)]
pub struct CutBatch {
    /// The rows for the main output, with any added columns.
    pub kept: RecordBatch,
    /// The rows for the rejected output, if asked for.
    pub rejected: Option<RecordBatch>,
    /// What happened to the batch's rows.
    pub counts: Counts,
}

/// Cuts batches of one catalogue against a contaminant index.
///
/// ```
/// use std::sync::Arc;
/// use arrow::array::{Float64Array, RecordBatch};
/// use arrow::datatypes::{DataType, Field, Schema};
/// use angcut::cut::{BatchCutter, CutOptions, Selection};
/// use angcut::{ContaminantIndex, KernelChoice, SearchRadius, unit_vector};
///
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("ra", DataType::Float64, false),
///     Field::new("dec", DataType::Float64, false),
/// ]));
/// let batch = RecordBatch::try_new(schema.clone(), vec![
///     Arc::new(Float64Array::from(vec![10.0, 10.0, 50.0])),
///     Arc::new(Float64Array::from(vec![20.0, 20.002, 20.0])),
/// ]).unwrap();
/// let index = ContaminantIndex::build(&[unit_vector(10.0, 20.0)], SearchRadius::parse("30arcsec").unwrap(), KernelChoice::Auto).unwrap();
///
/// let options = CutOptions { selection: Selection::Flag("near_star".into()), nearest_columns: true, ..CutOptions::default() };
/// let cutter = BatchCutter::new(&schema, "in.parquet", None, None, &index, None, options).unwrap();
/// let flagged = cutter.cut(&batch, 0).unwrap().kept;
/// assert_eq!(flagged.num_rows(), 3);
/// assert_eq!(flagged.schema().field(2).name(), "near_star");
/// assert_eq!(flagged.schema().field(3).name(), "nearest_sep_arcsec");
/// assert_eq!(cutter.near_mask(&batch, 0).unwrap(), vec![true, true, false]);
/// ```
pub struct BatchCutter<'a> {
    columns: CoordinateColumns,
    against: Against<'a>,
    options: CutOptions,
    path: PathBuf,
    schema: SchemaRef,
}

/// What a cutter tests objects against.
enum Against<'a> {
    /// One contaminant set, with the identities its nearest column names (row numbers if `None`).
    Set { index: &'a ContaminantIndex, ids: Option<&'a ArrayRef> },
    /// The layers of a mask.
    Mask { mask: &'a Mask, how: MaskCut },
}

/// Objects per piece of a batch given to the kernel at once.
const KERNEL_PIECE: usize = 8_192;

impl<'a> BatchCutter<'a> {
    /// A cutter for batches of `schema` from `path`, finding the coordinate columns (`ra`, `dec`,
    /// or by their usual names), and checking that the added columns' names are free.
    pub fn new(
        schema: &SchemaRef,
        path: impl Into<PathBuf>,
        ra: Option<&str>,
        dec: Option<&str>,
        index: &'a ContaminantIndex,
        ids: Option<(&'a ArrayRef, &str)>,
        options: CutOptions,
    ) -> Result<BatchCutter<'a>, Error> {
        let path = path.into();
        let (ra_option, dec_option) = (options.spelling.option("ra"), options.spelling.option("dec"));
        let columns = CoordinateColumns::resolve(schema, &path, ra, dec, (&ra_option, &dec_option))?;
        BatchCutter::with_columns(schema, path, columns, index, ids, options)
    }

    /// [`BatchCutter::new`] with the coordinate columns already found (a job with several inputs
    /// of one schema finds them once).
    pub fn with_columns(
        schema: &SchemaRef,
        path: PathBuf,
        columns: CoordinateColumns,
        index: &'a ContaminantIndex,
        ids: Option<(&'a ArrayRef, &str)>,
        options: CutOptions,
    ) -> Result<BatchCutter<'a>, Error> {
        let id_column = ids.map(|(ids, name)| (ids.data_type().clone(), name.to_string()));
        let against = Against::Set { index, ids: ids.map(|(ids, _)| ids) };
        BatchCutter::make(schema, path, columns, against, id_column, options)
    }

    /// A cutter against the layers of `mask`: objects inside any layer of `how.cut` are near, and
    /// `how.bits_column` names the column of every object's layer bits.
    pub fn with_mask(
        schema: &SchemaRef,
        path: PathBuf,
        columns: CoordinateColumns,
        mask: &'a Mask,
        how: MaskCut,
        options: CutOptions,
    ) -> Result<BatchCutter<'a>, Error> {
        BatchCutter::make(schema, path, columns, Against::Mask { mask, how }, None, options)
    }

    fn make(
        schema: &SchemaRef,
        path: PathBuf,
        columns: CoordinateColumns,
        against: Against<'a>,
        id_column: Option<(DataType, String)>,
        options: CutOptions,
    ) -> Result<BatchCutter<'a>, Error> {
        let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
        let mut add = |name: String, data_type: DataType, field: &str| {
            let flag = options.spelling.option(field);
            if schema.fields().iter().any(|f| f.name() == &name)
                || fields[schema.fields().len()..].iter().any(|f| f.name() == &name)
            {
                return Err(Error::Usage(format!(
                    "{}: already has a column '{name}', which {flag} would add; rename it or choose another name",
                    path.display()
                )));
            }
            fields.push(Arc::new(Field::new(name, data_type, true)));
            Ok(())
        };
        let (bits, layers, is_mask) = match &against {
            Against::Mask { mask, how } => (how.bits_column.as_deref(), mask.layers().len(), true),
            Against::Set { .. } => (None, 0, false),
        };
        for column in options.added(bits, is_mask) {
            match column {
                Added::Flag(name) => add(name.to_string(), DataType::Boolean, "flag_column")?,
                Added::Bits(name) => add(name.to_string(), MaskCut::bits_type(layers), "mask_bits")?,
                Added::NearestSeparation => {
                    add(NEAREST_SEPARATION_COLUMN.to_string(), DataType::Float64, "nearest_columns")?;
                }
                Added::NearestLayer => add(NEAREST_LAYER_COLUMN.to_string(), DataType::Utf8, "nearest_columns")?,
                Added::NearestId => match &id_column {
                    Some((data_type, name)) => add(format!("nearest_{name}"), data_type.clone(), "nearest_columns")?,
                    None => add(NEAREST_ROW_COLUMN.to_string(), DataType::Int64, "nearest_columns")?,
                },
            }
        }
        let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        Ok(BatchCutter { columns, against, options, path, schema })
    }

    /// The schema of the batches [`BatchCutter::cut`] returns (the input's plus added columns).
    pub fn output_schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// How this cutter cuts.
    pub fn options(&self) -> &CutOptions {
        &self.options
    }

    /// Whether each row is strictly within the radius of a contaminant (false for rows without a
    /// valid position, unless the policy makes them an error).
    pub fn near_mask(&self, batch: &RecordBatch, first_row: u64) -> Result<Vec<bool>, Error> {
        let positions = self.positions(batch, first_row)?;
        let (near, _) = self.near(&positions)?;
        let mut mask = vec![false; batch.num_rows()];
        for (&row, &n) in positions.rows.iter().zip(&near) {
            mask[row] = n;
        }
        Ok(mask)
    }

    /// Cuts one batch; `first_row` is the file row number of its first row, for error messages.
    pub fn cut(&self, batch: &RecordBatch, first_row: u64) -> Result<CutBatch, Error> {
        let rows = batch.num_rows();
        let positions = self.positions(batch, first_row)?;
        let (near, words) = self.near(&positions)?;
        let mut counts = Counts { read: rows as u64, invalid: positions.invalid.len() as u64, ..Counts::default() };
        if let (Some(words), Against::Mask { mask, .. }) = (&words, &self.against) {
            counts.layers = vec![0; mask.layers().len()];
            for &word in words {
                let mut rest = word;
                while rest != 0 {
                    counts.layers[rest.trailing_zeros() as usize] += 1;
                    rest &= rest - 1;
                }
            }
        }
        // Per row: Some(near) for a valid position, None for an invalid one.
        let mut state: Vec<Option<bool>> = vec![None; rows];
        for (&row, &n) in positions.rows.iter().zip(&near) {
            state[row] = Some(n);
            counts.removed += u64::from(n);
        }
        let (selected, others) = self.options.route(&state);
        let extended = self.add_columns(batch, &positions, &near, &state, words.as_deref())?;
        let filter = |mask: &[bool]| -> Result<RecordBatch, Error> {
            if mask.iter().all(|&m| m) {
                return Ok(extended.clone());
            }
            filter_record_batch(&extended, &BooleanArray::from(mask.to_vec()))
                .map_err(|source| self.arrow_error(source))
        };
        let kept = filter(&selected)?;
        counts.written = kept.num_rows() as u64;
        let rejected = match others {
            Some(others) => {
                let rejected = filter(&others)?;
                counts.rejected = rejected.num_rows() as u64;
                Some(rejected)
            }
            None => None,
        };
        Ok(CutBatch { kept, rejected, counts })
    }

    /// The batch with the flag and nearest columns appended, as the options ask.
    fn add_columns(
        &self,
        batch: &RecordBatch,
        positions: &Positions,
        near: &[bool],
        state: &[Option<bool>],
        words: Option<&[u64]>,
    ) -> Result<RecordBatch, Error> {
        if self.schema.fields().len() == batch.num_columns() {
            return Ok(batch.clone());
        }
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        if self.options.selection.flag_column().is_some() {
            columns.push(Arc::new(BooleanArray::from(state.to_vec())));
        }
        if let (Against::Mask { mask, how: MaskCut { bits_column: Some(_), .. } }, Some(words)) = (&self.against, words)
        {
            columns.push(bits_array(words, positions, batch.num_rows(), mask.layers().len()));
        }
        if self.options.nearest_columns {
            // Only near objects have a nearest contaminant within its radius: ask for those alone.
            let wanted: Vec<(usize, &UnitVector)> = positions
                .rows
                .iter()
                .zip(&positions.vectors)
                .zip(near)
                .filter(|(_, n)| **n)
                .map(|((&r, v), _)| (r, v))
                .collect();
            match &self.against {
                Against::Set { index, ids } => {
                    let mut nearest: Vec<Option<Nearest>> = vec![None; batch.num_rows()];
                    let found: Vec<Option<Nearest>> = wanted.par_iter().map(|(_, v)| index.nearest(v)).collect();
                    for ((row, _), n) in wanted.iter().zip(found) {
                        nearest[*row] = n;
                    }
                    let separation: Float64Array = nearest.iter().map(|n| n.map(|n| n.separation().arcsec())).collect();
                    columns.push(Arc::new(separation));
                    let which: UInt32Array = nearest.iter().map(|n| n.map(|n| n.index)).collect();
                    let identity: ArrayRef = match ids {
                        Some(ids) => take(ids.as_ref(), &which, None).map_err(|source| self.arrow_error(source))?,
                        None => Arc::new(which.iter().map(|i| i.map(i64::from)).collect::<Int64Array>()),
                    };
                    columns.push(identity);
                }
                Against::Mask { mask, how } => {
                    let mut nearest: Vec<Option<(usize, Nearest)>> = vec![None; batch.num_rows()];
                    let found: Vec<Option<(usize, Nearest)>> =
                        wanted.par_iter().map(|(_, v)| mask.nearest(v, how.cut)).collect();
                    for ((row, _), n) in wanted.iter().zip(found) {
                        nearest[*row] = n;
                    }
                    let separation: Float64Array =
                        nearest.iter().map(|n| n.map(|(_, n)| n.separation().arcsec())).collect();
                    let layer: StringArray =
                        nearest.iter().map(|n| n.map(|(layer, _)| mask.layers()[layer].name())).collect();
                    let row: Int64Array = nearest
                        .iter()
                        .map(|n| n.map(|(layer, n)| mask.layers()[layer].source_row(n.index) as i64))
                        .collect();
                    columns.extend([Arc::new(separation) as ArrayRef, Arc::new(layer), Arc::new(row)]);
                }
            }
        }
        RecordBatch::try_new(self.schema.clone(), columns).map_err(|source| self.arrow_error(source))
    }

    /// Valid positions as unit vectors with their row numbers; invalid ones settled by the policy.
    fn positions(&self, batch: &RecordBatch, first_row: u64) -> Result<Positions, Error> {
        let (ras, decs) = self.columns.read(batch, &self.path)?;
        let rows = batch.num_rows();
        let mut found = Positions {
            vectors: Vec::with_capacity(rows),
            degrees: Vec::new(),
            rows: Vec::with_capacity(rows),
            invalid: Vec::new(),
        };
        let degrees = matches!(&self.against, Against::Mask { mask, .. } if mask.has_pixel_layers());
        // A mask of pixel maps alone hashes the degrees: the vectors' trigonometry (a fifth of
        // such a run's time) is left out, unless the nearest shape is asked for.
        let vectors = match &self.against {
            Against::Set { .. } => true,
            Against::Mask { mask, .. } => mask.reads_vectors() || self.options.nearest_columns,
        };
        let value = |array: &Float64Array, i: usize| (!array.is_null(i)).then(|| array.value(i));
        for i in 0..rows {
            match checked(value(&ras, i), value(&decs, i)) {
                Ok((ra, dec)) => {
                    if vectors {
                        found.vectors.push(unit_vector(ra, dec));
                    }
                    found.rows.push(i);
                    if degrees {
                        found.degrees.push((ra, dec));
                    }
                }
                Err(invalid) if self.options.on_invalid == OnInvalid::Error => {
                    return Err(Error::InvalidObject {
                        path: self.path.clone(),
                        row: first_row + i as u64,
                        column: self.columns.name(invalid.axis()).to_string(),
                        problem: invalid.describe(),
                        option: self.options.spelling.option("on_invalid"),
                    });
                }
                Err(_) => found.invalid.push(i),
            }
        }
        Ok(found)
    }

    /// The kernel's answer for each vector, and against a mask each one's layer bits. In pieces
    /// on the pool: when the cut is CPU-bound and batches are few (a large contaminant set, a
    /// small catalogue), one batch still keeps every worker busy.
    fn near(&self, positions: &Positions) -> Result<(Vec<bool>, Option<Vec<u64>>), Error> {
        let vectors = &positions.vectors;
        let mut near = vec![false; positions.rows.len()];
        match &self.against {
            Against::Set { index, .. } => {
                vectors
                    .par_chunks(KERNEL_PIECE)
                    .zip(near.par_chunks_mut(KERNEL_PIECE))
                    .for_each(|(objects, near)| index.mark_near(objects, near));
                Ok((near, None))
            }
            Against::Mask { mask, how } => {
                let mut words = vec![0u64; positions.rows.len()];
                let degrees = (!positions.degrees.is_empty()).then_some(positions.degrees.as_slice());
                words.par_chunks_mut(KERNEL_PIECE).enumerate().try_for_each(|(piece, words)| {
                    let piece = piece * KERNEL_PIECE..piece * KERNEL_PIECE + words.len();
                    // No vectors when the mask reads none (`positions`).
                    let objects = vectors.get(piece.clone()).unwrap_or_default();
                    mask.mark_at(objects, degrees.map(|d| &d[piece]), words)
                })?;
                for (n, &word) in near.iter_mut().zip(&words) {
                    *n = word & how.cut != 0;
                }
                Ok((near, Some(words)))
            }
        }
    }

    fn arrow_error(&self, source: arrow::error::ArrowError) -> Error {
        Error::Arrow { path: self.path.clone(), source }
    }

    /// The file name used in messages.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The layer bits of a batch of `rows` rows as the column type [`MaskCut::bits_type`] gives for
/// `layers` layers: `words[k]` for the row `positions.rows[k]`, null for rows without a valid
/// position.
fn bits_array(words: &[u64], positions: &Positions, rows: usize, layers: usize) -> ArrayRef {
    fn column<T: arrow::datatypes::ArrowPrimitiveType>(
        words: &[u64],
        positions: &Positions,
        rows: usize,
        narrow: impl Fn(u64) -> T::Native,
    ) -> ArrayRef {
        // Every word fits: it holds only the bits of the mask's layers.
        let values: Vec<T::Native> = if words.len() == rows {
            words.iter().map(|&w| narrow(w)).collect()
        } else {
            let mut values = vec![T::Native::default(); rows];
            for (&row, &w) in positions.rows.iter().zip(words) {
                values[row] = narrow(w);
            }
            values
        };
        let nulls = (!positions.invalid.is_empty()).then(|| {
            let mut valid = vec![true; rows];
            positions.invalid.iter().for_each(|&row| valid[row] = false);
            NullBuffer::from(valid)
        });
        Arc::new(PrimitiveArray::<T>::new(values.into(), nulls))
    }
    use arrow::datatypes::{UInt8Type, UInt16Type, UInt32Type, UInt64Type};
    match MaskCut::bits_type(layers) {
        DataType::UInt8 => column::<UInt8Type>(words, positions, rows, |w| w as u8),
        DataType::UInt16 => column::<UInt16Type>(words, positions, rows, |w| w as u16),
        DataType::UInt32 => column::<UInt32Type>(words, positions, rows, |w| w as u32),
        _ => column::<UInt64Type>(words, positions, rows, |w| w),
    }
}

/// The valid positions of a batch and where they are.
struct Positions {
    /// The unit vector of each valid position; none when a mask of pixel maps alone is asked
    /// for no nearest shape (it hashes `degrees`).
    vectors: Vec<UnitVector>,
    /// (RA, Dec) in degrees of each vector, when a mask's pixel layers hash them.
    degrees: Vec<(f64, f64)>,
    rows: Vec<usize>,
    invalid: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KernelChoice, SearchRadius, unit_vector};

    #[test]
    fn a_cutter_adds_columns_exactly_when_its_options_say_so() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("ra", DataType::Float64, false),
            Field::new("dec", DataType::Float64, false),
        ]));
        let radius = SearchRadius::parse("1arcsec").unwrap();
        let index = ContaminantIndex::build(&[unit_vector(1.0, 2.0)], radius, KernelChoice::Auto).unwrap();
        let flags = [Selection::Far, Selection::Near, Selection::Flag("near".into())];
        for (selection, nearest_columns) in flags.into_iter().flat_map(|s| [(s.clone(), false), (s, true)]) {
            let options = CutOptions { selection, nearest_columns, ..CutOptions::default() };
            let adds = options.adds_columns(None);
            let cutter = BatchCutter::new(&schema, "in.parquet", None, None, &index, None, options.clone()).unwrap();
            let added = cutter.output_schema().fields().len() - schema.fields().len();
            assert_eq!(added > 0, adds, "{options:?}");
        }
        assert!(CutOptions::default().adds_columns(Some("bits")), "a mask's bits column");
    }
}
