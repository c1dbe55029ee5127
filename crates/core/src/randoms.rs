//! Random points through the same mask as the data (`angcut randoms`): clustering measurements
//! compare data with randoms, so both must be masked identically. The points are uniform on the
//! sphere, or within the footprint of the mask's `outside` layers; they go through the same
//! pipeline, cutter and writers as `angcut stream`, so they get the same bit column (or the same
//! cut) that the data get from the same mask, in any output format, streamed.
//!
//! A point is drawn as: a cell of depth 29 (~0.4 mas) uniform among the footprint's, then a
//! position uniform within it (cdshealpix's offsets in the cell, which are area-uniform because
//! the HEALPix projection is equal-area). The whole sky is the footprint of all 12 x 4^29 cells,
//! so one rule serves both. Rows come in blocks of [`BLOCK_ROWS`], each from its own stream of
//! the seed: the same seed gives the same rows whatever the threads and the batch size.
//!
//! ```
//! use angcut::randoms::{RandomCount, RandomsOptions, generate};
//! # let dir = tempfile::tempdir().unwrap();
//! # let out = dir.path().join("randoms.parquet");
//! let mut options = RandomsOptions::new(&out, RandomCount::Rows(100_000), 7);
//! options.stream.masks = Some("fixtures/masks.toml".into());
//! options.stream.mask_bits = Some("maskbits".into());
//! let summary = generate(&options.plan().unwrap()).unwrap();
//! assert_eq!(summary.summary.counts.written, 100_000);
//! assert!(summary.summary.counts.layers[0] > 0); // some randoms fall near the stars
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use cdshealpix::nested;

use crate::contaminants::{ContaminantSet, Radii};
use crate::error::Error;
use crate::io::read::{BatchSource, Catalogue, InputFormat, Parts};
use crate::job::{Given, Progress, Summary, stream_generated};
use crate::kernel::KernelChoice;
use crate::mask::Mask;
use crate::mask::area::SKY_DEG2;
use crate::mask::pixels::{Cells, DEPTH_MAX, SKY_CELLS};
use crate::plan::{StreamJob, StreamOptions};
use crate::rng::SplitMix64;
use crate::sky::SearchRadius;

/// Rows drawn from one stream of the seed: a block is the unit of parallel work, and where a row
/// falls in it (not which thread or batch makes it) fixes its values.
pub const BLOCK_ROWS: u64 = 1 << 16;

/// What the input of a randoms job is called in messages and in its summary.
pub const GENERATED_NAME: &str = "(randoms)";

/// The schema metadata key recording how the randoms were drawn (seed, rows, area).
pub const METADATA_KEY: &str = "angcut.randoms";

/// How many randoms to draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RandomCount {
    /// Exactly this many.
    Rows(u64),
    /// This many per square degree of the footprint (the whole sky without one), rounded.
    Density(f64),
}

/// What a user asks of `angcut randoms`, unchecked: the output, the count, the seed, and in
/// `stream` the options it shares with `angcut stream` (the mask, `--mask-bits`, `--cut-layers`,
/// `--invert`, `--flag-column`, `--rejected`, the output's format, threads, batch size). The
/// input, contaminant, coordinate and `--on-invalid` options do not apply: randoms have `ra`
/// and `dec`, always valid.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomsOptions {
    /// Where the randoms go (any output format `angcut stream` writes).
    pub output: PathBuf,
    /// How many.
    pub count: RandomCount,
    /// The same seed draws the same points.
    pub seed: u64,
    /// The options shared with `angcut stream` (its `paths` are set by [`RandomsOptions::plan`]).
    pub stream: StreamOptions,
}

/// A randoms run, checked: made by [`RandomsOptions::plan`], run by [`generate`].
#[derive(Debug, Clone)]
pub struct RandomsJob {
    stream: StreamJob,
    count: RandomCount,
    seed: u64,
}

impl RandomsJob {
    /// The stream job the randoms go through (for its summary as JSON).
    pub fn stream_job(&self) -> &StreamJob {
        &self.stream
    }
}

impl RandomsOptions {
    /// `count` randoms drawn with `seed` into `output`, uniform on the sky and unmasked.
    pub fn new(output: impl Into<PathBuf>, count: RandomCount, seed: u64) -> RandomsOptions {
        RandomsOptions { output: output.into(), count, seed, stream: StreamOptions::default() }
    }

