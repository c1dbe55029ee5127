//! Deterministic synthetic catalogues for tests, fixtures and benchmarks: positions uniform on the
//! sphere or concentrated in a few dense patches, in a narrow (id, ra, dec) or a wide, survey-like
//! 23-column table, from [`crate::rng::SplitMix64`], so that a seed gives the same catalogue on every
//! platform and every version.

mod layers;
mod wide;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::Error;
use crate::io::write::{BatchSink, ParquetFileSink, ParquetOutputOptions};
use crate::sky::unit_vector;

pub use layers::{galaxies_batch, galaxies_schema, stars_batch, stars_schema};
pub use wide::{wide_batch, wide_schema};

pub use crate::rng::SplitMix64;

/// `n` positions (ra, dec) in degrees, uniform on the sphere.
pub fn uniform_positions(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| rng.next_position()).collect()
}

/// How positions are spread over the sky.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sky {
    /// Uniform on the sphere.
    #[default]
    Uniform,
    /// Most points in a few dense Gaussian patches (as survey footprints and clusters make real
    /// catalogues), the rest uniform: the case where a k-d tree and a grid behave differently.
    Clustered,
}

/// Patches of the clustered sky: how many, and the share of points they hold.
const PATCHES: usize = 12;
const IN_PATCHES: f64 = 0.85;

/// A clustered patch: a centre, two tangent directions, and a width in radians.
struct Patch {
    centre: [f64; 3],
    east: [f64; 3],
    north: [f64; 3],
    sigma: f64,
}

impl Patch {
    fn new(ra_deg: f64, dec_deg: f64, sigma_deg: f64) -> Patch {
        let (ra, dec) = (ra_deg.to_radians(), dec_deg.to_radians());
        Patch {
            centre: unit_vector(ra_deg, dec_deg),
            east: [-ra.sin(), ra.cos(), 0.0],
            north: [-dec.sin() * ra.cos(), -dec.sin() * ra.sin(), dec.cos()],
            sigma: sigma_deg.to_radians(),
        }
    }

    /// A point at a Gaussian offset from the centre, in degrees.
    fn scatter(&self, rng: &mut SplitMix64) -> (f64, f64) {
        let (dx, dy) = (self.sigma * rng.next_normal(), self.sigma * rng.next_normal());
        let v: [f64; 3] = std::array::from_fn(|k| self.centre[k] + dx * self.east[k] + dy * self.north[k]);
        let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        let dec = (v[2] / norm).clamp(-1.0, 1.0).asin().to_degrees();
        let ra = v[1].atan2(v[0]).to_degrees().rem_euclid(360.0);
        // rem_euclid of a tiny negative angle rounds to 360.0 itself.
        (if ra >= 360.0 { 0.0 } else { ra }, dec)
    }
}

/// An endless, deterministic stream of positions (ra, dec) in degrees.
pub struct Positions {
    rng: SplitMix64,
    patches: Vec<Patch>,
}

impl Positions {
    /// Positions on `sky`, the same for the same `seed`.
    pub fn new(sky: Sky, seed: u64) -> Positions {
        let patches = match sky {
            Sky::Uniform => Vec::new(),
            Sky::Clustered => {
                // The patches come from their own stream, so they do not depend on the row count.
                let mut rng = SplitMix64::new(seed ^ 0x5EED_C1A5_7E25_0000);
                (0..PATCHES)
                    .map(|_| {
                        let (ra, dec) = rng.next_position();
                        Patch::new(ra, dec, 0.5 + 2.5 * rng.next_f64())
                    })
                    .collect()
            }
        };
        Positions { rng: SplitMix64::new(seed), patches }
    }

    /// The next (ra, dec) in degrees: in a patch, or anywhere on the sky.
    pub fn next_position(&mut self) -> (f64, f64) {
        if self.patches.is_empty() || !self.rng.chance(IN_PATCHES) {
            return self.rng.next_position();
        }
        let patch = self.rng.below(self.patches.len() as u64) as usize;
        self.patches[patch].scatter(&mut self.rng)
    }
}

