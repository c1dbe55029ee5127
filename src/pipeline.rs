//! The streaming pipeline: a reader thread, a pool of workers that cut batches, and a writer that
//! puts the kept rows back in their original order.
//!
//! ```text
//! reader --(bounded channel)--> workers (rayon pool) --(bounded channel)--> writer (reorders) --> sink
//!    ^                                                                         |
//!    +------------------------------- credits ---------------------------------+
//! ```
//! The reader takes a credit before reading each batch and the writer returns it once that batch is
//! written, so at most `max_in_flight` batches exist at once, however slow one batch or the sink
//! is: memory is bounded by `max_in_flight x batch size`, never by the input's size. Every stage
//! stops as soon as any channel it uses is closed, so an error anywhere ends the run without a hang.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use crossbeam_channel::{Receiver, Sender, bounded};

use crate::catalog::{CoordinateColumns, ParquetCatalog, position};
use crate::error::{Error, panic_message};
use crate::kernel::ContaminantIndex;
use crate::output::BatchSink;

/// What to do with objects whose position is null, NaN, infinite, or has |dec| > 90.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnInvalid {
    /// Stop with an error naming the file, row and column.
    #[default]
    Error,
    /// Keep them: a position that is nowhere cannot be near a contaminant.
    Keep,
    /// Leave them out of the output.
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

/// A stream of record batches, read on the pipeline's reader thread.
pub trait BatchSource: Send {
    /// The file (or stream) name used in error messages.
    fn path(&self) -> &Path;
    fn schema(&self) -> SchemaRef;
    /// The next batch, `None` at the end.
    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>>;
}

impl BatchSource for ParquetCatalog {
    fn path(&self) -> &Path {
        &self.path
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        ParquetCatalog::next_batch(self)
    }
}

/// How the pipeline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Worker threads cutting batches (the reader and writer have a thread each besides).
    pub threads: usize,
    /// What to do with objects that have no valid position.
    pub on_invalid: OnInvalid,
    /// Batches read but not yet written, at most; `None` means `2 x threads + 2`.
    pub max_in_flight: Option<usize>,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            threads: default_threads(),
            on_invalid: OnInvalid::Error,
            max_in_flight: None,
        }
    }
}

/// All the machine's cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// What a run did, row by row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub read: u64,
    /// Rows within `maxsep` of a contaminant.
    pub removed: u64,
    /// Rows without a valid position (kept or dropped as `on_invalid` says).
    pub invalid: u64,
    pub written: u64,
    /// The most batches that were in flight at once (read, not yet written).
    pub peak_in_flight: u64,
}

/// Cuts one batch: the rows to keep, and how many of each kind there were.
///
/// `first_row` is the file row number of the batch's first row, for error messages.
pub fn cut_batch(
    batch: &RecordBatch,
    first_row: u64,
    columns: &CoordinateColumns,
    index: &ContaminantIndex,
    on_invalid: OnInvalid,
    path: &Path,
) -> Result<(RecordBatch, Counts), Error> {
    let (ras, decs) = columns.read(batch, path)?;
    let rows = batch.num_rows();
    let mut keep = Vec::with_capacity(rows);
    let mut counts = Counts {
        read: rows as u64,
        ..Counts::default()
    };
    let value = |array: &arrow::array::Float64Array, i: usize| (!array.is_null(i)).then(|| array.value(i));
    for i in 0..rows {
        let kept = match position(value(&ras, i), value(&decs, i)) {
            Ok(v) => {
                let near = index.is_near(&v);
                counts.removed += u64::from(near);
                !near
            }
            Err(invalid) => {
                counts.invalid += 1;
                match on_invalid {
                    OnInvalid::Keep => true,
                    OnInvalid::Drop => false,
                    OnInvalid::Error => {
                        return Err(Error::InvalidObject {
                            path: path.to_path_buf(),
                            row: first_row + i as u64,
                            column: columns.name(invalid.axis()).to_string(),
                            problem: invalid.describe(),
                        });
                    }
                }
            }
        };
        keep.push(kept);
    }
    let kept = keep.iter().filter(|&&k| k).count();
    counts.written = kept as u64;
    if kept == rows {
        return Ok((batch.clone(), counts));
    }
    let filtered = filter_record_batch(batch, &BooleanArray::from(keep)).map_err(|source| Error::Arrow {
        path: path.to_path_buf(),
        source,
    })?;
    Ok((filtered, counts))
}

/// A batch on its way to a worker: sequence number, first row number, and the batch.
type Work = (u64, u64, Result<RecordBatch, Error>);
/// A batch on its way to the writer.
type Done = (u64, Result<(RecordBatch, Counts), Error>);