    /// The job these options describe; a combination that cannot work is a usage error.
    pub fn plan(&self) -> Result<RandomsJob, Error> {
        let s = &self.stream;
        let o = |field| s.spelling.option(field);
        let not_for_randoms = [
            ("IN (paths)".to_string(), !s.paths.is_empty()),
            (o("out_dir"), s.out_dir.is_some()),
            (o("contaminants"), s.contaminants.is_some()),
            (o("ra"), s.ra.is_some()),
            (o("dec"), s.dec.is_some()),
            (o("hdu"), s.hdu.is_some()),
            (o("nearest_columns"), s.nearest_columns),
        ];
        let named: Vec<&str> =
            not_for_randoms.iter().filter(|(_, given)| *given).map(|(name, _)| name.as_str()).collect();
        if !named.is_empty() {
            return Err(Error::Usage(format!(
                "randoms are drawn, not read, and cut against a mask ({}): {} do not apply",
                o("masks"),
                named.join(", ")
            )));
        }
        match self.count {
            RandomCount::Density(d) if !(d.is_finite() && d > 0.0) => {
                let density = o("density");
                return Err(Error::Usage(format!("{density} {d}: give a positive number of randoms per deg2")));
            }
            _ => {}
        }
        let mut stream = s.clone();
        stream.paths = vec![PathBuf::from(GENERATED_NAME), self.output.clone()];
        // Without a mask the randoms go through the cut against no contaminants (which keeps
        // every row and adds nothing); the options that describe a mask are refused by `plan`.
        let job = if stream.masks.is_some() || !stream.contaminant_options().is_empty() {
            stream.plan()?
        } else {
            stream.plan_with_given_set()?
        };
        Ok(RandomsJob { stream: job, count: self.count, seed: self.seed })
    }
}

/// What a randoms run did: the stream's summary, and where and how many points were drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomsSummary {
    /// The summary of the cut the randoms went through.
    pub summary: Summary,
    /// The square degrees they were drawn in: the footprint's, or the whole sky.
    pub area_deg2: f64,
    /// Whether a footprint (the mask's `outside` layers) bounded them.
    pub footprint: bool,
    /// The seed.
    pub seed: u64,
}

impl RandomsSummary {
    /// The line `angcut randoms` prints on success: what was drawn, and, through a mask, what
    /// the cut did (without one, only what was written).
    pub fn line(&self) -> String {
        let within = if self.footprint { "the footprint's" } else { "the whole sky's" };
        let c = &self.summary.counts;
        let drawn =
            format!("angcut: drew {} randoms in {within} {:.4} deg2 (seed {})", c.read, self.area_deg2, self.seed);
        if self.summary.layers.is_empty() {
            let rate = if self.summary.seconds > 0.0 { c.read as f64 / self.summary.seconds } else { 0.0 };
            return format!("{drawn}; wrote {} in {:.3} s ({rate:.0} rows/s)", c.written, self.summary.seconds);
        }
        format!("{drawn}; {}", self.summary.line().trim_start_matches("angcut: "))
    }
}

/// Draws the randoms of `job`, cuts them against its mask (if any) and writes them; the output
/// appears only if the run succeeds.
pub fn generate(job: &RandomsJob) -> Result<RandomsSummary, Error> {
    generate_with_progress(job, None)
}

/// [`generate`], telling `progress` how far it has got after each batch.
pub fn generate_with_progress(job: &RandomsJob, progress: Option<&mut Progress>) -> Result<RandomsSummary, Error> {
    let batch_size = job.stream.batch_size;
    let mask = match job.stream.mask_file() {
        Some(spec) => Some(Mask::read(spec, job.stream.kernel)?),
        None => None,
    };
    let footprint = match &mask {
        Some(mask) => mask.footprint()?,
        None => None,
    };
    let region = Region::new(footprint.as_ref());
    let area_deg2 = region.cells as f64 / SKY_CELLS as f64 * SKY_DEG2;
    let rows = match job.count {
        RandomCount::Rows(rows) => rows,
        RandomCount::Density(density) => (density * area_deg2).round() as u64,
    };
    if region.cells == 0 && rows > 0 {
        return Err(Error::Usage(
            "the footprint layers of the mask have no cell in common: no randoms can be drawn".into(),
        ));
    }
    let record = format!("{{\"seed\":{},\"rows\":{rows},\"area_deg2\":{area_deg2}}}", job.seed);
    let draw = Arc::new(Draw { region, rows, seed: job.seed, batch_size, schema: schema(record) });
    let source =
        Catalogue { source: Box::new(draw.part_source(0, rows)), format: InputFormat::Generated, rows: Some(rows) };
    let summary = match &mask {
        Some(mask) => {
            // The mask is at hand: the job cuts against it as given, not read again.
            let mut given_job = job.stream.clone();
            if let Some((spec, _)) = &mut given_job.masks {
                *spec = None;
            }
            stream_generated(&given_job, source, Given::Mask(mask), progress)?
        }
        None => {
            // Any radius: no contaminant has it.
            let radius = SearchRadius::parse("1arcsec").map_err(|e| Error::Usage(e.to_string()))?;
            let nothing = ContaminantSet::from_degrees(&[], &[], Radii::Uniform(radius))?;
            let index = nothing.index(KernelChoice::Naive)?;
            stream_generated(&job.stream, source, Given::Set(&nothing, &index), progress)?
        }
    };
    Ok(RandomsSummary { summary, area_deg2, footprint: footprint.is_some(), seed: job.seed })
}

