//! The whole `angcut stream` job: from file names to written outputs and a summary.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::angle::Angle;
use crate::catalog::{CoordinateColumns, schema_difference};
use crate::contaminants::{ContaminantSet, ContaminantSpec};
use crate::cut::{BatchCutter, CutOptions};
use crate::error::Error;
use crate::file_plan::CreatedDirs;
pub use crate::file_plan::FileTask;
use crate::input::{Catalogue, STDIO, open_catalogue};
use crate::kernel::{ContaminantIndex, Kernel, KernelChoice};
use crate::output::{
    BatchSink, FinishedOutput, InputIdentities, OutputFormat, ParquetOutputOptions, check_output_path, commit_all,
    create_sink, same_destination,
};
use crate::pipeline::{Counts, PipelineOptions, Sinks, run};

/// Rows per batch unless told otherwise (README, "Performance", says how it was chosen).
pub const DEFAULT_BATCH_SIZE: usize = 65_536;

/// Everything `angcut stream` needs to know.
#[derive(Debug, Clone)]
pub struct StreamJob {
    /// The inputs and where their rows go, cut one after the other against one contaminant index.
    pub files: Vec<FileTask>,
    /// Create the outputs' missing parent directories (what `--out-dir` does); without it a
    /// missing directory is an error. Directories created by a failed run are removed again.
    pub create_dirs: bool,
    /// The contaminant file, its columns, and the radius rule.
    pub contaminants: ContaminantSpec,
    /// Object coordinate columns; `None` finds them by their usual names.
    pub ra: Option<String>,
    pub dec: Option<String>,
    pub kernel: KernelChoice,
    pub batch_size: usize,
    pub pipeline: PipelineOptions,
    /// Which rows go to the outputs, and what columns are added. `cut.rejected` must be set
    /// exactly when the files have rejected outputs.
    pub cut: CutOptions,
    pub output_options: ParquetOutputOptions,
    /// The output format; `None` takes it from each output's name ([`OutputFormat::for_path`]).
    pub output_format: Option<OutputFormat>,
}

impl StreamJob {
    /// A job for one input, with every option at its default.
    pub fn new(
        input: impl Into<PathBuf>,
        output: impl Into<PathBuf>,
        contaminants: impl Into<PathBuf>,
        maxsep: Angle,
    ) -> StreamJob {
        StreamJob::for_files(vec![FileTask::new(input, output)], contaminants, maxsep)
    }

    /// A job for several inputs (see [`crate::file_plan::plan_out_dir`]), every option at its default.
    pub fn for_files(files: Vec<FileTask>, contaminants: impl Into<PathBuf>, maxsep: Angle) -> StreamJob {
        StreamJob {
            files,
            create_dirs: false,
            contaminants: ContaminantSpec::uniform(contaminants, maxsep),
            ra: None,
            dec: None,
            kernel: KernelChoice::Auto,
            batch_size: DEFAULT_BATCH_SIZE,
            pipeline: PipelineOptions::default(),
            cut: CutOptions::default(),
            output_options: ParquetOutputOptions::default(),
            output_format: None,
        }
    }
}

/// What a finished job did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Each input's own counts, in the job's order.
    pub files: Vec<FileSummary>,
    /// The totals over all inputs.
    pub counts: Counts,
    pub contaminants: usize,
    pub kernel: Kernel,
    /// The largest contaminant radius (the one radius, unless radii are per contaminant).
    pub largest_radius: Option<Angle>,
    /// Whether rejected outputs were written (`counts.rejected` rows).
    pub rejected_output: bool,
    pub seconds: f64,
}

/// What the job did with one input.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSummary {
    pub task: FileTask,
    pub counts: Counts,
    pub seconds: f64,
}

impl Summary {
    /// The one line `angcut stream` prints on success.
    pub fn line(&self) -> String {
        let c = &self.counts;
        let rate = if self.seconds > 0.0 { c.read as f64 / self.seconds } else { 0.0 };
        let rejected = if self.rejected_output { format!(" (rejected {})", c.rejected) } else { String::new() };
        let files = if self.files.len() == 1 { String::new() } else { format!("{} files: ", self.files.len()) };
        format!(
            "angcut: {files}read {} rows, removed {}, invalid {}, wrote {}{rejected} in {:.3} s ({:.0} rows/s; {} contaminants, {} kernel)",
            c.read, c.removed, c.invalid, c.written, self.seconds, rate, self.contaminants, self.kernel
        )
    }
}

/// How far a job has got, told to a progress display after each batch.
#[derive(Debug, Clone, Copy, PartialEq)]
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
    pub files: usize,
}

/// Told how far the job has got after each batch.
pub type Progress<'a> = dyn FnMut(&ProgressReport) + 'a;