/// Which columns a synthetic catalogue has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableSchema {
    /// id int64, ra and dec float64.
    #[default]
    Narrow,
    /// 23 columns like a survey table: see [`wide_schema`].
    Wide,
    /// A star mask's columns, magnitudes and proper motions: see [`stars_schema`].
    Stars,
    /// A galaxy atlas's columns, axes and position angles: see [`galaxies_schema`].
    Galaxies,
}

impl FromStr for TableSchema {
    type Err = String;

    fn from_str(text: &str) -> Result<TableSchema, String> {
        match text.to_ascii_lowercase().as_str() {
            "narrow" => Ok(TableSchema::Narrow),
            "wide" => Ok(TableSchema::Wide),
            "stars" => Ok(TableSchema::Stars),
            "galaxies" => Ok(TableSchema::Galaxies),
            _ => Err(format!("unknown schema '{text}': use narrow, wide, stars or galaxies")),
        }
    }
}

/// The schema of a narrow catalogue: id int64, ra and dec float64 (degrees), none nullable.
pub fn narrow_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("ra", DataType::Float64, false),
        Field::new("dec", DataType::Float64, false),
    ]))
}

/// A narrow catalogue of `n` uniform positions with ids `first_id..first_id + n`.
pub fn narrow_batch(n: usize, first_id: i64, rng: &mut SplitMix64) -> RecordBatch {
    let (ra, dec): (Vec<f64>, Vec<f64>) = (0..n).map(|_| rng.next_position()).unzip();
    narrow_batch_from(first_id, ra, dec)
}

