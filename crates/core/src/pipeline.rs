//! The streaming pipeline: a reader thread, a pool of workers that cut batches, and a writer that
//! puts the kept rows back in their original order.
//!
//! ```text
//! reader --(a pool task per batch)--> workers (rayon pool) --(bounded channel)--> writer (reorders) --> sink
//!    ^                                                                               |
//!    +----------------------------------- credits -----------------------------------+
//! ```
//! The sink's own parallel work (column encoding) runs on the same pool, so `threads` bounds the
//! CPU the whole run uses besides the reader and writer threads.
//! The reader takes a credit before reading each batch and the writer returns it once that batch is
//! written, so at most `max_in_flight` batches exist at once, however slow one batch or the sink
//! is: memory is bounded by `max_in_flight x batch size`, never by the input's size. Every stage
//! stops as soon as any channel it uses is closed, so an error anywhere ends the run without a hang.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{RecordBatch, RecordBatchReader, RecordBatchWriter};
use crossbeam_channel::{Receiver, Sender, bounded};

use crate::cut::{BatchCutter, CutBatch};
pub use crate::cut::{Counts, OnInvalid};
use crate::error::{Error, panic_message};
use crate::io::read::{ArrowSource, BatchSource};
use crate::io::write::{BatchSink, FinishedOutput};

/// How the pipeline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Worker threads cutting batches (the reader and writer have a thread each besides).
    pub threads: usize,
    /// Batches read but not yet written, at most; `None` means `2 x threads + 2`.
    pub max_in_flight: Option<usize>,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions { threads: default_threads(), max_in_flight: None }
    }
}

/// All the machine's cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A batch on its way to the writer: its sequence number and the cut (or why it failed).
type Done = (u64, Result<CutBatch, Error>);

/// The sinks of a run: the main output, and the rejected rows' if `--rejected` asked for them.
pub struct Sinks<'a> {
    /// Where the main output's rows go.
    pub kept: &'a mut dyn BatchSink,
    /// Where the rejected rows go, if anywhere.
    pub rejected: Option<&'a mut dyn BatchSink>,
    /// Told the running totals after each batch is written (a progress display).
    pub progress: Option<&'a mut dyn FnMut(&Counts)>,
}

/// Streams every batch of `source` through `cutter` into the sinks, in the original order.
///
/// Cutting and the sinks' encoding share one pool of `options.threads` threads, so a sink can
/// use the pool (rayon) for its own parallel work. Does not call [`BatchSink::finish`]: the caller
/// decides whether the output is complete.
pub fn run(
    source: &mut dyn BatchSource,
    cutter: &BatchCutter,
    options: &PipelineOptions,
    mut sinks: Sinks,
) -> Result<Counts, Error> {
    let threads = options.threads.max(1);
    let window = options.max_in_flight.unwrap_or(2 * threads + 2).max(1);
    let path = source.path().to_path_buf();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("angcut-worker-{i}"))
        .build()
        .map_err(|e| Error::Internal { path: path.clone(), message: format!("cannot start worker threads: {e}") })?;

    // Room for every batch in flight, so a worker never blocks on sending its result.
    let (done_tx, done_rx) = bounded::<Done>(window);
    let (credit_tx, credit_rx) = bounded::<()>(window);
    for _ in 0..window {
        // Cannot fail: the channel has room for `window` credits and its receiver is alive.
        let _ = credit_tx.send(());
    }

    let in_flight = InFlight::default();
    let in_flight = &in_flight;
    let cut = Cut { cutter, path: &path };
    let pool = &pool;
    let mut counts = std::thread::scope(|scope| {
        scope.spawn(move || {
            // Each batch is cut by a task of its own on the pool; the scope ends when all have.
            pool.in_place_scope(|workers| read_batches(source, workers, cut, done_tx, credit_rx, in_flight))
        });
        write_in_order(done_rx, credit_tx, &mut sinks, pool, &path, in_flight)
    })?;
    counts.peak_in_flight = in_flight.peak.load(Ordering::Relaxed);
    Ok(counts)
}

