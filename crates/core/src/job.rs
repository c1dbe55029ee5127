//! The whole `angcut stream` job: from file names to written outputs and a summary.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::angle::Angle;
use crate::columns::{CoordinateColumns, schema_difference};
use crate::contaminants::{ContaminantSet, OpenContaminants};
use crate::cut::MaskCut;
use crate::cut::{BatchCutter, Selection};
use crate::error::{Error, panic_message};
use crate::io::paths::CreatedDirs;
pub use crate::io::paths::FileTask;
use crate::io::read::{Catalogue, InputFormat, StoredParquet, open_catalogue, point_to_other_table};
use crate::io::write::{BatchSink, FinishedOutput, OutputSettings, RowGroupCounts, commit_all, create_sink};
use crate::kernel::KernelChoice;
use crate::kernel::{ContaminantIndex, Kernel};
use crate::mask::{Mask, MaskSpec};
use crate::pipeline::{Counts, PendingCutter, Sinks, run, run_pending};
pub use crate::plan::StreamJob;
use crate::spelling::Spelling;

/// What a finished job did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Each input's own counts, in the job's order.
    pub files: Vec<FileSummary>,
    /// The totals over all inputs.
    pub counts: Counts,
    /// How many contaminants were indexed.
    pub contaminants: usize,
    /// The kernel the index used.
    pub kernel: Kernel,
    /// The largest contaminant radius (the one radius, unless radii are per contaminant).
    pub largest_radius: Option<Angle>,
    /// Whether rejected outputs were written (`counts.rejected` rows).
    pub rejected_output: bool,
    /// Which rows the main output got: the summary line says "removed", "near" or "flagged".
    pub selection: Selection,
    /// Parquet outputs from Parquet inputs: how many of the inputs' row groups were copied as
    /// stored and how many decoded again (`None` if no output was made so).
    pub row_groups: Option<RowGroupCounts>,
    /// Against a mask: each layer's contaminants and the rows inside it, bit 0 first.
    pub layers: Vec<LayerSummary>,
    /// The whole job's wall time.
    pub seconds: f64,
}

/// One layer of a mask in a job's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSummary {
    /// The layer's name.
    pub name: String,
    /// Its contaminants (shapes) indexed.
    pub contaminants: usize,
    /// Rows of its file left out (ellipses without a size).
    pub skipped: u64,
    /// The file it was read from (`None` for a layer made in memory).
    pub file: Option<PathBuf>,
    /// The objects inside it.
    pub rows: u64,
    /// A pixel layer's map, described ([`crate::mask::PixelMap::describe`]).
    pub pixels: Option<String>,
}

/// What the job did with one input.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSummary {
    /// The input and its outputs.
    pub task: FileTask,
    /// What happened to its rows.
    pub counts: Counts,
    /// Its row groups, if its outputs were made from its stored row groups (Parquet to Parquet).
    pub row_groups: Option<RowGroupCounts>,
    /// Its wall time.
    pub seconds: f64,
}

impl Summary {
    /// The one line `angcut stream` prints on success.
    pub fn line(&self) -> String {
        let c = &self.counts;
        let rate = if self.seconds > 0.0 { c.read as f64 / self.seconds } else { 0.0 };
        let rejected = if self.rejected_output { format!(" (rejected {})", c.rejected) } else { String::new() };
        let files = if self.files.len() == 1 { String::new() } else { format!("{} files: ", self.files.len()) };
        // `counts.removed` counts the near objects: removed by the cut, kept by --invert, flagged
        // by --flag-column.
        let near = match self.selection {
            Selection::Far => "removed",
            Selection::Near => "near",
            Selection::Flag(_) => "flagged",
        };
        let against = if self.layers.is_empty() {
            format!("{} contaminants, {} kernel", self.contaminants, self.kernel)
        } else {
            let layers: Vec<String> = self
                .layers
                .iter()
                .map(|l| {
                    let skipped = if l.skipped > 0 { format!(", {} skipped", l.skipped) } else { String::new() };
                    match &l.pixels {
                        Some(map) => format!("{} {} rows ({map})", l.name, l.rows),
                        None => format!("{} {} rows ({} shapes{skipped})", l.name, l.rows, l.contaminants),
                    }
                })
                .collect();
            format!("layers: {}; {} kernel", layers.join("; "), self.kernel)
        };
        let row_groups = match &self.row_groups {
            Some(g) => {
                let reencoded = match (g.reencoded_chunks, &g.reencoded_because) {
                    (0, _) => String::new(),
                    (n, Some(why)) => format!(", {n} column chunks of them re-encoded ({why})"),
                    (n, None) => format!(", {n} column chunks of them re-encoded"),
                };
                format!("; row groups: {} copied, {} filtered{reencoded}", g.copied, g.filtered)
            }
            None => String::new(),
        };
        format!(
            "angcut: {files}read {} rows, {near} {}, invalid {}, wrote {}{rejected} in {:.3} s ({:.0} rows/s; {against}{row_groups})",
            c.read, c.removed, c.invalid, c.written, self.seconds, rate
        )
    }

