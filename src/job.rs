//! The whole `angcut stream` job: from file names to a written output and a summary.

use std::path::PathBuf;
use std::time::Instant;

use crate::angle::Angle;
use crate::catalog::CoordinateColumns;
use crate::contaminants::{ContaminantSet, ContaminantSpec};
use crate::cut::{BatchCutter, CutOptions};
use crate::error::Error;
use crate::input::{STDIO, open_catalogue};
use crate::kernel::{Kernel, KernelChoice};
use crate::output::{BatchSink, OutputFormat, ParquetOutputOptions, check_output_path, create_sink, same_destination};
use crate::pipeline::{Counts, PipelineOptions, Sinks, run};

/// Rows per batch unless told otherwise (README, "Performance", says how it was chosen).
pub const DEFAULT_BATCH_SIZE: usize = 65_536;

/// Everything `angcut stream` needs to know.
#[derive(Debug, Clone)]
pub struct StreamJob {
    pub input: PathBuf,
    pub output: PathBuf,
    /// The contaminant file, its columns, and the radius rule.
    pub contaminants: ContaminantSpec,
    /// Object coordinate columns; `None` finds them by their usual names.
    pub ra: Option<String>,
    pub dec: Option<String>,
    pub kernel: KernelChoice,
    pub batch_size: usize,
    pub pipeline: PipelineOptions,
    /// Which rows go to `output`, and what columns are added.
    pub cut: CutOptions,
    /// Where the rows `output` does not get are written, if anywhere (`--rejected`).
    pub rejected_output: Option<PathBuf>,
    pub output_options: ParquetOutputOptions,
    /// The output format; `None` takes it from the output's name ([`OutputFormat::for_path`]).
    pub output_format: Option<OutputFormat>,
}

impl StreamJob {
    /// A job with every option at its default.
    pub fn new(
        input: impl Into<PathBuf>,
        output: impl Into<PathBuf>,
        contaminants: impl Into<PathBuf>,
        maxsep: Angle,
    ) -> StreamJob {
        StreamJob {
            input: input.into(),
            output: output.into(),
            contaminants: ContaminantSpec::uniform(contaminants, maxsep),
            ra: None,
            dec: None,
            kernel: KernelChoice::Auto,
            batch_size: DEFAULT_BATCH_SIZE,
            pipeline: PipelineOptions::default(),
            cut: CutOptions::default(),
            rejected_output: None,
            output_options: ParquetOutputOptions::default(),
            output_format: None,
        }
    }
}

/// What a finished job did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub counts: Counts,
    pub contaminants: usize,
    pub kernel: Kernel,
    /// The largest contaminant radius (the one radius, unless radii are per contaminant).
    pub largest_radius: Option<Angle>,
    /// Whether a rejected output was written (`counts.rejected` rows).
    pub rejected_output: bool,
    pub seconds: f64,
}

impl Summary {
    /// The one line `angcut stream` prints on success.
    pub fn line(&self) -> String {
        let c = &self.counts;
        let rate = if self.seconds > 0.0 { c.read as f64 / self.seconds } else { 0.0 };
        let rejected = if self.rejected_output { format!(" (rejected {})", c.rejected) } else { String::new() };
        format!(
            "angcut: read {} rows, removed {}, invalid {}, wrote {}{rejected} in {:.3} s ({:.0} rows/s; {} contaminants, {} kernel)",
            c.read, c.removed, c.invalid, c.written, self.seconds, rate, self.contaminants, self.kernel
        )
    }
}

/// Runs the job: checks the paths, indexes the contaminants, streams the cut, and moves the output
/// into place only if everything succeeded.
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

/// Told the running totals after each batch, with the input's row count if known.
pub type Progress<'a> = dyn FnMut(&Counts, Option<u64>) + 'a;

/// [`stream_file`], telling `progress` the running totals after each batch, with the input's
/// row count when its format records one (Parquet).
pub fn stream_file_with_progress(job: &StreamJob, mut progress: Option<&mut Progress>) -> Result<Summary, Error> {
    let started = Instant::now();
    if job.batch_size == 0 {
        return Err(Error::Usage("batch size must be at least 1".into()));
    }
    let stdio = |p: &std::path::Path| p.as_os_str() == STDIO;
    if stdio(&job.input) && stdio(&job.contaminants.path) {
        return Err(Error::Usage("IN and the contaminants cannot both be read from stdin ('-')".into()));
    }
    if !stdio(&job.output) {
        check_output_path(&job.output, &[&job.input, &job.contaminants.path])?;
    }
    if let Some(rejected) = &job.rejected_output {
        check_output_path(rejected, &[&job.input, &job.contaminants.path])?;
        if same_destination(rejected, &job.output) {
            return Err(Error::Usage(format!(
                "the rejected output {} is the same file as OUT; give it another name",
                rejected.display()
            )));
        }
    }
    if job.cut.rejected != job.rejected_output.is_some() {
        return Err(Error::Usage("cut.rejected must be set exactly when rejected_output is".into()));
    }
    // Open the input first: a wrong input file is reported before the contaminants are read.
    let mut catalog = open_catalogue(&job.input, job.batch_size, false)?;
    let input_schema = catalog.source.schema();
    let input_name = catalog.source.path().to_path_buf();
    CoordinateColumns::resolve(&input_schema, &input_name, job.ra.as_deref(), job.dec.as_deref(), ("--ra", "--dec"))?;
    let contaminants = ContaminantSet::read(&job.contaminants)?;
    let index = contaminants.index(job.kernel)?;
    let ids = match (&contaminants.ids, &job.contaminants.id_column) {
        (Some(ids), Some(name)) => Some((ids, name.as_str())),
        _ => None,
    };
    let cutter = BatchCutter::new(
        &input_schema,
        &input_name,
        job.ra.as_deref(),
        job.dec.as_deref(),
        &index,
        ids,
        job.cut.clone(),
    )?;

    let schema = cutter.output_schema();
    let format = job.output_format.unwrap_or_else(|| OutputFormat::for_path(&job.output));
    let mut sink = create_sink(&job.output, format, schema.clone(), &job.output_options)?;
    let mut rejected = match &job.rejected_output {
        Some(path) => Some(create_sink(path, OutputFormat::for_path(path), schema, &job.output_options)?),
        None => None,
    };
    // (The cast shortens the trait object's lifetime, which `Option` will not do by itself.)
    let total_rows = catalog.rows;
    let mut report = |counts: &Counts| {
        if let Some(progress) = progress.as_deref_mut() {
            progress(counts, total_rows);
        }
    };
    let sinks = Sinks {
        kept: sink.as_mut(),
        rejected: rejected.as_deref_mut().map(|s| s as &mut dyn BatchSink),
        progress: Some(&mut report),
    };
    let counts = run(catalog.source.as_mut(), &cutter, &job.pipeline, sinks)?;
    // The rejected rows first: if OUT then cannot be finished, the run fails and takes the
    // rejected file away again, so a failed run leaves neither.
    if let Some(rejected) = rejected {
        rejected.finish()?;
    }
    if let Err(error) = sink.finish() {
        if let Some(path) = &job.rejected_output {
            let _ = std::fs::remove_file(path);
        }
        return Err(error);
    }
    Ok(Summary {
        counts,
        contaminants: index.len(),
        kernel: index.kernel(),
        largest_radius: contaminants.largest_radius(),
        rejected_output: job.rejected_output.is_some(),
        seconds: started.elapsed().as_secs_f64(),
    })
}