/// Streams any Arrow reader through `cutter` into any Arrow writer: Parquet's `ArrowWriter`, the
/// IPC `FileWriter`/`StreamWriter`, a CSV writer, or your own [`RecordBatchWriter`]. The same
/// reader thread, workers and ordered writer as `angcut stream`; the writer gets the selected
/// rows in their original order, of `cutter.output_schema()`, and is not closed (that is yours
/// to do once this returned `Ok`). Rows for a rejected output, if `cutter` makes them, are not
/// written: use [`run`] with a second sink for those.
///
/// ```
/// use std::fs::File;
/// use angcut::{BatchCutter, ContaminantSet, CutOptions, KernelChoice, PipelineOptions, Radii, SearchRadius};
/// use arrow::array::RecordBatchReader;
/// use parquet::arrow::ArrowWriter;
/// use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
///
/// // Any reader of record batches: here a Parquet file.
/// let reader = ParquetRecordBatchReaderBuilder::try_new(File::open("fixtures/objects.parquet")?)?.build()?;
/// // Two contaminants with their own radii, from plain arrays (degrees).
/// let radii = Radii::PerContaminant(vec![SearchRadius::parse("20deg").unwrap(), SearchRadius::parse("1800arcsec").unwrap()]);
/// let stars = ContaminantSet::from_degrees(&[10.0, 250.0], &[-20.0, 60.0], radii)?;
/// let index = stars.index(KernelChoice::Auto)?;
/// let cutter = BatchCutter::new(&reader.schema(), "objects", None, None, &index, None, CutOptions::default())?;
/// // Any writer of record batches: here Parquet into memory.
/// let mut writer = ArrowWriter::try_new(Vec::new(), cutter.output_schema(), None)?;
/// let counts = angcut::pipeline::run_reader(reader, &cutter, &PipelineOptions::default(), &mut writer)?;
/// let bytes = writer.into_inner()?;
/// assert_eq!(counts.read, 20_000);
/// assert_eq!(counts.written + counts.removed, 20_000);
/// assert!(counts.removed > 0 && !bytes.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_reader<R, W>(
    reader: R,
    cutter: &BatchCutter,
    options: &PipelineOptions,
    writer: &mut W,
) -> Result<Counts, Error>
where
    R: RecordBatchReader + Send + 'static,
    W: RecordBatchWriter + Send,
{
    let path = cutter.path().to_path_buf();
    let mut source = ArrowSource::new(&path, reader.schema(), reader);
    let mut sink = WriterSink { writer, path };
    run(&mut source, cutter, options, Sinks { kept: &mut sink, rejected: None, progress: None })
}

/// A borrowed Arrow writer as a sink.
struct WriterSink<'w, W> {
    writer: &'w mut W,
    path: std::path::PathBuf,
}

impl<W: RecordBatchWriter + Send> BatchSink for WriterSink<'_, W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
        self.writer.write(batch).map_err(|source| Error::Arrow { path: self.path.clone(), source })
    }

    /// The writer is the caller's to close.
    fn finish(self: Box<Self>) -> Result<FinishedOutput, Error> {
        Ok(FinishedOutput::written())
    }
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

/// What every worker task needs to cut a batch.
#[derive(Clone, Copy)]
struct Cut<'a> {
    cutter: &'a BatchCutter<'a>,
    path: &'a Path,
}

impl Cut<'_> {
    /// [`BatchCutter::cut`], with a panic turned into an error.
    fn run(&self, batch: &RecordBatch, first_row: u64) -> Result<CutBatch, Error> {
        catch_unwind(AssertUnwindSafe(|| self.cutter.cut(batch, first_row))).unwrap_or_else(|payload| {
            Err(Error::Internal {
                path: self.path.to_path_buf(),
                message: format!("a worker panicked: {}", panic_message(payload.as_ref())),
            })
        })
    }
}

fn read_batches<'scope>(
    source: &mut dyn BatchSource,
    workers: &rayon::Scope<'scope>,
    cut: Cut<'scope>,
    done: Sender<Done>,
    credits: Receiver<()>,
    in_flight: &InFlight,
) {
    let mut first_row = 0u64;
    for seq in 0u64.. {
        if credits.recv().is_err() {
            return; // the writer has stopped
        }
        let Some(batch) = source.next_batch() else {
            return;
        };
        in_flight.enter();
        match batch {
            Ok(batch) => {
                let rows = batch.num_rows() as u64;
                let done = done.clone();
                workers.spawn(move |_| {
                    // The writer may have stopped; the result is not wanted then.
                    let _ = done.send((seq, cut.run(&batch, first_row)));
                });
                first_row += rows;
            }
            Err(error) => {
                let _ = done.send((seq, Err(error)));
                return;
            }
        }
    }
}

