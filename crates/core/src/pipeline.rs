//! The streaming pipeline: readers, a pool of workers that cut batches, and a writer that puts the
//! kept rows back in their original order.
//!
//! ```text
//! reader lanes --(a pool task per batch)--> workers (rayon pool) --(bounded channel)--> writer (reorders) --> sink
//!      ^                                                                                   |
//!      +------------------------------- credits, per lane ---------------------------------+
//! ```
//! A source in independent parts (Parquet's row groups) is decoded by up to `threads` reader
//! lanes at once, each taking the next part not yet taken; any other source by one lane. The
//! sink's own parallel work (column encoding) runs on the pool, so the cores are shared by
//! decoding, cutting and encoding.
//! A lane takes one of its credits before reading each batch and the writer returns it once that
//! batch is written, so at most `max_in_flight` batches exist at once, however slow one batch or
//! the sink is: memory is bounded by `max_in_flight x batch size`, never by the input's size.
//! Each lane has credits of its own: the lane holding the earliest unwritten rows can always go
//! on, where one shared pool of credits could be taken entirely by later parts, waiting for it.
//! Every stage stops as soon as any channel it uses is closed, so an error anywhere ends the run
//! without a hang.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use arrow::array::{RecordBatch, RecordBatchReader, RecordBatchWriter};
use crossbeam_channel::{Receiver, Sender, bounded};

use crate::cut::{BatchCutter, CutBatch};
pub use crate::cut::{Counts, OnInvalid};
use crate::error::{Error, panic_message};
use crate::io::read::{ArrowSource, BatchSource, Parts};
use crate::io::write::{BatchSink, FinishedOutput};

/// How the pipeline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Threads of the pool that decodes (a source in parts: up to this many reader lanes), cuts
    /// and encodes; the writer, and a source's single reader lane, have a thread each besides.
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

/// A batch on its way to the writer: the input row it starts at (its place in the output), the
/// reading lane whose credit it holds, and the cut (or why it failed).
struct Done {
    first_row: u64,
    lane: usize,
    result: Result<CutBatch, Error>,
}

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
    sinks: Sinks,
) -> Result<Counts, Error> {
    run_with(source, cutter, options, sinks)
}

/// A cutter still being made on another thread (the job's contaminants being read and indexed)
/// while the first batches are read: it holds `None` if making it failed, which that thread
/// reports. Whoever makes it must set it, failing or not, or the workers wait for ever.
pub(crate) type PendingCutter<'a> = OnceLock<Option<BatchCutter<'a>>>;

/// [`run`] with a cutter that may still be in the making: each worker waits for it before its
/// first cut, while the reader lanes go on reading into their credits (a pool thread waits on
/// the cutter, so whoever makes it must not need this run's pool: the job's loading thread runs
/// its parallel work on a pool of its own). If it ends up `None`, batches fail with an internal
/// error that the caller replaces with the maker's.
pub(crate) fn run_pending(
    source: &mut dyn BatchSource,
    cutter: &PendingCutter,
    options: &PipelineOptions,
    sinks: Sinks,
) -> Result<Counts, Error> {
    run_with(source, cutter, options, sinks)
}

/// A cutter at hand, or to be waited for.
trait Awaited: Sync {
    /// The cutter, once it is made; `None` if making it failed.
    fn cutter(&self) -> Option<&BatchCutter<'_>>;
}

impl Awaited for BatchCutter<'_> {
    fn cutter(&self) -> Option<&BatchCutter<'_>> {
        Some(self)
    }
}

impl Awaited for PendingCutter<'_> {
    fn cutter(&self) -> Option<&BatchCutter<'_>> {
        self.wait().as_ref()
    }
}

