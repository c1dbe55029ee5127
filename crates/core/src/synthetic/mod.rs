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

pub use layers::{galaxies_batch, galaxies_schema, stars_batch, stars_schema};
pub use wide::{wide_batch, wide_schema};

pub use crate::rng::SplitMix64;
pub use angcut_sky::positions::{Positions, Sky, uniform_positions};

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
