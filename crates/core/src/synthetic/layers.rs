//! Synthetic mask layers for the survey-mask benchmark: stars with magnitudes and proper motions
//! (a Gaia-like star mask) and galaxies with axes and position angles (a large-galaxy atlas).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::SplitMix64;

/// id int64, ra, dec float64 (deg), mag float32, pmra, pmdec float64 (mas/yr, pmra including
/// cos dec; 2% null: stars without a proper motion).
pub fn stars_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("ra", DataType::Float64, false),
        Field::new("dec", DataType::Float64, false),
        Field::new("mag", DataType::Float32, false),
        Field::new("pmra", DataType::Float64, true),
        Field::new("pmdec", DataType::Float64, true),
    ]))
}

/// Stars at the given positions: counts growing as 10^(0.35 mag) up to mag 16 (few bright, many
/// faint, as a magnitude-limited star list), proper motions of ~15 mas/yr with a 1% tail of
/// ~300 mas/yr (nearby stars).
pub fn stars_batch(first_id: i64, ra: Vec<f64>, dec: Vec<f64>, rng: &mut SplitMix64) -> RecordBatch {
    let n = ra.len();
    let mag: Float32Array =
        (0..n).map(|_| (16.0 + (1.0 - rng.next_f64()).log10() / 0.35).max(-1.5) as f32).map(Some).collect();
    let mut motion = || {
        if rng.chance(0.02) {
            return None;
        }
        let sigma = if rng.chance(0.01) { 300.0 } else { 15.0 };
        Some(rng.next_normal() * sigma)
    };
    let (pmra, pmdec): (Vec<Option<f64>>, Vec<Option<f64>>) =
        (0..n).map(|_| motion().map_or((None, None), |x| (Some(x), motion().or(Some(0.0))))).unzip();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(first_id..first_id + n as i64)),
        Arc::new(Float64Array::from(ra)),
        Arc::new(Float64Array::from(dec)),
        Arc::new(mag),
        Arc::new(Float64Array::from(pmra)),
        Arc::new(Float64Array::from(pmdec)),
    ];
    RecordBatch::try_new(stars_schema(), columns).expect("columns match the stars schema")
}

/// id int64, ra, dec float64 (deg), d25 float64 (major axis, arcsec, a diameter), ba float64
/// (axis ratio; 3% null: round), pa float64 (deg east of north; 3% null).
pub fn galaxies_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("ra", DataType::Float64, false),
        Field::new("dec", DataType::Float64, false),
        Field::new("d25", DataType::Float64, false),
        Field::new("ba", DataType::Float64, true),
        Field::new("pa", DataType::Float64, true),
    ]))
}

/// Galaxies at the given positions: diameters log-normal around 20 arcsec (a few arcminutes
/// at the top), axis ratios 0.1 to 1, position angles 0 to 180 deg.
pub fn galaxies_batch(first_id: i64, ra: Vec<f64>, dec: Vec<f64>, rng: &mut SplitMix64) -> RecordBatch {
    let n = ra.len();
    let d25: Float64Array = (0..n).map(|_| Some(10f64.powf(1.3 + 0.3 * rng.next_normal()).min(1800.0))).collect();
    let ba: Float64Array = (0..n).map(|_| (!rng.chance(0.03)).then(|| 0.1 + 0.9 * rng.next_f64())).collect();
    let pa: Float64Array = (0..n).map(|_| (!rng.chance(0.03)).then(|| 180.0 * rng.next_f64())).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(first_id..first_id + n as i64)),
        Arc::new(Float64Array::from(ra)),
        Arc::new(Float64Array::from(dec)),
        Arc::new(d25),
        Arc::new(ba),
        Arc::new(pa),
    ];
    RecordBatch::try_new(galaxies_schema(), columns).expect("columns match the galaxies schema")
}
