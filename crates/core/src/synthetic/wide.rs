//! The wide synthetic table: 23 columns with the mix of types, cardinalities and nulls of a real
//! survey catalogue, so that benchmarks exercise the Parquet reader and writer as real data does.

use std::fmt::Write;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, StringBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::SplitMix64;

const BANDS: [&str; 5] = ["u", "g", "r", "i", "z"];
/// Typical colours relative to r (mag).
const BAND_OFFSET: [f32; 5] = [1.6, 0.6, 0.0, -0.3, -0.5];
const OBJECT_TYPES: [&str; 4] = ["GALAXY", "STAR", "QSO", "UNKNOWN"];
const SURVEY_TAGS: [&str; 3] = ["DR10-south", "DR10-north", "DES-Y6"];

/// id int64, ra, dec float64, mag_u..mag_z float32, magerr_g/r/i float32 (5% null), flags, tile,
/// run (2% null), camcol, field, nobs int32, objname, objtype, survey_tag (10% null) strings,
/// redshift float64 (40% null), parent_id int64, is_primary bool.
pub fn wide_schema() -> SchemaRef {
    let mut fields = vec![
        Field::new("id", DataType::Int64, false),
        Field::new("ra", DataType::Float64, false),
        Field::new("dec", DataType::Float64, false),
    ];
    fields.extend(BANDS.iter().map(|b| Field::new(format!("mag_{b}"), DataType::Float32, false)));
    fields.extend(["g", "r", "i"].iter().map(|b| Field::new(format!("magerr_{b}"), DataType::Float32, true)));
    for (name, nullable) in
        [("flags", false), ("tile", false), ("run", true), ("camcol", false), ("field", false), ("nobs", false)]
    {
        fields.push(Field::new(name, DataType::Int32, nullable));
    }
    fields.extend([
        Field::new("objname", DataType::Utf8, false),
        Field::new("objtype", DataType::Utf8, false),
        Field::new("survey_tag", DataType::Utf8, true),
        Field::new("redshift", DataType::Float64, true),
        Field::new("parent_id", DataType::Int64, false),
        Field::new("is_primary", DataType::Boolean, false),
    ]);
    Arc::new(Schema::new(fields))
}

/// A wide batch at the given positions, ids from `first_id`, other values drawn from `rng`.
pub fn wide_batch(first_id: i64, ra: Vec<f64>, dec: Vec<f64>, rng: &mut SplitMix64) -> RecordBatch {
    let n = ra.len();
    let ids: Vec<i64> = (first_id..).take(n).collect();
    // r magnitudes skewed faint, as counts rise steeply with magnitude.
    let mag_r: Vec<f32> = (0..n).map(|_| (24.5 - 7.0 * rng.next_f64().powi(3)) as f32).collect();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(Float64Array::from(ra.clone())),
        Arc::new(Float64Array::from(dec.clone())),
    ];
    for offset in BAND_OFFSET {
        let mags = mag_r.iter().map(|&r| r + offset + 0.4 * (rng.next_f64() as f32 - 0.5));
        columns.push(Arc::new(Float32Array::from_iter_values(mags)));
    }
    for _ in 0..3 {
        let errors = mag_r.iter().map(|&r| {
            let sigma = 0.02 * 10f32.powf(0.3 * (r - 21.0)) * (0.8 + 0.4 * rng.next_f64() as f32);
            (!rng.chance(0.05)).then_some(sigma)
        });
        columns.push(Arc::new(Float32Array::from_iter(errors)));
    }
    let small = |rng: &mut SplitMix64, values: u64| rng.below(values) as i32;
    let flags = (0..n).map(|_| if rng.chance(0.8) { 0 } else { 1 << small(rng, 12) });
    columns.push(Arc::new(Int32Array::from_iter_values(flags)));
    // Survey tiles of 10 x 10 degrees: 648 of them.
    let tiles = ra.iter().zip(&dec).map(|(&r, &d)| (r / 10.0) as i32 * 18 + ((d + 90.0) / 10.0).min(17.0) as i32);
    columns.push(Arc::new(Int32Array::from_iter_values(tiles)));
    let runs = (0..n).map(|_| (!rng.chance(0.02)).then(|| 94 + 25 * small(rng, 300)));
    columns.push(Arc::new(Int32Array::from_iter(runs)));
    columns.push(Arc::new(Int32Array::from_iter_values((0..n).map(|_| 1 + small(rng, 6)))));
    columns.push(Arc::new(Int32Array::from_iter_values((0..n).map(|_| 11 + small(rng, 890)))));
    columns.push(Arc::new(Int32Array::from_iter_values((0..n).map(|_| 1 + small(rng, 8) * small(rng, 8)))));

    let mut names = StringBuilder::with_capacity(n, n * 20);
    let mut name = String::with_capacity(24);
    for (&r, &d) in ra.iter().zip(&dec) {
        name.clear();
        let _ = write!(name, "J{r:09.5}{d:+09.5}");
        names.append_value(&name);
    }
    columns.push(Arc::new(names.finish()));
    let types = (0..n).map(|_| OBJECT_TYPES[[0, 0, 0, 0, 0, 1, 1, 2, 3, 0][rng.below(10) as usize]]);
    columns.push(Arc::new(StringArray::from_iter_values(types)));
    let tags = (0..n).map(|_| (!rng.chance(0.1)).then(|| SURVEY_TAGS[rng.below(3) as usize]));
    columns.push(Arc::new(StringArray::from_iter(tags)));
    let redshifts = (0..n).map(|_| (!rng.chance(0.4)).then(|| 3.0 * rng.next_f64().powi(2)));
    columns.push(Arc::new(Float64Array::from_iter(redshifts)));
    // Most objects have no parent (0); deblended children point a few rows back.
    let parents = ids.iter().map(|&id| if rng.chance(0.85) { 0 } else { (id - 1 - rng.below(5) as i64).max(0) });
    columns.push(Arc::new(Int64Array::from_iter_values(parents)));
    columns.push(Arc::new((0..n).map(|_| Some(rng.chance(0.9))).collect::<BooleanArray>()));
    RecordBatch::try_new(wide_schema(), columns).expect("columns match the wide schema")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    #[test]
    fn wide_batch_has_the_documented_columns_and_nulls() {
        let mut positions = SplitMix64::new(1);
        let (ra, dec): (Vec<f64>, Vec<f64>) = (0..20_000).map(|_| positions.next_position()).unzip();
        let batch = wide_batch(100, ra, dec, &mut SplitMix64::new(2));
        assert_eq!(batch.num_columns(), 23);
        assert_eq!(batch.num_rows(), 20_000);
        let null_share = |name: &str| {
            let column = batch.column_by_name(name).unwrap();
            column.null_count() as f64 / column.len() as f64
        };
        for (name, share) in [("magerr_g", 0.05), ("magerr_i", 0.05), ("run", 0.02), ("survey_tag", 0.1)] {
            assert!((null_share(name) - share).abs() < 0.01, "{name}: {}", null_share(name));
        }
        assert!((null_share("redshift") - 0.4).abs() < 0.02);
        assert_eq!(null_share("objname"), 0.0);
        let names = batch.column_by_name("objname").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        assert!(names.value(0).starts_with('J') && names.value(0).len() == 19, "{}", names.value(0));
        let tiles = batch.column_by_name("tile").unwrap().as_any().downcast_ref::<Int32Array>().unwrap();
        assert!(tiles.values().iter().all(|t| (0..648).contains(t)));
    }
}