    /// What the run did that its user probably did not mean: a cut that removed every row (a
    /// radius in degrees meant as arcsec covers the sky). Empty when nothing looks wrong.
    pub fn warnings(&self) -> Vec<String> {
        let c = &self.counts;
        let mut warnings = Vec::new();
        if self.selection == Selection::Far && c.read > 0 && c.removed == c.read {
            let radius = self.largest_radius.map_or(String::new(), |r| format!(" (the largest radius is {r})"));
            warnings.push(format!(
                "every one of the {} rows was near a contaminant and removed{radius}: is the radius what you meant?",
                c.read
            ));
        }
        warnings
    }
}

/// How far a job has got, told to a progress display after each batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressReport {
    /// Totals so far over all inputs.
    pub counts: Counts,
    /// The rows of all inputs, when every input's format records its row count (Parquet).
    pub rows_total: Option<u64>,
    /// The inputs' size on disk; with `rows_total`, `bytes_total * counts.read / rows_total`
    /// estimates the bytes read so far.
    pub bytes_total: u64,
    /// The input being cut (0-based) and how many there are.
    pub file: usize,
    /// How many inputs the job has.
    pub files: usize,
}

/// Told how far the job has got after each batch.
pub type Progress<'a> = dyn FnMut(&ProgressReport) + 'a;

/// Runs the job: checks every path, reads every input's schema, indexes the contaminants once,
/// streams the cut of each input, and moves the outputs into place only if all succeeded.
///
/// ```
/// use angcut::{SearchRadius, StreamOptions, stream_file};
/// # let dir = tempfile::tempdir().unwrap();
/// # let out = dir.path().join("kept.parquet");
/// let mut options = StreamOptions::new("fixtures/objects.parquet", &out, "fixtures/hip2_bright.parquet");
/// options.maxsep = Some(SearchRadius::parse("30arcmin").unwrap());
/// let summary = stream_file(&options.plan().unwrap()).unwrap();
/// assert_eq!(summary.counts.read, 20_000);
/// assert!(summary.counts.removed > 0 && summary.counts.written < 20_000);
/// ```
pub fn stream_file(job: &StreamJob) -> Result<Summary, Error> {
    stream_file_with_progress(job, None)
}

/// [`stream_file`], telling `progress` how far it has got after each batch.
pub fn stream_file_with_progress(job: &StreamJob, progress: Option<&mut Progress>) -> Result<Summary, Error> {
    stream(job, None, progress, None)
}

/// [`stream_file`] against contaminants already read and indexed, for a caller that cuts many
/// jobs with one set (a Dask worker cutting the partition files of a HATS catalogue indexes its
/// set once, not once per file). The job is planned by [`crate::StreamOptions::plan_with_given_set`]:
/// the set and its index say everything the contaminant options would.
pub fn stream_with_index(
    job: &StreamJob,
    contaminants: &ContaminantSet,
    index: &ContaminantIndex,
) -> Result<Summary, Error> {
    stream(job, Some(Given::Set(contaminants, index)), None, None)
}

/// [`stream_file`] against a mask already read and indexed, for a caller that cuts many jobs
/// with one mask (a Dask worker cutting the partition files of a HATS catalogue). The job is
/// planned by [`crate::StreamOptions::plan_with_given_mask`].
pub fn stream_with_mask(job: &StreamJob, mask: &Mask) -> Result<Summary, Error> {
    stream(job, Some(Given::Mask(mask)), None, None)
}

/// [`stream_file`] of rows made rather than read (`angcut randoms`): `source` stands for the
/// job's one input, cut against what is `given`.
pub(crate) fn stream_generated(
    job: &StreamJob,
    source: Catalogue,
    given: Given,
    progress: Option<&mut Progress>,
) -> Result<Summary, Error> {
    stream(job, Some(given), progress, Some(source))
}