/// Runs the job: checks every path, reads every input's schema, indexes the contaminants once,
/// streams the cut of each input, and moves the outputs into place only if all succeeded.
///
/// ```
/// use angcut::{Angle, StreamJob, stream_file};
/// # let dir = tempfile::tempdir().unwrap();
/// # let out = dir.path().join("kept.parquet");
/// let maxsep = Angle::parse_maxsep("30arcmin").unwrap();
/// let job = StreamJob::new("fixtures/objects.parquet", &out, "fixtures/hip2_bright.parquet", maxsep);
/// let summary = stream_file(&job).unwrap();
/// assert_eq!(summary.counts.read, 20_000);
/// assert!(summary.counts.removed > 0 && summary.counts.written < 20_000);
/// ```
pub fn stream_file(job: &StreamJob) -> Result<Summary, Error> {
    stream_file_with_progress(job, None)
}

/// [`stream_file`], telling `progress` how far it has got after each batch.
pub fn stream_file_with_progress(job: &StreamJob, progress: Option<&mut Progress>) -> Result<Summary, Error> {
    stream(job, None, progress)
}

/// [`stream_file`] against contaminants already read and indexed, for a caller that cuts many
/// jobs with one set (a Dask worker cutting the partition files of a HATS catalogue indexes its
/// set once, not once per file). `job.contaminants` and `job.kernel` are not used: the set and
/// its index say everything they would.
pub fn stream_with_index(
    job: &StreamJob,
    contaminants: &ContaminantSet,
    index: &ContaminantIndex,
) -> Result<Summary, Error> {
    stream(job, Some((contaminants, index)), None)
}