fn write_in_order(
    done: Receiver<Done>,
    credits: Sender<()>,
    sinks: &mut Sinks,
    pool: &rayon::ThreadPool,
    path: &Path,
    in_flight: &InFlight,
) -> Result<Counts, Error> {
    let mut pending: BTreeMap<u64, Result<CutBatch, Error>> = BTreeMap::new();
    let mut next = 0u64;
    let mut total = Counts::default();
    for (seq, result) in done {
        pending.insert(seq, result);
        while let Some(result) = pending.remove(&next) {
            let cut = result?;
            // On the pool, so that a sink's parallel work uses the pipeline's threads.
            if cut.kept.num_rows() > 0 {
                pool.install(|| sinks.kept.write(&cut.kept))?;
            }
            if let (Some(sink), Some(rejected)) = (sinks.rejected.as_deref_mut(), &cut.rejected)
                && rejected.num_rows() > 0
            {
                pool.install(|| sink.write(rejected))?;
            }
            total.add(&cut.counts);
            if let Some(progress) = sinks.progress.as_deref_mut() {
                progress(&total);
            }
            next += 1;
            in_flight.leave();
            // The reader may have finished and dropped its end; nothing to do then.
            let _ = credits.send(());
        }
    }
    if !pending.is_empty() {
        return Err(Error::Internal {
            path: path.to_path_buf(),
            message: format!("batch {next} never arrived from the workers"),
        });
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Angle;
    use crate::cut::CutOptions;
    use crate::kernel::{ContaminantIndex, KernelChoice};
    use crate::sky::SearchRadius;
    use crate::synthetic::{SplitMix64, narrow_batch, narrow_schema, uniform_positions};
    use arrow::array::{AsArray, Float64Array, Int64Array};
    use arrow::datatypes::{Int64Type, SchemaRef};
    use std::sync::Arc;
    use std::time::Duration;

    /// Batches from memory; fails with an error after `fail_after` batches if set.
    struct MemorySource {
        batches: std::vec::IntoIter<RecordBatch>,
        fail_after: Option<usize>,
        served: usize,
    }

    impl MemorySource {
        fn new(batches: Vec<RecordBatch>) -> MemorySource {
            MemorySource { batches: batches.into_iter(), fail_after: None, served: 0 }
        }
    }

    impl BatchSource for MemorySource {
        fn path(&self) -> &Path {
            Path::new("memory")
        }
        fn schema(&self) -> SchemaRef {
            narrow_schema()
        }
        fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
            if self.fail_after == Some(self.served) {
                return Some(Err(Error::Corrupt { path: "memory".into(), message: "page 3 is garbage".into() }));
            }
            self.served += 1;
            self.batches.next().map(Ok)
        }
    }

    /// Collects what it is given, slowly if asked, so the pipeline has to wait for it.
    #[derive(Default)]
    struct SlowSink {
        delay: Duration,
        ids: Vec<i64>,
    }

    impl BatchSink for SlowSink {
        fn write(&mut self, batch: &RecordBatch) -> Result<(), Error> {
            std::thread::sleep(self.delay);
            self.ids.extend(batch.column(0).as_primitive::<Int64Type>().values());
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<crate::io::write::FinishedOutput, Error> {
            Ok(crate::io::write::FinishedOutput::written())
        }
    }

    fn batches(count: usize, rows: usize) -> Vec<RecordBatch> {
        let mut rng = SplitMix64::new(3);
        (0..count).map(|i| narrow_batch(rows, (i * rows) as i64, &mut rng)).collect()
    }

    fn cutter(index: &ContaminantIndex) -> BatchCutter<'_> {
        BatchCutter::new(&narrow_schema(), "memory", None, None, index, None, CutOptions::default()).unwrap()
    }

    fn into(sink: &mut dyn BatchSink) -> Sinks<'_> {
        Sinks { kept: sink, rejected: None, progress: None }
    }

    fn index(n: usize, maxsep_deg: f64) -> ContaminantIndex {
        let stars: Vec<_> = uniform_positions(n, 4).iter().map(|&(r, d)| crate::unit_vector(r, d)).collect();
        ContaminantIndex::build(&stars, SearchRadius::new(Angle::from_degrees(maxsep_deg)).unwrap(), KernelChoice::Auto)
            .unwrap()
    }

    fn expected_ids(input: &[RecordBatch], index: &ContaminantIndex) -> Vec<i64> {
        let mut kept = Vec::new();
        for batch in input {
            let ids = batch.column(0).as_primitive::<Int64Type>();
            let ra = batch.column(1).as_primitive::<arrow::datatypes::Float64Type>();
            let dec = batch.column(2).as_primitive::<arrow::datatypes::Float64Type>();
            for i in 0..batch.num_rows() {
                if !index.is_near(&crate::unit_vector(ra.value(i), dec.value(i))) {
                    kept.push(ids.value(i));
                }
            }
        }
        kept
    }

    #[test]
    fn a_slow_sink_keeps_batches_in_flight_bounded_and_order_intact() {
        let input = batches(60, 50);
        let index = index(200, 5.0);
        let expected = expected_ids(&input, &index);
        let mut sink = SlowSink { delay: Duration::from_millis(2), ..SlowSink::default() };
        let options = PipelineOptions { threads: 3, max_in_flight: Some(4) };
        let counts = run(&mut MemorySource::new(input), &cutter(&index), &options, into(&mut sink)).unwrap();
        assert_eq!(sink.ids, expected);
        assert_eq!(counts.read, 3_000);
        assert_eq!(counts.written as usize, expected.len());
        assert_eq!(counts.removed, 3_000 - expected.len() as u64);
        // The reader ran ahead of the slow writer as far as it was allowed, and no further.
        assert!(counts.peak_in_flight <= 4, "{}", counts.peak_in_flight);
        assert!(counts.peak_in_flight >= 2, "{}", counts.peak_in_flight);
    }

    #[test]
    fn a_reader_error_after_some_batches_stops_the_run_with_that_error() {
        let mut source = MemorySource::new(batches(50, 20));
        source.fail_after = Some(7);
        let mut sink = SlowSink::default();
        let options = PipelineOptions { threads: 2, ..PipelineOptions::default() };
        let index = index(10, 1.0);
        let err = run(&mut source, &cutter(&index), &options, into(&mut sink)).unwrap_err();
        assert!(err.to_string().contains("memory: the file is corrupt (page 3 is garbage)"), "{err}");
        // The batches before the bad one were written, in order, and nothing after it.
        assert!(sink.ids.iter().all(|&id| id < 140), "{:?}", sink.ids.last());
        // The reader stopped at the failing read: nothing after it was even read.
        assert_eq!(source.served, 7);
    }

    #[test]
    fn a_panicking_worker_becomes_an_error_not_a_crash() {
        // A batch whose RA column is not where the columns say: reading it would index out of
        // bounds, so cut_batch panics inside the worker.
        let good = batches(3, 10);
        let short = RecordBatch::try_new(
            Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
                "id",
                arrow::datatypes::DataType::Int64,
                false,
            )])),
            vec![Arc::new(Int64Array::from(vec![1, 2]))],
        )
        .unwrap();
        let input = vec![good[0].clone(), short, good[1].clone()];
        let mut sink = SlowSink::default();
        let index = index(10, 1.0);
        let err = run(&mut MemorySource::new(input), &cutter(&index), &PipelineOptions::default(), into(&mut sink))
            .unwrap_err();
        assert!(matches!(err, Error::Internal { .. }), "{err}");
        assert!(err.to_string().contains("a worker panicked"), "{err}");
        // Only the batch before the broken one reached the sink.
        assert_eq!(sink.ids, expected_ids(&good[..1], &index));
    }

    /// A sink whose device fills up after `room` batches.
    struct FullDisk {
        room: usize,
    }

    impl BatchSink for FullDisk {
        fn write(&mut self, _: &RecordBatch) -> Result<(), Error> {
            if self.room == 0 {
                return Err(Error::Io {
                    path: "out.parquet".into(),
                    source: std::io::Error::other("No space left on device"),
                });
            }
            self.room -= 1;
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<crate::io::write::FinishedOutput, Error> {
            Ok(crate::io::write::FinishedOutput::written())
        }
    }

    #[test]
    fn a_write_error_stops_every_stage_without_a_hang() {
        let mut source = MemorySource::new(batches(200, 20));
        let options = PipelineOptions { threads: 2, max_in_flight: Some(3) };
        let index = index(5, 0.1);
        let err = run(&mut source, &cutter(&index), &options, into(&mut FullDisk { room: 5 })).unwrap_err();
        assert!(err.to_string().contains("out.parquet: No space left on device"), "{err}");
        // The reader stopped within the credit window of the failure, not at the end of the input.
        assert!(source.served <= 6 + 3, "read {} batches", source.served);
    }

    #[test]
    fn cut_batch_counts_and_filters() {
        let batch = RecordBatch::try_new(
            narrow_schema(),
            vec![
                Arc::new(Int64Array::from(vec![0, 1, 2])),
                Arc::new(Float64Array::from(vec![10.0, 10.0, 200.0])),
                Arc::new(Float64Array::from(vec![0.0, 0.5, 0.0])),
            ],
        )
        .unwrap();
        let stars = [crate::unit_vector(10.0, 0.0)];
        let index = ContaminantIndex::build(&stars, SearchRadius::parse("1deg").unwrap(), KernelChoice::Naive).unwrap();
        let cut = cutter(&index).cut(&batch, 0).unwrap();
        assert_eq!(cut.kept.column(0).as_primitive::<Int64Type>().values().to_vec(), vec![2]);
        let counts = cut.counts;
        assert_eq!((counts.read, counts.removed, counts.invalid, counts.written), (3, 2, 0, 1));
    }
}