/// Contaminants a caller has read and indexed already.
pub(crate) enum Given<'a> {
    Set(&'a ContaminantSet, &'a ContaminantIndex),
    Mask(&'a Mask),
}

fn stream(
    job: &StreamJob,
    given: Option<Given>,
    progress: Option<&mut Progress>,
    generated: Option<Catalogue>,
) -> Result<Summary, Error> {
    let started = Instant::now();
    let Inputs { first, columns, rows_total, bytes_total } = open_inputs(job, generated)?;
    let (mut against, mut load) = what_to_cut_against(job, given)?;
    let through = PassThrough::for_job(job);
    let loaded: OnceLock<Loaded> = OnceLock::new();
    let pending: PendingCutter = OnceLock::new();

    let mut created = CreatedDirs::default();
    let mut finished = Vec::new();
    let mut progress = progress;
    let mut files = Vec::with_capacity(job.files.len());
    let mut counts = Counts::default();
    let mut row_groups: Option<RowGroupCounts> = None;
    let mut first = Some(first);
    let result = (|| {
        for (i, task) in job.files.iter().enumerate() {
            let file_started = Instant::now();
            let mut catalogue = match first.take() {
                Some(catalogue) => catalogue,
                None => open_catalogue(&task.input, job.batch_size, job.hdu.as_ref())?,
            };
            let columns = through.apply(&mut catalogue, &columns)?;
            let mut report = |so_far: &Counts| {
                if let Some(progress) = progress.as_deref_mut() {
                    let mut total = counts.clone();
                    total.add(so_far);
                    let files = job.files.len();
                    progress(&ProgressReport { counts: total, rows_total, bytes_total, file: i, files });
                }
            };
            let (schema, path) = (catalogue.source.schema(), catalogue.source.path().to_path_buf());
            let (file_counts, file_groups) = match (&against, load.take()) {
                (Some(against), _) => {
                    let cutter = cutter(job, &schema, path, columns, against)?;
                    cut_one(job, task, catalogue, Cutting::Ready(&cutter), &mut created, &mut finished, &mut report)?
                }
                (None, Some(load)) => {
                    let (made, cut) = std::thread::scope(|scope| {
                        let making = scope.spawn(|| make_cutter(job, load, &schema, path, columns, &loaded, &pending));
                        let pending = Cutting::Pending(&pending);
                        let cut = cut_one(job, task, catalogue, pending, &mut created, &mut finished, &mut report);
                        (making.join(), cut)
                    });
                    // The contaminants' error comes first: the run's then only followed from it.
                    made.unwrap_or_else(|payload| Err(contaminants_panicked(&task.input, payload)))?;
                    cut?
                }
                (None, None) => {
                    let message = "no contaminants to cut against".to_string();
                    return Err(Error::Internal { path: task.input.clone(), message });
                }
            };
            if against.is_none() {
                against = loaded.get().map(Loaded::against);
            }
            counts.add(&file_counts);
            counts.peak_in_flight = counts.peak_in_flight.max(file_counts.peak_in_flight);
            if let Some(groups) = &file_groups {
                row_groups.get_or_insert_with(RowGroupCounts::default).add(groups);
            }
            files.push(FileSummary {
                task: task.clone(),
                counts: file_counts,
                row_groups: file_groups,
                seconds: file_started.elapsed().as_secs_f64(),
            });
        }
        commit_all(std::mem::take(&mut finished))
    })();
    if let Err(error) = result {
        drop(finished); // deletes the finished outputs' temporary files
        created.remove_if_empty();
        return Err(error);
    }
    let Some(against) = against else {
        return Err(Error::Internal { path: PathBuf::from("-"), message: "nothing was cut against".into() });
    };
    let layers = layer_summaries(&against, &counts);
    let index = match &against {
        Against::Set(_, index) => *index,
        Against::Mask(mask, _) => mask.index(),
    };
    Ok(Summary {
        files,
        counts,
        contaminants: index.len(),
        kernel: index.kernel(),
        largest_radius: index.largest_radius(),
        layers,
        rejected_output: job.cut.rejected,
        selection: job.cut.selection.clone(),
        row_groups,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Every input of a job opened (its footer read) before the contaminants and before any output
/// exists, so that a wrong input file, or one whose columns differ from the first's, is reported
/// first and leaves nothing behind: the first, still open, and what the others add up to.
struct Inputs {
    first: Catalogue,
    /// The first input's coordinate columns, which every input has alike.
    columns: CoordinateColumns,
    /// The rows of all inputs, if every format records them.
    rows_total: Option<u64>,
    bytes_total: u64,
}

fn open_inputs(job: &StreamJob, mut generated: Option<Catalogue>) -> Result<Inputs, Error> {
    let mut first: Option<(Catalogue, PathBuf, CoordinateColumns)> = None;
    let mut rows_total = Some(0u64);
    let mut bytes_total = 0u64;
    for task in &job.files {
        let catalogue = match generated.take() {
            Some(catalogue) => catalogue,
            None => open_catalogue(&task.input, job.batch_size, job.hdu.as_ref())?,
        };
        let schema = catalogue.source.schema();
        let name = catalogue.source.path().to_path_buf();
        rows_total = rows_total.zip(catalogue.rows).map(|(a, b)| a + b);
        bytes_total += std::fs::metadata(&task.input).map_or(0, |m| m.len());
        match &first {
            None => {
                // Found once: every other input must have the same columns.
                let axes = (job.ra.as_deref(), job.dec.as_deref());
                let o = |field| job.spelling().option(field);
                let (ra, dec, hdu) = (o("ra"), o("dec"), o("hdu"));
                let found = CoordinateColumns::resolve(&schema, &name, axes.0, axes.1, (&ra, &dec));
                let point = |e| point_to_other_table(e, catalogue.source.as_ref(), axes, (&ra, &dec), &hdu);
                let columns = found.map_err(point)?;
                first = Some((catalogue, name, columns));
            }
            Some((first, first_name, _)) => {
                if let Some(difference) = schema_difference(&first.source.schema(), &schema) {
                    return Err(Error::SchemaChange { path: name, first: first_name.clone(), difference });
                }
            }
        }
        // Only the first stays open (it may be stdin): thousands of inputs must not hold
        // thousands of open files.
    }
    // A plan has at least one input; a job built by hand might not.
    let Some((first, _, columns)) = first else { return Err(Error::Usage("no input given".into())) };
    Ok(Inputs { first, columns, rows_total, bytes_total })
}

/// What the job cuts against: what a caller gave, at hand; or what the job reads itself (all but
/// the checks of its file and columns, done here), to be read and indexed on a thread of its own
/// while the first input's first batches are read.
fn what_to_cut_against<'a>(
    job: &'a StreamJob,
    given: Option<Given<'a>>,
) -> Result<(Option<Against<'a>>, Option<Load<'a>>), Error> {
    Ok(match (given, &job.contaminants, &job.masks) {
        (Some(Given::Set(set, index)), None, None) => (Some(Against::Set(set, index)), None),
        (Some(Given::Mask(mask)), None, Some((None, how))) => (Some(Against::Mask(mask, how)), None),
        (None, Some(spec), None) => (None, Some(Load::Set(ContaminantSet::open(spec)?))),
        (None, None, Some((Some(spec), how))) => (None, Some(Load::Mask(spec, how))),
        (given, ..) => {
            let planned = match (&job.contaminants, &job.masks) {
                (Some(_), _) | (_, Some((Some(_), _))) => "reads its own contaminants",
                (None, Some((None, _))) => "was planned for a given mask (plan_with_given_mask)",
                (None, None) => "was planned for a given contaminant set (plan_with_given_set)",
            };
            let got = match given {
                Some(Given::Set(..)) => "a contaminant set was given",
                Some(Given::Mask(_)) => "a mask was given",
                None => "none was given",
            };
            return Err(Error::Usage(format!("this job {planned}, but {got}")));
        }
    })
}

/// Which inputs decode only their coordinates and have the rest copied as stored (see
/// `BatchSource::pass_rows_through`): a FITS input whose every output is FITS and gets no added
/// column (its rows are copied), and a Parquet input whose every output is Parquet and may copy
/// its row groups.
struct PassThrough {
    fits: bool,
    parquet: bool,
    spelling: Spelling,
}

impl PassThrough {
    fn for_job(job: &StreamJob) -> PassThrough {
        let bits = job.masks.as_ref().and_then(|(_, how)| how.bits_column.as_deref());
        let every_output = |wanted: &dyn Fn(&OutputSettings) -> bool| {
            job.files.iter().all(|task| {
                let mut outputs = std::iter::once(&task.output).chain(task.rejected.as_ref());
                outputs.all(|path| job.outputs.resolve(path).is_ok_and(|settings| wanted(&settings)))
            })
        };
        PassThrough {
            fits: every_output(&|s| matches!(s, OutputSettings::Fits)) && !job.cut.adds_columns(bits),
            parquet: every_output(&|s| matches!(s, OutputSettings::Parquet(o) if o.copy_stored)),
            spelling: job.spelling(),
        }
    }

    /// Passes `catalogue`'s rows through if its format and the outputs allow; returns its
    /// coordinate columns (`columns`, found again in the new schema if it changed).
    fn apply(&self, catalogue: &mut Catalogue, columns: &CoordinateColumns) -> Result<CoordinateColumns, Error> {
        let wanted = match catalogue.format {
            InputFormat::Fits => self.fits,
            InputFormat::Parquet => self.parquet,
            _ => false,
        };
        let passed = wanted.then(|| catalogue.source.pass_rows_through(&[columns.ra, columns.dec])).flatten();
        match passed {
            Some(schema) => {
                let names = (Some(columns.ra_name.as_str()), Some(columns.dec_name.as_str()));
                let (ra, dec) = (self.spelling.option("ra"), self.spelling.option("dec"));
                CoordinateColumns::resolve(&schema, catalogue.source.path(), names.0, names.1, (&ra, &dec))
            }
            None => Ok(columns.clone()),
        }
    }
}

/// Each layer of a mask, with the objects found inside it; none against a contaminant set.
fn layer_summaries(against: &Against, counts: &Counts) -> Vec<LayerSummary> {
    let Against::Mask(mask, _) = against else { return Vec::new() };
    mask.layers()
        .iter()
        .enumerate()
        .map(|(bit, layer)| LayerSummary {
            name: layer.name().to_string(),
            contaminants: layer.contaminants().positions.len(),
            skipped: layer.contaminants().skipped,
            file: layer.file().map(Path::to_path_buf),
            rows: counts.layers.get(bit).copied().unwrap_or(0),
            pixels: layer.pixels().map(|map| map.describe()),
        })
        .collect()
}

/// What a job cuts against: one contaminant set with its index, or a mask's layers.
enum Against<'a> {
    Set(&'a ContaminantSet, &'a ContaminantIndex),
    Mask(&'a Mask, &'a MaskCut),
}

/// What a job reads itself, not read yet: its contaminant file (opened, its columns found), or
/// its mask file's layers.
enum Load<'j> {
    Set(OpenContaminants<'j>),
    Mask(&'j MaskSpec, &'j MaskCut),
}

/// What a job read itself, indexed.
enum Loaded<'j> {
    Set(ContaminantSet, ContaminantIndex),
    Mask(Mask, &'j MaskCut),
}

impl<'j> Load<'j> {
    fn run(self, kernel: KernelChoice) -> Result<Loaded<'j>, Error> {
        Ok(match self {
            Load::Set(open) => {
                let set = open.read()?;
                let index = set.index(kernel)?;
                Loaded::Set(set, index)
            }
            Load::Mask(spec, how) => Loaded::Mask(Mask::read(spec, kernel)?, how),
        })
    }
}