fn narrow_batch_from(first_id: i64, ra: Vec<f64>, dec: Vec<f64>) -> RecordBatch {
    let ids = (first_id..).take(ra.len()).collect::<Vec<i64>>();
    let columns: Vec<ArrayRef> =
        vec![Arc::new(Int64Array::from(ids)), Arc::new(Float64Array::from(ra)), Arc::new(Float64Array::from(dec))];
    RecordBatch::try_new(narrow_schema(), columns).expect("columns match the narrow schema")
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Catalogue {
    /// How many rows.
    pub rows: u64,
    /// The same seed gives the same rows.
    pub seed: u64,
    /// Which columns.
    pub schema: TableSchema,
    /// Where the positions lie.
    pub sky: Sky,
}

impl Catalogue {
    /// The columns of the catalogue.
    pub fn arrow_schema(&self) -> SchemaRef {
        match self.schema {
            TableSchema::Narrow => narrow_schema(),
            TableSchema::Wide => wide_schema(),
            TableSchema::Stars => stars_schema(),
            TableSchema::Galaxies => galaxies_schema(),
        }
    }
}

/// Rows per generated batch.
const GEN_BATCH: u64 = 65_536;

/// Writes `catalogue` to `path` (atomically). Narrow and wide catalogues of one seed and sky have
/// the same positions, row for row.
pub fn write_catalogue(path: &Path, catalogue: &Catalogue, options: &ParquetOutputOptions) -> Result<(), Error> {
    let schema = catalogue.arrow_schema();
    let mut sink = Box::new(ParquetFileSink::create(path, schema, options)?);
    let mut positions = Positions::new(catalogue.sky, catalogue.seed);
    // The other columns of the wide table come from their own stream, so positions stay the same.
    let mut values = SplitMix64::new(!catalogue.seed);
    let mut written = 0u64;
    while written < catalogue.rows {
        let n = (catalogue.rows - written).min(GEN_BATCH) as usize;
        let (ra, dec): (Vec<f64>, Vec<f64>) = (0..n).map(|_| positions.next_position()).unzip();
        let batch = match catalogue.schema {
            TableSchema::Narrow => narrow_batch_from(written as i64, ra, dec),
            TableSchema::Wide => wide_batch(written as i64, ra, dec, &mut values),
            TableSchema::Stars => stars_batch(written as i64, ra, dec, &mut values),
            TableSchema::Galaxies => galaxies_batch(written as i64, ra, dec, &mut values),
        };
        sink.write(&batch)?;
        written += n as u64;
    }
    sink.finish()?.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sky::chord2;

    #[test]
    fn same_seed_same_catalogue_and_dec_is_area_uniform() {
        let a = uniform_positions(20_000, 7);
        assert_eq!(a, uniform_positions(20_000, 7));
        assert_ne!(a, uniform_positions(20_000, 8));
        assert!(a.iter().all(|&(ra, dec)| (0.0..360.0).contains(&ra) && (-90.0..=90.0).contains(&dec)));
        // Uniform on the sphere: half the area lies at |dec| < 30deg.
        let band = a.iter().filter(|p| p.1.abs() < 30.0).count() as f64 / a.len() as f64;
        assert!((band - 0.5).abs() < 0.02, "{band}");
    }

    #[test]
    fn uniform_stream_matches_the_plain_generator() {
        let mut positions = Positions::new(Sky::Uniform, 7);
        let streamed: Vec<_> = (0..1000).map(|_| positions.next_position()).collect();
        assert_eq!(streamed, uniform_positions(1000, 7));
    }

    #[test]
    fn clustered_points_crowd_into_patches() {
        let mut positions = Positions::new(Sky::Clustered, 3);
        let points: Vec<_> = (0..20_000).map(|_| positions.next_position()).collect();
        assert!(points.iter().all(|&(ra, dec)| (0.0..360.0).contains(&ra) && (-90.0..=90.0).contains(&dec)));
        // Within 3 sigma (<= 7.5 deg) of some patch centre: the patches cover under 12 x 1.7% of
        // the sky, so a uniform sky would put ~20% there; the clustered one puts ~85% + background.
        let centres: Vec<_> = positions.patches.iter().map(|p| (p.centre, 3.0 * p.sigma)).collect();
        let near_patch = points
            .iter()
            .filter(|&&(ra, dec)| {
                let v = unit_vector(ra, dec);
                centres.iter().any(|&(c, r)| chord2(&v, &c) < (2.0 * (r / 2.0).sin()).powi(2))
            })
            .count();
        let share = near_patch as f64 / points.len() as f64;
        assert!(share > 0.8, "only {share} of the points are near a patch");
        let mut again = Positions::new(Sky::Clustered, 3);
        assert_eq!(points[..100], (0..100).map(|_| again.next_position()).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn scatter_is_centred_on_the_patch_and_has_its_width() {
        let patch = Patch::new(359.9, 89.0, 1.0); // across the RA seam, near the pole
        let mut rng = SplitMix64::new(11);
        let centre = patch.centre;
        let offsets: Vec<f64> = (0..10_000)
            .map(|_| {
                let (ra, dec) = patch.scatter(&mut rng);
                let chord = chord2(&unit_vector(ra, dec), &centre).sqrt();
                (2.0 * (chord / 2.0).asin()).to_degrees()
            })
            .collect();
        // The separation of a 2-D Gaussian offset is Rayleigh: mean sigma * sqrt(pi / 2).
        let mean = offsets.iter().sum::<f64>() / offsets.len() as f64;
        assert!((mean - (std::f64::consts::PI / 2.0).sqrt()).abs() < 0.03, "{mean}");
    }

    #[test]
    fn narrow_and_wide_share_positions() {
        let dir = tempfile::tempdir().unwrap();
        let options = ParquetOutputOptions::default();
        let read = |schema| {
            let path = dir.path().join(format!("{schema:?}.parquet"));
            let catalogue = Catalogue { rows: 70_000, seed: 5, schema, sky: Sky::Clustered };
            write_catalogue(&path, &catalogue, &options).unwrap();
            let file = std::fs::File::open(&path).unwrap();
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 100_000).unwrap();
            let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
            arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
        };
        let (narrow, wide) = (read(TableSchema::Narrow), read(TableSchema::Wide));
        assert_eq!(narrow.num_rows(), 70_000);
        assert_eq!(wide.num_columns(), 23);
        for name in ["id", "ra", "dec"] {
            assert_eq!(narrow.column_by_name(name).unwrap(), wide.column_by_name(name).unwrap(), "{name}");
        }
    }
}