fn run_with(
    source: &mut dyn BatchSource,
    cutter: &dyn Awaited,
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

    // Several lanes only where the source has parts to share out, and each lane keeps a credit.
    let lanes_for = |parts: &Arc<dyn Parts>| threads.min(parts.count()).min(window);
    let parts = source.parts().filter(|parts| lanes_for(parts) > 1);
    let lanes = parts.as_ref().map_or(1, lanes_for);
    // Room for every batch in flight, so a worker never blocks on sending its result.
    let (done_tx, done_rx) = bounded::<Done>(window);
    let (credit_txs, credit_rxs): (Vec<_>, Vec<_>) = (0..lanes)
        .map(|lane| {
            // The window shared out: `window / lanes` each, the first lanes one more.
            let credits = window / lanes + usize::from(lane < window % lanes);
            let (tx, rx) = bounded::<()>(credits);
            for _ in 0..credits {
                // Cannot fail: the channel has room for these credits and its receiver is alive.
                let _ = tx.send(());
            }
            (tx, rx)
        })
        .unzip();

    let in_flight = InFlight::default();
    let reading = Reading { cut: Cut { cutter, path: &path }, in_flight: &in_flight };
    let pool = &pool;
    let mut counts = std::thread::scope(|scope| {
        scope.spawn(move || {
            // Each batch is cut by a task of its own on the pool; the scope ends when all have.
            pool.in_place_scope(|workers| match &parts {
                Some(parts) => reading.parts(parts.as_ref(), workers, &done_tx, credit_rxs),
                None => {
                    let mut lane = Lane { number: 0, credits: &credit_rxs[0], done: &done_tx, holding: false };
                    reading.lane(source, 0, None, workers, &mut lane);
                }
            })
        });
        write_in_order(done_rx, credit_txs, &mut sinks, pool, &path, &in_flight)
    })?;
    counts.peak_in_flight = in_flight.peak.load(Ordering::Relaxed);
    Ok(counts)
}

/// Streams any Arrow reader through `cutter` into any Arrow writer: Parquet's `ArrowWriter`, the
/// IPC `FileWriter`/`StreamWriter`, a CSV writer, or your own [`RecordBatchWriter`]. The same
/// reader lane, workers and ordered writer as `angcut stream`; the writer gets the selected
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
    cutter: &'a dyn Awaited,
    path: &'a Path,
}

impl Cut<'_> {
    /// [`BatchCutter::cut`], with a panic turned into an error.
    fn run(&self, batch: &RecordBatch, first_row: u64) -> Result<CutBatch, Error> {
        let Some(cutter) = self.cutter.cutter() else {
            return Err(Error::Internal { path: self.path.to_path_buf(), message: "no cutter was made".into() });
        };
        catch_unwind(AssertUnwindSafe(|| cutter.cut(batch, first_row))).unwrap_or_else(|payload| {
            Err(Error::Internal {
                path: self.path.to_path_buf(),
                message: format!("a worker panicked: {}", panic_message(payload.as_ref())),
            })
        })
    }
}

/// What every reading lane shares.
#[derive(Clone, Copy)]
struct Reading<'a> {
    cut: Cut<'a>,
    in_flight: &'a InFlight,
}

/// One reading lane: its number, its credits, where its batches' cuts go, and whether it holds a
/// credit it took but did not spend (the batch it was for turned out empty, or never came).
struct Lane<'a> {
    number: usize,
    credits: &'a Receiver<()>,
    done: &'a Sender<Done>,
    holding: bool,
}