fn stream(
    job: &StreamJob,
    given: Option<(&ContaminantSet, &ContaminantIndex)>,
    progress: Option<&mut Progress>,
) -> Result<Summary, Error> {
    let started = Instant::now();
    check_paths(job, given.is_none())?;
    // Every input is opened (its footer read) before the contaminants, and before any output
    // is created: a wrong input file, or one whose schema differs from the first's, is reported
    // first and leaves nothing behind.
    let mut first = None;
    let mut rows_total = Some(0u64);
    let mut bytes_total = 0u64;
    for task in &job.files {
        let catalogue = open_catalogue(&task.input, job.batch_size, false)?;
        let schema = catalogue.source.schema();
        let name = catalogue.source.path().to_path_buf();
        CoordinateColumns::resolve(&schema, &name, job.ra.as_deref(), job.dec.as_deref(), ("--ra", "--dec"))?;
        rows_total = rows_total.zip(catalogue.rows).map(|(a, b)| a + b);
        bytes_total += std::fs::metadata(&task.input).map_or(0, |m| m.len());
        match &first {
            None => first = Some((catalogue, name)),
            Some((first, first_name)) => {
                if let Some(difference) = schema_difference(&first.source.schema(), &schema) {
                    return Err(Error::SchemaChange { path: name, first: first_name.clone(), difference });
                }
            }
        }
        // Only the first stays open (it may be stdin): thousands of inputs must not hold
        // thousands of open files.
    }
    let read;
    let (contaminants, index) = match given {
        Some(given) => given,
        None => {
            let set = ContaminantSet::read(&job.contaminants)?;
            let index = set.index(job.kernel)?;
            read = (set, index);
            (&read.0, &read.1)
        }
    };

    let mut created = CreatedDirs::default();
    let mut finished = Vec::new();
    let mut progress = progress;
    let mut files = Vec::with_capacity(job.files.len());
    let mut counts = Counts::default();
    let mut first = first.map(|(catalogue, _)| catalogue);
    let result = (|| {
        for (i, task) in job.files.iter().enumerate() {
            let file_started = Instant::now();
            let catalogue = match first.take() {
                Some(catalogue) => catalogue,
                None => open_catalogue(&task.input, job.batch_size, false)?,
            };
            let mut report = |so_far: &Counts| {
                if let Some(progress) = progress.as_deref_mut() {
                    let mut total = counts;
                    total.add(so_far);
                    let files = job.files.len();
                    progress(&ProgressReport { counts: total, rows_total, bytes_total, file: i, files });
                }
            };
            let file_counts =
                cut_one(job, task, catalogue, contaminants, index, &mut created, &mut finished, &mut report)?;
            counts.add(&file_counts);
            counts.peak_in_flight = counts.peak_in_flight.max(file_counts.peak_in_flight);
            files.push(FileSummary {
                task: task.clone(),
                counts: file_counts,
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
    Ok(Summary {
        files,
        counts,
        contaminants: index.len(),
        kernel: index.kernel(),
        largest_radius: contaminants.largest_radius(),
        rejected_output: job.cut.rejected,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Refuses, before anything is read, a job that would overwrite an input, write one file twice,
/// or read stdin twice. The contaminant file counts only if the job reads it.
fn check_paths(job: &StreamJob, reads_contaminants: bool) -> Result<(), Error> {
    if job.batch_size == 0 {
        return Err(Error::Usage("batch size must be at least 1".into()));
    }
    if job.files.is_empty() {
        return Err(Error::Usage("no input given".into()));
    }
    let stdio = |p: &Path| p.as_os_str() == STDIO;
    if job.files.iter().any(|t| stdio(&t.input)) {
        if job.files.len() > 1 {
            return Err(Error::Usage("stdin ('-') cannot be one of several inputs".into()));
        }
        if reads_contaminants && stdio(&job.contaminants.path) {
            return Err(Error::Usage("IN and the contaminants cannot both be read from stdin ('-')".into()));
        }
    }
    if job.files.iter().any(|t| t.rejected.is_some() != job.cut.rejected) {
        return Err(Error::Usage("cut.rejected must be set exactly when the files have rejected outputs".into()));
    }
    if job.files.len() > 1 && job.files.iter().any(|t| stdio(&t.output)) {
        return Err(Error::Usage("several inputs cannot all be written to stdout ('-')".into()));
    }
    let contaminant_file = reads_contaminants.then_some(job.contaminants.path.as_path());
    let inputs = InputIdentities::of(job.files.iter().map(|t| t.input.as_path()).chain(contaminant_file));
    for task in &job.files {
        let outputs = std::iter::once(&task.output).chain(&task.rejected);
        for output in outputs.filter(|o| !stdio(o)) {
            check_output_path(output, &inputs, job.create_dirs)?;
        }
        if let Some(rejected) = &task.rejected
            && same_destination(rejected, &task.output)
        {
            return Err(Error::Usage(format!(
                "the rejected output {} is the same file as OUT; give it another name",
                rejected.display()
            )));
        }
    }
    Ok(())
}

/// Cuts one input into its outputs, which are finished (complete, durable) but not yet in place.
#[allow(clippy::too_many_arguments)]
fn cut_one(
    job: &StreamJob,
    task: &FileTask,
    mut catalogue: Catalogue,
    contaminants: &ContaminantSet,
    index: &ContaminantIndex,
    created: &mut CreatedDirs,
    finished: &mut Vec<FinishedOutput>,
    report: &mut dyn FnMut(&Counts),
) -> Result<Counts, Error> {
    let input_schema = catalogue.source.schema();
    let input_name = catalogue.source.path().to_path_buf();
    let ids = match (&contaminants.ids, &job.contaminants.id_column) {
        (Some(ids), Some(name)) => Some((ids, name.as_str())),
        _ => None,
    };
    let cutter = BatchCutter::new(
        &input_schema,
        &input_name,
        job.ra.as_deref(),
        job.dec.as_deref(),
        index,
        ids,
        job.cut.clone(),
    )?;
    let schema = cutter.output_schema();
    let mut open = |path: &Path, format: OutputFormat| -> Result<Box<dyn BatchSink>, Error> {
        if job.create_dirs
            && let Some(parent) = path.parent()
        {
            created.create(parent)?;
        }
        create_sink(path, format, schema.clone(), &job.output_options)
    };
    let mut sink = open(&task.output, job.output_format.unwrap_or_else(|| OutputFormat::for_path(&task.output)))?;
    let mut rejected = match &task.rejected {
        Some(path) => Some(open(path, OutputFormat::for_path(path))?),
        None => None,
    };
    let sinks = Sinks {
        kept: sink.as_mut(),
        rejected: rejected.as_deref_mut().map(|s| s as &mut dyn BatchSink),
        progress: Some(report),
    };
    let counts = run(catalogue.source.as_mut(), &cutter, &job.pipeline, sinks)?;
    finished.push(sink.finish()?);
    if let Some(rejected) = rejected {
        finished.push(rejected.finish()?);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contaminants::Radii;
    use arrow::array::RecordBatch;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn rows(path: &Path) -> Vec<RecordBatch> {
        let file = std::fs::File::open(path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        reader.collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn a_given_index_cuts_as_the_file_it_was_read_from() {
        let dir = tempfile::tempdir().unwrap();
        let maxsep = Angle::parse_maxsep("30arcmin").unwrap();
        let (read_out, given_out) = (dir.path().join("read.parquet"), dir.path().join("given.parquet"));
        let job = StreamJob::new("fixtures/objects.parquet", &read_out, "fixtures/hip2_bright.parquet", maxsep);
        let read = stream_file(&job).unwrap();

        let set = ContaminantSet::read(&job.contaminants).unwrap();
        let index = set.index(KernelChoice::Naive).unwrap();
        // The job's contaminant file is not read (it does not exist), nor its kernel used.
        let mut given_job = StreamJob::new("fixtures/objects.parquet", &given_out, "no/such/stars.parquet", maxsep);
        given_job.kernel = KernelChoice::Grid;
        let given = stream_with_index(&given_job, &set, &index).unwrap();

        assert!(read.counts.removed > 0);
        assert_eq!((given.counts, given.contaminants, given.kernel), (read.counts, read.contaminants, Kernel::Naive));
        assert_eq!(rows(&given_out), rows(&read_out));
    }

    #[test]
    fn a_given_index_still_refuses_to_overwrite_the_input() {
        let set = ContaminantSet::from_degrees(&[10.0], &[20.0], Radii::Uniform(Angle::from_degrees(1.0))).unwrap();
        let index = set.index(KernelChoice::Auto).unwrap();
        let job = StreamJob::new("fixtures/objects.parquet", "fixtures/objects.parquet", "-", Angle::from_degrees(1.0));
        let error = stream_with_index(&job, &set, &index).unwrap_err();
        assert!(matches!(error, Error::Usage(_)), "{error}");
    }
}
