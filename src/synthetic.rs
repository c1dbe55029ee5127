//! Deterministic synthetic catalogues: positions uniform on the sphere, for tests, fixtures and
//! benchmarks. The generator is written out here (SplitMix64) rather than taken from a crate so that
//! a seed gives the same catalogue on every platform and every version.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};

use crate::error::Error;
use crate::output::{BatchSink, ParquetFileSink, ParquetOutputOptions};

/// SplitMix64: tiny, fast, and good enough to scatter points on a sphere.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A position uniform on the sphere: ra = 360 u, dec = asin(2 v - 1), in degrees.
    pub fn next_position(&mut self) -> (f64, f64) {
        let ra = 360.0 * self.next_f64();
        let dec = (2.0 * self.next_f64() - 1.0).asin().to_degrees();
        (ra, dec)
    }
}

/// `n` positions (ra, dec) in degrees, uniform on the sphere.
pub fn uniform_positions(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| rng.next_position()).collect()
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
    let ids = (first_id..).take(n).collect::<Vec<i64>>();
    let columns: Vec<ArrayRef> =
        vec![Arc::new(Int64Array::from(ids)), Arc::new(Float64Array::from(ra)), Arc::new(Float64Array::from(dec))];
    RecordBatch::try_new(narrow_schema(), columns).expect("columns match the narrow schema")
}

/// Writes a narrow catalogue of `rows` uniform positions to `path` (atomically), `seed` fixing it.
pub fn write_narrow(path: &Path, rows: u64, seed: u64, options: &ParquetOutputOptions) -> Result<(), Error> {
    let mut sink = Box::new(ParquetFileSink::create(path, narrow_schema(), options)?);
    let mut rng = SplitMix64::new(seed);
    let mut written = 0u64;
    while written < rows {
        let n = (rows - written).min(65_536) as usize;
        sink.write(&narrow_batch(n, written as i64, &mut rng))?;
        written += n as u64;
    }
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