/// The columns of the randoms: `ra` and `dec` in degrees, and how they were drawn.
fn schema(record: String) -> SchemaRef {
    let unit = |name: &str| {
        let metadata: HashMap<String, String> = [("unit".to_string(), "deg".to_string())].into();
        Field::new(name, DataType::Float64, false).with_metadata(metadata)
    };
    let metadata: HashMap<String, String> = [(METADATA_KEY.to_string(), record)].into();
    Arc::new(Schema::new_with_metadata(vec![unit("ra"), unit("dec")], metadata))
}

/// The cells randoms are drawn in: depth-29 ranges, and the cells before each range ends.
struct Region {
    starts: Vec<u64>,
    ends_before: Vec<u64>,
    cells: u64,
}

impl Region {
    /// The footprint's cells, or the whole sky's.
    fn new(footprint: Option<&Cells>) -> Region {
        let ranges: Vec<std::ops::Range<u64>> = match footprint {
            Some(cells) => cells.moc_ranges().iter().cloned().collect(),
            None => std::iter::once(0..SKY_CELLS).collect(),
        };
        let mut cells = 0;
        let mut ends_before = Vec::with_capacity(ranges.len());
        for r in &ranges {
            cells += r.end - r.start;
            ends_before.push(cells);
        }
        Region { starts: ranges.iter().map(|r| r.start).collect(), ends_before, cells }
    }

    /// A point uniform in the region: a cell uniform among its cells, a position uniform in it.
    fn point(&self, rng: &mut SplitMix64) -> (f64, f64) {
        let k = rng.below(self.cells);
        let range = self.ends_before.partition_point(|&end| end <= k);
        let before = if range == 0 { 0 } else { self.ends_before[range - 1] };
        let cell = self.starts[range] + (k - before);
        let (dx, dy) = (rng.next_f64(), rng.next_f64());
        let (lon, lat) = nested::sph_coo(DEPTH_MAX, cell, dx, dy);
        let ra = lon.to_degrees();
        // lon < 2 pi, but its degrees may round up to 360.
        (if ra >= 360.0 { ra - 360.0 } else { ra }, lat.to_degrees().clamp(-90.0, 90.0))
    }
}

/// Everything that draws a run's rows, shared by its parts.
struct Draw {
    region: Region,
    rows: u64,
    seed: u64,
    batch_size: usize,
    schema: SchemaRef,
}

impl Draw {
    /// The source of rows `first..first + rows` (`first` at a block's start).
    fn part_source(self: &Arc<Self>, first: u64, rows: u64) -> RandomSource {
        RandomSource {
            draw: Arc::clone(self),
            next: first,
            end: first + rows,
            rng: None,
            path: PathBuf::from(GENERATED_NAME),
        }
    }
}

/// Rows of a run, drawn batch by batch.
struct RandomSource {
    draw: Arc<Draw>,
    next: u64,
    end: u64,
    rng: Option<SplitMix64>,
    path: PathBuf,
}

impl BatchSource for RandomSource {
    fn path(&self) -> &Path {
        &self.path
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.draw.schema)
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        if self.next >= self.end {
            return None;
        }
        let n = (self.end - self.next).min(self.draw.batch_size as u64);
        let (mut ra, mut dec) = (Vec::with_capacity(n as usize), Vec::with_capacity(n as usize));
        for row in self.next..self.next + n {
            if row % BLOCK_ROWS == 0 || self.rng.is_none() {
                self.rng = Some(SplitMix64::stream(self.draw.seed, row / BLOCK_ROWS));
            }
            let rng = self.rng.as_mut().expect("set just above");
            let (r, d) = self.draw.region.point(rng);
            ra.push(r);
            dec.push(d);
        }
        self.next += n;
        let columns = vec![Arc::new(Float64Array::from(ra)) as _, Arc::new(Float64Array::from(dec)) as _];
        Some(
            RecordBatch::try_new(self.schema(), columns)
                .map_err(|source| Error::Arrow { path: self.path.clone(), source }),
        )
    }

    fn parts(&self) -> Option<Arc<dyn Parts>> {
        // The whole run, before any batch: its blocks are drawn on as many lanes as there are threads.
        (self.next == 0 && self.rng.is_none()).then(|| Arc::new(Blocks(Arc::clone(&self.draw))) as Arc<dyn Parts>)
    }
}