impl Loaded<'_> {
    fn against(&self) -> Against<'_> {
        match self {
            Loaded::Set(set, index) => Against::Set(set, index),
            Loaded::Mask(mask, how) => Against::Mask(mask, how),
        }
    }
}

/// Reads and indexes what `load` names into `loaded`, and makes the cutter of the input `path`
/// (of `schema`) against it into `pending`, set whatever happens (to `None` if anything failed,
/// with the error returned): the pipeline's workers wait for it.
fn make_cutter<'j: 'l, 'l>(
    job: &StreamJob,
    load: Load<'j>,
    schema: &SchemaRef,
    path: PathBuf,
    columns: CoordinateColumns,
    loaded: &'l OnceLock<Loaded<'j>>,
    pending: &PendingCutter<'l>,
) -> Result<(), Error> {
    let name = path.clone();
    let made = catch_unwind(AssertUnwindSafe(|| {
        // Its parallel work (sorting, indexing) on a pool of its own, of the job's size: on
        // rayon's global pool, jobs run from that pool's threads (a library user's `par_iter` of
        // jobs) would wait for ever for it, each of its threads waiting for its own cutter.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(job.pipeline.threads.max(1))
            .thread_name(|i| format!("angcut-load-{i}"))
            .build()
            .map_err(|e| Error::Internal { path: name.clone(), message: format!("cannot start threads: {e}") })?;
        let read = pool.install(|| load.run(job.kernel))?;
        cutter(job, schema, path, columns, &loaded.get_or_init(|| read).against())
    }))
    .unwrap_or_else(|payload| Err(contaminants_panicked(&name, payload)));
    match made {
        Ok(cutter) => {
            let message = "the cutter was made twice".to_string();
            pending.set(Some(cutter)).map_err(|_| Error::Internal { path: name, message })
        }
        Err(error) => {
            let _ = pending.set(None);
            Err(error)
        }
    }
}