impl<'a> Reading<'a> {
    /// Reads `parts` on one thread per lane, each lane taking the next part not yet taken.
    fn parts(self, parts: &dyn Parts, workers: &rayon::Scope<'a>, done: &Sender<Done>, credits: Vec<Receiver<()>>) {
        let starts: Vec<u64> = (0..parts.count())
            .scan(0u64, |row, part| {
                let start = *row;
                *row = row.saturating_add(parts.rows(part));
                Some(start)
            })
            .collect();
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for (number, credits) in credits.iter().enumerate() {
                let (next, starts) = (&next, &starts);
                scope.spawn(move || {
                    let mut lane = Lane { number, credits, done, holding: false };
                    loop {
                        let part = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&start) = starts.get(part) else { return };
                        let end = start.saturating_add(parts.rows(part));
                        let carry_on = match parts.open(part) {
                            Ok(mut source) => self.lane(source.as_mut(), start, Some(end), workers, &mut lane),
                            Err(error) => lane.fail(start, error),
                        };
                        if !carry_on {
                            return;
                        }
                    }
                });
            }
        });
    }

    /// Reads `source`, whose rows start at input row `first_row` (and end at `end`, if the file
    /// says where), taking one of the lane's credits before each batch and giving each batch to a
    /// worker to cut. False once the run is over for this lane (the writer stopped, or an error
    /// was sent).
    fn lane(
        self,
        source: &mut dyn BatchSource,
        mut first_row: u64,
        end: Option<u64>,
        workers: &rayon::Scope<'a>,
        lane: &mut Lane,
    ) -> bool {
        loop {
            if !lane.holding && lane.credits.recv().is_err() {
                return false; // the writer has stopped
            }
            lane.holding = true;
            let batch = match source.next_batch() {
                None => break,
                // Nothing to cut or write; its row number would be the next batch's too.
                Some(Ok(batch)) if batch.num_rows() == 0 => continue,
                Some(Ok(batch)) => batch,
                Some(Err(error)) => return lane.fail(first_row, error),
            };
            let rows = batch.num_rows() as u64;
            if end.is_some_and(|end| first_row + rows > end) {
                return lane.fail(first_row, self.miscounted(first_row, rows, end));
            }
            lane.holding = false;
            self.in_flight.enter();
            let (cut, done, number) = (self.cut, lane.done.clone(), lane.number);
            workers.spawn(move |_| {
                // The writer may have stopped; the result is not wanted then.
                let _ = done.send(Done { first_row, lane: number, result: cut.run(&batch, first_row) });
            });
            first_row += rows;
        }
        match end {
            Some(end) if first_row != end => lane.fail(first_row, self.miscounted(first_row, 0, Some(end))),
            _ => true,
        }
    }

    /// A part whose batches do not add up to the rows its file records.
    fn miscounted(self, first_row: u64, rows: u64, end: Option<u64>) -> Error {
        Error::Corrupt {
            path: self.cut.path.to_path_buf(),
            message: format!(
                "rows {first_row}..{} decoded, but the file records its part as ending at row {}",
                first_row + rows,
                end.unwrap_or(first_row)
            ),
        }
    }
}

impl Lane<'_> {
    /// Sends `error` to the writer, to be reported in its place (after the rows before it). False:
    /// this lane stops.
    fn fail(&mut self, first_row: u64, error: Error) -> bool {
        let _ = self.done.send(Done { first_row, lane: self.number, result: Err(error) });
        false
    }
}