/// Streams every batch of `source` through the cut into `sink`, in the original order.
///
/// Does not call [`BatchSink::finish`]: the caller decides whether the output is complete.
pub fn run(
    source: &mut dyn BatchSource,
    columns: &CoordinateColumns,
    index: &ContaminantIndex,
    options: &PipelineOptions,
    sink: &mut dyn BatchSink,
) -> Result<Counts, Error> {
    let threads = options.threads.max(1);
    let window = options.max_in_flight.unwrap_or(2 * threads + 2).max(1);
    let path = source.path().to_path_buf();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("angcut-worker-{i}"))
        .build()
        .map_err(|e| Error::Internal {
            path: path.clone(),
            message: format!("cannot start worker threads: {e}"),
        })?;

    let (work_tx, work_rx) = bounded::<Work>(threads);
    let (done_tx, done_rx) = bounded::<Done>(window);
    let (credit_tx, credit_rx) = bounded::<()>(window);
    for _ in 0..window {
        // Cannot fail: the channel has room for `window` credits and its receiver is alive.
        let _ = credit_tx.send(());
    }

    let in_flight = InFlight::default();
    let in_flight = &in_flight;
    let mut counts = std::thread::scope(|scope| {
        scope.spawn(move || read_batches(source, work_tx, credit_rx, in_flight));
        let path = &path;
        scope.spawn(move || {
            pool.scope(|workers| {
                for _ in 0..threads {
                    let (work_rx, done_tx) = (work_rx.clone(), done_tx.clone());
                    workers.spawn(move |_| cut_batches(work_rx, done_tx, columns, index, options.on_invalid, path));
                }
                // The clones above are the only handles left, so the channels close when workers end.
                drop((work_rx, done_tx));
            })
        });
        write_in_order(done_rx, credit_tx, sink, path, in_flight)
    })?;
    counts.peak_in_flight = in_flight.peak.load(Ordering::Relaxed);
    Ok(counts)
}

/// Counts batches between the reader and the writer, to show the bound holds.
#[derive(Default)]
struct InFlight {
    now: AtomicU64,
    peak: AtomicU64,
}

impl InFlight {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::Relaxed);
    }
}

fn read_batches(source: &mut dyn BatchSource, work: Sender<Work>, credits: Receiver<()>, in_flight: &InFlight) {
    let mut first_row = 0u64;
    for seq in 0u64.. {
        if credits.recv().is_err() {
            return; // the writer has stopped
        }
        let Some(batch) = source.next_batch() else {
            return;
        };
        let failed = batch.is_err();
        let rows = batch.as_ref().map_or(0, |b| b.num_rows() as u64);
        in_flight.enter();
        if work.send((seq, first_row, batch)).is_err() || failed {
            return;
        }
        first_row += rows;
    }
}

fn cut_batches(
    work: Receiver<Work>,
    done: Sender<Done>,
    columns: &CoordinateColumns,
    index: &ContaminantIndex,
    on_invalid: OnInvalid,
    path: &Path,
) {
    for (seq, first_row, batch) in work {
        let result = batch.and_then(|batch| {
            catch_unwind(AssertUnwindSafe(|| cut_batch(&batch, first_row, columns, index, on_invalid, path)))
                .unwrap_or_else(|payload| {
                    Err(Error::Internal {
                        path: path.to_path_buf(),
                        message: format!("a worker panicked: {}", panic_message(payload.as_ref())),
                    })
                })
        });
        if done.send((seq, result)).is_err() {
            return; // the writer has stopped
        }
    }
}

fn write_in_order(
    done: Receiver<Done>,
    credits: Sender<()>,
    sink: &mut dyn BatchSink,
    path: &PathBuf,
    in_flight: &InFlight,
) -> Result<Counts, Error> {
    let mut pending: BTreeMap<u64, Result<(RecordBatch, Counts), Error>> = BTreeMap::new();
    let mut next = 0u64;
    let mut total = Counts::default();
    for (seq, result) in done {
        pending.insert(seq, result);
        while let Some(result) = pending.remove(&next) {
            let (batch, counts) = result?;
            if batch.num_rows() > 0 {
                sink.write(&batch)?;
            }
            total.read += counts.read;
            total.removed += counts.removed;
            total.invalid += counts.invalid;
            total.written += counts.written;
            next += 1;
            in_flight.leave();
            // The reader may have finished and dropped its end; nothing to do then.
            let _ = credits.send(());
        }
    }
    if !pending.is_empty() {
        return Err(Error::Internal {
            path: path.clone(),
            message: format!("batch {next} never arrived from the workers"),
        });
    }
    Ok(total)
}