fn contaminants_panicked(path: &Path, payload: Box<dyn std::any::Any + Send>) -> Error {
    let message = format!("reading the contaminants panicked: {}", panic_message(&*payload));
    Error::Internal { path: path.to_path_buf(), message }
}

/// The cutter of one input: at hand, or still being made while its first batches are read.
#[derive(Clone, Copy)]
enum Cutting<'c, 'l> {
    Ready(&'c BatchCutter<'l>),
    Pending(&'c PendingCutter<'l>),
}

/// The cutter for one input, its coordinate columns found already.
fn cutter<'a>(
    job: &StreamJob,
    schema: &SchemaRef,
    path: PathBuf,
    columns: CoordinateColumns,
    against: &Against<'a>,
) -> Result<BatchCutter<'a>, Error> {
    match *against {
        Against::Set(contaminants, index) => {
            let ids = match (&contaminants.ids, job.contaminants.as_ref().and_then(|c| c.id_column.as_ref())) {
                (Some(ids), Some(name)) => Some((ids, name.as_str())),
                _ => None,
            };
            BatchCutter::with_columns(schema, path, columns, index, ids, job.cut.clone())
        }
        Against::Mask(mask, how) => BatchCutter::with_mask(schema, path, columns, mask, how.clone(), job.cut.clone()),
    }
}