/// A run's blocks as parts of its rows.
struct Blocks(Arc<Draw>);

impl Parts for Blocks {
    fn count(&self) -> usize {
        self.0.rows.div_ceil(BLOCK_ROWS) as usize
    }

    fn rows(&self, part: usize) -> u64 {
        let first = part as u64 * BLOCK_ROWS;
        BLOCK_ROWS.min(self.0.rows.saturating_sub(first))
    }

    fn open(&self, part: usize) -> Result<Box<dyn BatchSource>, Error> {
        Ok(Box::new(self.0.part_source(part as u64 * BLOCK_ROWS, self.rows(part))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::MaskSpec;
    use crate::mask::area::area;
    use crate::mask::pixels::cell_at;
    use crate::spelling::Spelling;
    use arrow::array::{Array, UInt8Array};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn read(path: &Path) -> RecordBatch {
        let file = std::fs::File::open(path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
        let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
        arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
    }

    fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
        batch.column_by_name(name).unwrap().as_any().downcast_ref::<T>().unwrap()
    }

    /// A footprint (the discs MOC as `outside`), the bright stars, and the same discs as a
    /// HealSparse map.
    const MASK: &str = "[[layer]]\nname = \"star\"\nfile = \"hip2_bright.parquet\"\nradius_from_mag = \"hpmag\"\nmax_radius = \"0.5deg\"\n\
        [[layer]]\nname = \"footprint\"\nfile = \"pixels/discs.moc.fits\"\noutside = true\n";

    fn mask_file(dir: &Path) -> PathBuf {
        let path = dir.join("mask.toml");
        let absolute = std::fs::canonicalize("fixtures").unwrap();
        std::fs::write(&path, MASK.replace("file = \"", &format!("file = \"{}/", absolute.display()))).unwrap();
        path
    }

    fn run(options: &RandomsOptions) -> RandomsSummary {
        generate(&options.plan().unwrap()).unwrap()
    }

    #[test]
    fn the_same_seed_draws_the_same_rows_whatever_the_threads_and_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut written = Vec::new();
        for (threads, batch) in [(1, 65_536), (2, 1_000), (3, 100_000)] {
            let out = dir.path().join(format!("r{threads}.parquet"));
            let mut options = RandomsOptions::new(&out, RandomCount::Rows(150_001), 11);
            options.stream.threads = Some(threads);
            options.stream.batch_size = Some(batch);
            assert_eq!(run(&options).summary.counts.written, 150_001);
            written.push(read(&out));
        }
        assert_eq!(written[0], written[1]);
        assert_eq!(written[0], written[2]);
        let other = dir.path().join("other.parquet");
        run(&RandomsOptions::new(&other, RandomCount::Rows(150_001), 12));
        assert_ne!(read(&other).column(0), written[0].column(0), "another seed, other points");
    }

    /// Uniform on the sphere: the counts in the 192 cells of depth 2 (equal areas) pass a
    /// chi-square test at the 1e-6 level, and sin(dec) and RA have the moments of uniform ones.
    #[test]
    fn the_whole_sky_is_drawn_uniformly() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("r.parquet");
        run(&RandomsOptions::new(&out, RandomCount::Rows(192_000), 3));
        let batch = read(&out);
        let (ra, dec) = (column::<Float64Array>(&batch, "ra"), column::<Float64Array>(&batch, "dec"));
        let mut counts = [0u64; 192];
        let (mut sin_dec, mut ra_sum) = (0.0, 0.0);
        for (&r, &d) in ra.values().iter().zip(dec.values()) {
            assert!((0.0..360.0).contains(&r) && (-90.0..=90.0).contains(&d));
            counts[(cell_at(r, d) >> (2 * (DEPTH_MAX - 2))) as usize] += 1;
            sin_dec += d.to_radians().sin();
            ra_sum += r;
        }
        let chi2: f64 = counts.iter().map(|&c| (c as f64 - 1000.0).powi(2) / 1000.0).sum();
        assert!(chi2 < 191.0 + 5.0 * (2.0f64 * 191.0).sqrt(), "chi2 {chi2}");
        // Means of uniform sin(dec) (0, sd 1/sqrt(3)) and RA (180, sd 360/sqrt(12)), within 5 sigma.
        let n = 192_000.0f64;
        assert!((sin_dec / n).abs() < 5.0 / (3.0 * n).sqrt(), "{}", sin_dec / n);
        assert!((ra_sum / n - 180.0).abs() < 5.0 * 360.0 / (12.0 * n).sqrt(), "{}", ra_sum / n);
    }

    /// Within a footprint: every point inside it, as many as its area asks for, and their bits
    /// those `angcut stream` gives the same rows through the same mask.
    #[test]
    fn randoms_in_a_footprint_carry_the_bits_the_data_get() {
        let dir = tempfile::tempdir().unwrap();
        let masks = mask_file(dir.path());
        let out = dir.path().join("r.parquet");
        let mut options = RandomsOptions::new(&out, RandomCount::Density(500.0), 9);
        options.stream.masks = Some(masks.clone());
        options.stream.mask_bits = Some("bits".into());
        let summary = run(&options);
        // The footprint is the discs MOC: mocpy's area for it (fixtures/pixels/areas.csv).
        assert!((summary.area_deg2 - 123.330_266_974_819).abs() < 1e-9, "{}", summary.area_deg2);
        assert!(summary.footprint);
        assert_eq!(summary.summary.counts.read, (500.0 * summary.area_deg2).round() as u64);
        let drawn = read(&out);
        let bits = column::<UInt8Array>(&drawn, "bits");
        assert_eq!(bits.null_count(), 0);
        assert!(bits.values().iter().all(|b| b & 0b10 == 0), "no random lies outside the footprint");
        let near_stars = bits.values().iter().filter(|&&b| b == 1).count();
        assert!(near_stars > 0 && near_stars as u64 == summary.summary.counts.layers[0]);

        // The same rows as data, through `stream` and the same mask.
        let plain = dir.path().join("plain.parquet");
        let mut unmasked = RandomsOptions::new(&plain, RandomCount::Density(500.0), 9);
        unmasked.stream.masks = Some(masks.clone());
        unmasked.stream.cut_layers = vec!["footprint".into()];
        run(&unmasked);
        let streamed = dir.path().join("streamed.parquet");
        let mut stream = StreamOptions::new(&plain, &streamed, "");
        stream.contaminants = None;
        stream.masks = Some(masks);
        stream.mask_bits = Some("bits".into());
        crate::stream_file(&stream.plan().unwrap()).unwrap();
        assert_eq!(read(&streamed).columns(), drawn.columns());
    }

    /// Cut by a layer, the randoms left are within 5 sigma of the count the layer's area leaves.
    #[test]
    fn a_cut_leaves_the_count_the_area_predicts() {
        let dir = tempfile::tempdir().unwrap();
        let masks = mask_file(dir.path());
        let only_stars = dir.path().join("stars.toml");
        std::fs::write(
            &only_stars,
            std::fs::read_to_string(&masks).unwrap().split("[[layer]]\nname = \"footprint\"").next().unwrap(),
        )
        .unwrap();
        let out = dir.path().join("r.parquet");
        let n = 400_000u64;
        let mut options = RandomsOptions::new(&out, RandomCount::Rows(n), 4);
        options.stream.masks = Some(only_stars.clone());
        let kept = run(&options).summary.counts.written as f64;
        let mask =
            Mask::read(&MaskSpec::read(&only_stars, None, Spelling::CommandLine).unwrap(), KernelChoice::Auto).unwrap();
        // Order 14 (cells of ~13 arcsec) puts the best value well within the 5 sigma (~10% of p).
        let p = area(&mask, Some(14)).unwrap().union.best / SKY_DEG2;
        let expected = n as f64 * (1.0 - p);
        let sigma = (n as f64 * p * (1.0 - p)).sqrt();
        assert!((kept - expected).abs() < 5.0 * sigma, "kept {kept}, expected {expected} +- {sigma}");
        assert!(kept < n as f64, "the stars cut some");
    }

    #[test]
    fn options_that_do_not_apply_are_refused() {
        let mut options = RandomsOptions::new("r.parquet", RandomCount::Rows(10), 1);
        options.stream.ra = Some("RA".into());
        options.stream.contaminants = Some("stars.parquet".into());
        let error = options.plan().unwrap_err();
        assert!(error.is_usage() && error.to_string().contains("--contaminants, --ra do not apply"), "{error}");
        let mut density = RandomsOptions::new("r.parquet", RandomCount::Density(-1.0), 1);
        assert!(density.plan().unwrap_err().to_string().contains("--density -1"));
        density.count = RandomCount::Rows(5);
        density.stream.mask_bits = Some("bits".into());
        assert!(density.plan().unwrap_err().to_string().contains("--masks, which is not given"));
    }
}