fn write_in_order(
    done: Receiver<Done>,
    credits: Vec<Sender<()>>,
    sinks: &mut Sinks,
    pool: &rayon::ThreadPool,
    path: &Path,
    in_flight: &InFlight,
) -> Result<Counts, Error> {
    // By first row: batches are never empty, so each row number starts at most one batch.
    let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    let mut total = Counts::default();
    for done in done {
        pending.insert(done.first_row, done);
        while let Some(Done { lane, result, .. }) = pending.remove(&next) {
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
            next += cut.counts.read;
            in_flight.leave();
            // The lane may have finished and dropped its end; nothing to do then.
            let _ = credits[lane].send(());
        }
    }
    if !pending.is_empty() {
        return Err(Error::Internal {
            path: path.to_path_buf(),
            message: format!("the batch starting at row {next} never arrived from the workers"),
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

    /// Batches from memory, telling how many it has served so far.
    struct CountedSource {
        inner: MemorySource,
        served: Arc<AtomicUsize>,
    }

    impl BatchSource for CountedSource {
        fn path(&self) -> &Path {
            self.inner.path()
        }
        fn schema(&self) -> SchemaRef {
            self.inner.schema()
        }
        fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
            self.served.fetch_add(1, Ordering::SeqCst);
            self.inner.next_batch()
        }
    }

    #[test]
    fn batches_are_read_into_the_window_while_the_cutter_is_still_being_made() {
        let input = batches(40, 50);
        let index = index(200, 5.0);
        let expected = expected_ids(&input, &index);
        let served = Arc::new(AtomicUsize::new(0));
        let mut source = CountedSource { inner: MemorySource::new(input), served: served.clone() };
        let options = PipelineOptions { threads: 2, max_in_flight: Some(6) };
        let (pending, mut sink) = (PendingCutter::new(), SlowSink::default());
        let (counts, served_before) = std::thread::scope(|scope| {
            let maker = scope.spawn(|| {
                // Made only once the reader has filled its window (or after a long while, so
                // that a pipeline that waits for the cutter before reading fails, not hangs).
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                while served.load(Ordering::SeqCst) < 6 && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let served_before = served.load(Ordering::SeqCst);
                assert!(pending.set(Some(cutter(&index))).is_ok());
                served_before
            });
            let counts = run_pending(&mut source, &pending, &options, into(&mut sink)).unwrap();
            (counts, maker.join().unwrap())
        });
        // The whole window was read without a cutter, and not one batch more.
        assert_eq!(served_before, 6);
        assert_eq!(sink.ids, expected);
        assert_eq!(counts.read, 2_000);
    }

    #[test]
    fn a_cutter_that_could_not_be_made_ends_the_run_without_a_hang() {
        let mut source = MemorySource::new(batches(20, 10));
        let (pending, mut sink) = (PendingCutter::new(), SlowSink::default());
        let options = PipelineOptions { threads: 2, max_in_flight: Some(3) };
        let err = std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                assert!(pending.set(None).is_ok());
            });
            run_pending(&mut source, &pending, &options, into(&mut sink)).unwrap_err()
        });
        assert!(matches!(err, Error::Internal { .. }), "{err}");
        assert!(err.to_string().contains("no cutter was made"), "{err}");
        assert!(sink.ids.is_empty());
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

    /// A source in parts, as a Parquet file's row groups: each part's batches, the rows the
    /// "file" records for it, a part that fails to open, a part that fails after some batches.
    #[derive(Default)]
    struct MemoryParts {
        parts: Vec<Vec<RecordBatch>>,
        recorded: Vec<u64>,
        fail_open: Option<usize>,
        fail_in: Option<(usize, usize)>,
        opened_on: std::sync::Mutex<std::collections::HashSet<std::thread::ThreadId>>,
    }

    impl MemoryParts {
        /// `sizes[part]` batches of the given row counts (0 for an empty batch), ids in row order.
        fn new(sizes: &[&[usize]]) -> MemoryParts {
            let mut rng = SplitMix64::new(5);
            let mut id = 0i64;
            let parts: Vec<Vec<RecordBatch>> = sizes
                .iter()
                .map(|part| {
                    part.iter()
                        .map(|&rows| {
                            let batch = narrow_batch(rows, id, &mut rng);
                            id += rows as i64;
                            batch
                        })
                        .collect()
                })
                .collect();
            let recorded = parts.iter().map(|part| part.iter().map(|b| b.num_rows() as u64).sum()).collect();
            MemoryParts { parts, recorded, ..MemoryParts::default() }
        }

        fn all(&self) -> Vec<RecordBatch> {
            self.parts.concat()
        }
    }

    impl Parts for MemoryParts {
        fn count(&self) -> usize {
            self.parts.len()
        }
        fn rows(&self, part: usize) -> u64 {
            self.recorded[part]
        }
        fn open(&self, part: usize) -> Result<Box<dyn BatchSource>, Error> {
            self.opened_on.lock().unwrap().insert(std::thread::current().id());
            if self.fail_open == Some(part) {
                return Err(Error::Corrupt { path: "memory".into(), message: format!("row group {part} is garbage") });
            }
            let mut source = MemorySource::new(self.parts[part].clone());
            source.fail_after = self.fail_in.and_then(|(failing, after)| (failing == part).then_some(after));
            Ok(Box::new(source))
        }
    }

    /// A source that offers its parts (and fails if read in sequence instead).
    struct PartedSource(Arc<MemoryParts>);

    impl BatchSource for PartedSource {
        fn path(&self) -> &Path {
            Path::new("memory")
        }
        fn schema(&self) -> SchemaRef {
            narrow_schema()
        }
        fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
            Some(Err(Error::Internal { path: "memory".into(), message: "read in sequence".into() }))
        }
        fn parts(&self) -> Option<Arc<dyn Parts>> {
            Some(self.0.clone())
        }
    }

    const SIZES: &[&[usize]] = &[&[40, 40, 7], &[30], &[], &[25, 0, 25], &[1], &[50, 50, 50, 3], &[9, 9], &[33], &[60]];

    #[test]
    fn parts_are_read_on_several_lanes_and_written_in_order_within_the_window() {
        let parts = Arc::new(MemoryParts::new(SIZES));
        let input = parts.all();
        let index = index(200, 5.0);
        let expected = expected_ids(&input, &index);
        let mut sink = SlowSink { delay: Duration::from_millis(2), ..SlowSink::default() };
        let options = PipelineOptions { threads: 3, max_in_flight: Some(5) };
        let mut source = PartedSource(parts.clone());
        let counts = run(&mut source, &cutter(&index), &options, into(&mut sink)).unwrap();
        assert_eq!(sink.ids, expected);
        let rows: usize = SIZES.iter().flat_map(|part| part.iter()).sum();
        assert_eq!(counts.read as usize, rows);
        assert_eq!(counts.written as usize, expected.len());
        assert!(counts.peak_in_flight <= 5, "{}", counts.peak_in_flight);
        assert!(parts.opened_on.lock().unwrap().len() >= 2, "the parts were all read on one thread");
    }

    #[test]
    fn one_thread_or_a_window_of_one_reads_the_parts_in_sequence() {
        let index = index(50, 5.0);
        for options in [
            PipelineOptions { threads: 1, max_in_flight: None },
            PipelineOptions { threads: 4, max_in_flight: Some(1) },
        ] {
            let mut source = PartedSource(Arc::new(MemoryParts::new(SIZES)));
            let err = run(&mut source, &cutter(&index), &options, into(&mut SlowSink::default())).unwrap_err();
            assert!(err.to_string().contains("read in sequence"), "{options:?}: {err}");
        }
    }

    #[test]
    fn a_part_that_fails_ends_the_run_with_its_error_after_every_row_before_it() {
        let index = index(100, 5.0);
        // Part 5 (rows 168..321) fails after its first two batches: rows 168..268 arrive, then the error.
        let mut failing = MemoryParts::new(SIZES);
        failing.fail_in = Some((5, 2));
        // Part 3 (from row 117) cannot even be opened.
        let mut unopenable = MemoryParts::new(SIZES);
        unopenable.fail_open = Some(3);
        for (parts, message, rows_before) in
            [(failing, "page 3 is garbage", 268), (unopenable, "row group 3 is garbage", 117)]
        {
            let before: Vec<RecordBatch> = parts.all().iter().filter(|b| b.num_rows() > 0).cloned().collect();
            let before: Vec<RecordBatch> = before
                .into_iter()
                .scan(0usize, |row, batch| {
                    *row += batch.num_rows();
                    Some((*row, batch))
                })
                .take_while(|&(end, _)| end <= rows_before)
                .map(|(_, batch)| batch)
                .collect();
            let mut sink = SlowSink::default();
            let options = PipelineOptions { threads: 3, max_in_flight: Some(6) };
            let err = run(&mut PartedSource(Arc::new(parts)), &cutter(&index), &options, into(&mut sink)).unwrap_err();
            assert!(err.to_string().contains(message), "{err}");
            // Every row before the failure was written, in order, and none after it.
            assert_eq!(sink.ids, expected_ids(&before, &index), "{message}");
        }
    }

    #[test]
    fn a_part_whose_rows_differ_from_what_the_file_records_is_an_error() {
        let index = index(10, 1.0);
        for (part, recorded) in [(3, 49), (6, 20), (8, 61)] {
            let mut parts = MemoryParts::new(SIZES);
            parts.recorded[part] = recorded;
            let options = PipelineOptions { threads: 2, max_in_flight: None };
            let err =
                run(&mut PartedSource(Arc::new(parts)), &cutter(&index), &options, into(&mut SlowSink::default()))
                    .unwrap_err();
            assert!(matches!(err, Error::Corrupt { .. }), "part {part}: {err}");
            assert!(err.to_string().contains("the file records its part as ending at row"), "part {part}: {err}");
        }
    }

    #[test]
    fn a_parquet_file_of_many_row_groups_is_cut_exactly_on_several_lanes() {
        let parts = MemoryParts::new(SIZES);
        let input = parts.all();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("groups.parquet");
        let properties =
            parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(37)).build();
        let mut writer = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            narrow_schema(),
            Some(properties),
        )
        .unwrap();
        for batch in &input {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();
        let index = index(300, 4.0);
        let expected = expected_ids(&input, &index);
        for threads in [1, 2, 3] {
            let mut source = crate::io::read::ParquetCatalog::open(&path, 16).unwrap();
            assert!(source.parts().is_some_and(|parts| parts.count() > 5));
            let mut sink = SlowSink::default();
            let options = PipelineOptions { threads, max_in_flight: None };
            let counts = run(&mut source, &cutter(&index), &options, into(&mut sink)).unwrap();
            assert_eq!(sink.ids, expected, "{threads} threads");
            assert_eq!(counts.read as usize, input.iter().map(RecordBatch::num_rows).sum::<usize>());
        }
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