/// Cuts one input into its outputs, which are finished (complete, durable) but not yet in place;
/// returns what became of its rows, and of its row groups if its outputs copied them.
fn cut_one<'c>(
    job: &StreamJob,
    task: &FileTask,
    mut catalogue: Catalogue,
    cutter: Cutting<'c, '_>,
    created: &mut CreatedDirs,
    finished: &mut Vec<FinishedOutput>,
    report: &mut dyn FnMut(&Counts),
) -> Result<(Counts, Option<RowGroupCounts>), Error> {
    // A Parquet input passed through: its outputs copy the row groups they get whole.
    let stored = catalogue.source.stored_parquet();
    let mut open = |path: &Path| -> Result<Box<dyn BatchSink + 'c>, Error> {
        if job.create_dirs
            && let Some(parent) = path.parent()
        {
            created.create(parent)?;
        }
        let settings = job.outputs.resolve(path)?;
        let stored = stored.clone();
        match cutter {
            Cutting::Ready(cutter) => create_sink(path, &settings, cutter.output_schema(), stored.as_ref()),
            Cutting::Pending(cutter) => {
                Ok(Box::new(OpenLater { path: path.to_path_buf(), settings, cutter, stored, sink: None }))
            }
        }
    };
    let mut sink = open(&task.output)?;
    let mut rejected = match &task.rejected {
        Some(path) => Some(open(path)?),
        None => None,
    };
    let sinks = Sinks {
        kept: sink.as_mut(),
        rejected: rejected.as_deref_mut().map(|s| s as &mut dyn BatchSink),
        progress: Some(report),
    };
    let counts = match cutter {
        Cutting::Ready(cutter) => run(catalogue.source.as_mut(), cutter, &job.pipeline, sinks)?,
        Cutting::Pending(cutter) => run_pending(catalogue.source.as_mut(), cutter, &job.pipeline, sinks)?,
    };
    let mut outputs = vec![sink.finish()?];
    if let Some(rejected) = rejected {
        outputs.push(rejected.finish()?);
    }
    let mut row_groups: Option<RowGroupCounts> = None;
    for output in outputs.iter().filter_map(FinishedOutput::row_groups) {
        row_groups.get_or_insert_with(RowGroupCounts::default).add(output);
    }
    finished.extend(outputs);
    Ok((counts, row_groups))
}

/// An output created at its first batch, or at its end if it gets none: its schema is that of a
/// cutter still being made when the run starts (its settings are checked before).
struct OpenLater<'c, 'l> {
    path: PathBuf,
    settings: OutputSettings,
    cutter: &'c PendingCutter<'l>,
    stored: Option<Arc<StoredParquet>>,
    sink: Option<Box<dyn BatchSink>>,
}

impl OpenLater<'_, '_> {
    /// The sink, taken out: the one opened for an earlier batch, or one opened now.
    fn take(&mut self) -> Result<Box<dyn BatchSink>, Error> {
        if let Some(sink) = self.sink.take() {
            return Ok(sink);
        }
        let Some(cutter) = self.cutter.wait() else {
            // The contaminants failed; the job reports why.
            return Err(Error::Internal { path: self.path.clone(), message: "no cutter was made".into() });
        };
        create_sink(&self.path, &self.settings, cutter.output_schema(), self.stored.as_ref())
    }
}

impl BatchSink for OpenLater<'_, '_> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        let sink = self.take()?;
        self.sink.insert(sink).write(batch)
    }

    fn finish(mut self: Box<Self>) -> Result<FinishedOutput, Error> {
        self.take()?.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelChoice;
    use crate::plan::StreamOptions;
    use crate::sky::SearchRadius;
    use arrow::array::RecordBatch;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::path::PathBuf;

    fn rows(path: &Path) -> Vec<RecordBatch> {
        let file = std::fs::File::open(path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        reader.collect::<Result<_, _>>().unwrap()
    }

    fn options(out: &Path, contaminants: Option<&str>) -> StreamOptions {
        let mut options = StreamOptions::new("fixtures/objects.parquet", out, "");
        options.contaminants = contaminants.map(PathBuf::from);
        options.maxsep = contaminants.map(|_| SearchRadius::parse("30arcmin").unwrap());
        options
    }

    #[test]
    fn a_given_mask_cuts_as_the_file_it_was_read_from() {
        let dir = tempfile::tempdir().unwrap();
        let (read_out, given_out) = (dir.path().join("read.parquet"), dir.path().join("given.parquet"));
        let mask_options = |out: &Path| {
            let mut o = options(out, None);
            o.mask_bits = Some("bits".into());
            o.cut_layers = vec!["galaxy".into()];
            o
        };
        let mut read_options = mask_options(&read_out);
        read_options.masks = Some("fixtures/masks.toml".into());
        let job = read_options.plan().unwrap();
        let read = stream_file(&job).unwrap();

        let mask = Mask::read(job.mask_file().unwrap(), KernelChoice::KdTree).unwrap();
        let given_job = mask_options(&given_out).plan_with_given_mask(&mask).unwrap();
        let given = stream_with_mask(&given_job, &mask).unwrap();

        assert!(read.counts.removed > 0 && read.counts.layers.iter().all(|&n| n > 0), "{:?}", read.counts);
        assert_eq!((&given.counts, &given.layers), (&read.counts, &read.layers));
        assert_eq!(given.kernel, Kernel::KdTree);
        assert_eq!(rows(&given_out), rows(&read_out));
        // The file's options are the mask's own; a job and what it is given must match.
        read_options.paths[1] = given_out.clone();
        assert!(read_options.plan_with_given_mask(&mask).unwrap_err().to_string().contains("drop masks"));
        let mut unknown = mask_options(&given_out);
        unknown.cut_layers = vec!["stars".into()];
        let error = unknown.plan_with_given_mask(&mask).unwrap_err().to_string();
        assert!(
            error.contains("'stars', which is not a layer of the mask (its layers: star, galaxy, region)"),
            "{error}"
        );
        assert!(stream_with_mask(&job, &mask).unwrap_err().is_usage());
        assert!(stream_file(&given_job).unwrap_err().is_usage());
    }

    #[test]
    fn a_given_index_cuts_as_the_file_it_was_read_from() {
        let dir = tempfile::tempdir().unwrap();
        let (read_out, given_out) = (dir.path().join("read.parquet"), dir.path().join("given.parquet"));
        let job = options(&read_out, Some("fixtures/hip2_bright.parquet")).plan().unwrap();
        let read = stream_file(&job).unwrap();

        let set = ContaminantSet::read(job.contaminants().unwrap()).unwrap();
        let index = set.index(KernelChoice::Naive).unwrap();
        let given_job = options(&given_out, None).plan_with_given_set().unwrap();
        let given = stream_with_index(&given_job, &set, &index).unwrap();

        assert!(read.counts.removed > 0);
        assert_eq!((given.counts, given.contaminants, given.kernel), (read.counts, read.contaminants, Kernel::Naive));
        assert_eq!(rows(&given_out), rows(&read_out));
        // A job that reads its own contaminants refuses a given set, and the other way round.
        assert!(stream_with_index(&job, &set, &index).unwrap_err().is_usage());
        assert!(stream_file(&given_job).unwrap_err().is_usage());
    }

    #[test]
    fn a_cut_that_removes_every_row_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.parquet");
        let mut o = options(&out, Some("fixtures/hip2_bright.parquet"));
        let run = |o: &StreamOptions| stream_file(&o.plan().unwrap()).unwrap();
        assert_eq!(run(&o).warnings(), Vec::<String>::new(), "30arcmin keeps most rows");
        o.maxsep = Some(SearchRadius::parse("30deg").unwrap());
        let everything = run(&o);
        assert_eq!(everything.counts.written, 0);
        assert_eq!(
            everything.warnings(),
            [
                "every one of the 20000 rows was near a contaminant and removed (the largest radius is 30deg): is the radius what you meant?"
            ]
        );
        // Inverted, the same radius writes every row: nothing to warn of.
        o.invert = true;
        assert_eq!(run(&o).warnings(), Vec::<String>::new());
    }

    #[test]
    fn contaminants_read_beside_the_first_batches_report_their_own_error_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let stars = dir.path().join("stars.csv");
        std::fs::write(&stars, "ra,dec\n10,20\n30,95\n").unwrap();
        let out = dir.path().join("out.parquet");
        let error = stream_file(&options(&out, stars.to_str()).plan().unwrap()).unwrap_err();
        assert!(matches!(&error, Error::InvalidContaminant { column, .. } if column == "dec"), "{error}");
        assert!(error.to_string().contains("stars.csv"), "{error}");
        // Neither the output nor a temporary file of it is left.
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["stars.csv"]);
    }

    #[test]
    fn jobs_on_every_thread_of_the_global_pool_at_once_finish() {
        // Each job reads its contaminants beside its first batches, while every thread of the
        // global pool is busy with a job: that reading must not wait for the global pool.
        let dir = tempfile::tempdir().unwrap();
        let (done, finished) = std::sync::mpsc::channel();
        let dir_path = dir.path().to_path_buf();
        std::thread::spawn(move || {
            use rayon::prelude::*;
            let jobs = rayon::current_num_threads().max(2);
            let removed: Vec<u64> = (0..jobs)
                .into_par_iter()
                .map(|i| {
                    let out = dir_path.join(format!("out{i}.parquet"));
                    let job = options(&out, Some("fixtures/hip2_bright.parquet")).plan().unwrap();
                    stream_file(&job).unwrap().counts.removed
                })
                .collect();
            let _ = done.send(removed);
        });
        let removed = finished.recv_timeout(std::time::Duration::from_secs(120)).expect("the jobs never finished");
        assert!(removed[0] > 0);
        assert!(removed.iter().all(|&n| n == removed[0]), "{removed:?}");
    }

    #[test]
    fn an_empty_input_is_written_with_the_columns_the_cut_adds() {
        let dir = tempfile::tempdir().unwrap();
        let (empty, out) = (dir.path().join("empty.parquet"), dir.path().join("out.parquet"));
        let schema = rows(Path::new("fixtures/objects.parquet"))[0].schema();
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&empty).unwrap(), schema.clone(), None)
            .unwrap()
            .close()
            .unwrap();
        let mut o = options(&out, Some("fixtures/hip2_bright.parquet"));
        o.paths[0] = empty;
        o.flag_column = Some("near_star".into());
        let summary = stream_file(&o.plan().unwrap()).unwrap();
        assert_eq!((summary.counts.read, summary.contaminants), (0, 13_940));
        let file = std::fs::File::open(&out).unwrap();
        let written = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let names: Vec<_> = written.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names.len(), schema.fields().len() + 1);
        assert_eq!(names.last().map(String::as_str), Some("near_star"));
        assert_eq!(written.metadata().file_metadata().num_rows(), 0);
    }

    #[test]
    fn a_job_for_a_given_set_still_refuses_to_overwrite_the_input() {
        let error = options(Path::new("fixtures/objects.parquet"), None).plan_with_given_set().unwrap_err();
        assert!(matches!(error, Error::Usage(_)), "{error}");
        assert!(error.to_string().contains("same file as input"), "{error}");
    }
}
