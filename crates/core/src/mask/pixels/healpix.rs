//! Plain HEALPix maps as healpy (and the HEALPix FITS convention) write them: a binary table in
//! the first extension, `NSIDE`, `ORDERING` RING or NESTED, and either every pixel in order
//! (`INDXSCHM = 'IMPLICIT'`, rows of `1024E` and the like) or a `PIXEL` column beside the values
//! (`'EXPLICIT'`, a partial map). Read through cfitsio's column reader, a block at a time, into
//! the cells the rule holds: memory is the held cells, not the map.

use std::path::Path;

use cdshealpix::nested;

use super::{
    Cells, Judge, PixelRule, READ_BLOCK, Sentinel, ValueKind, cells_from, depth_of, header_number, header_text,
};
use crate::error::Error;
use crate::io::fits::{FitsHandle, table_columns};

/// healpy's UNSEEN, the float maps' "no data" unless `BAD_DATA` says otherwise.
pub(super) const UNSEEN: f64 = -1.6375e30;

/// The cells of the HEALPix map at `path` that `rule` holds.
pub(super) fn read(path: &Path, rule: &PixelRule) -> Result<Cells, Error> {
    let failed = |message: String| Error::PixelMap { path: path.to_path_buf(), message };
    let mut fits = FitsHandle::open(path, false)?;
    let hdus = fits.hdus()?;
    if hdus.len() < 2 {
        return Err(failed("no table extension: a HEALPix map is a binary table in HDU 1".into()));
    }
    fits.move_to(1)?;
    let cards = fits.cards()?;
    let depth = depth_of(header_number(&cards, "NSIDE"), path)?;
    let ring = match header_text(&cards, "ORDERING").as_deref() {
        Some("RING") => true,
        Some("NESTED") => false,
        other => return Err(failed(format!("ORDERING {other:?}: a HEALPix map is RING or NESTED"))),
    };
    let explicit = header_text(&cards, "INDXSCHM").as_deref() == Some("EXPLICIT");
    let (columns, _) = table_columns(path, &cards)?;
    let rows = header_number(&cards, "NAXIS2").unwrap_or(0.0) as u64;
    let pixel = columns.iter().position(|c| c.name.eq_ignore_ascii_case("PIXEL"));
    let value = match (explicit, pixel) {
        (true, None) => return Err(failed("INDXSCHM = 'EXPLICIT' but no PIXEL column".into())),
        (true, Some(p)) => columns.iter().enumerate().position(|(i, _)| i != p),
        (false, _) => (!columns.is_empty()).then_some(0),
    };
    let Some(value) = value else { return Err(failed("no column of values".into())) };
    let column = &columns[value];
    let kind = match column.code {
        'E' | 'D' => ValueKind::Float,
        'B' | 'I' | 'J' | 'K' => ValueKind::Integer,
        'L' => ValueKind::Boolean,
        other => return Err(failed(format!("column '{}' of type '{other}' is not a map's values", column.name))),
    };
    let bad_data = header_number(&cards, "BAD_DATA");
    let sentinel = match kind {
        ValueKind::Float if column.code == 'E' => Sentinel::Float32(bad_data.unwrap_or(UNSEEN) as f32),
        ValueKind::Float => Sentinel::Float64(bad_data.unwrap_or(UNSEEN)),
        _ => bad_data.or(column.null.map(|n| n as f64)).map_or(Sentinel::None, |s| Sentinel::Integer(s as i64)),
    };
    let judge = Judge::new(rule, kind, sentinel, path)?;
    let cells = 12u64 << (2 * depth);
    let repeat = column.repeat as u64;
    let total = rows * repeat;
    let first_pixel = header_number(&cards, "FIRSTPIX").unwrap_or(0.0) as u64;
    if !explicit && first_pixel + total > cells {
        return Err(failed(format!("{total} values from pixel {first_pixel}: NSIDE {} has {cells}", 1u64 << depth)));
    }
    let layer = nested::get(depth);
    let mut held = Vec::new();
    let (mut values, mut floats, mut pixels) = (Vec::new(), Vec::new(), Vec::new());
    let mut first = 0u64;
    while first < total {
        let n = (total - first).min(READ_BLOCK as u64) as usize;
        let ok: Vec<bool> = if kind == ValueKind::Float {
            floats.resize(n, 0f64);
            fits.read_column(value, repeat, first, &mut floats)?;
            floats.iter().map(|&v| judge.float(v)).collect()
        } else {
            values.resize(n, 0i64);
            fits.read_column(value, repeat, first, &mut values)?;
            values.iter().map(|&v| judge.integer(v)).collect()
        };
        if explicit {
            pixels.resize(n, 0i64);
            let (p, p_repeat) = (pixel.unwrap_or(0), columns[pixel.unwrap_or(0)].repeat as u64);
            fits.read_column(p, p_repeat, first, &mut pixels)?;
        }
        for (k, _) in ok.iter().enumerate().filter(|(_, ok)| **ok) {
            let index = if explicit { pixels[k] as u64 } else { first_pixel + first + k as u64 };
            if index >= cells {
                return Err(failed(format!(
                    "pixel {index} at row {}: NSIDE {} has {cells}",
                    (first + k as u64) / repeat + 1,
                    1u64 << depth
                )));
            }
            held.push(if ring { layer.from_ring(index) } else { index });
        }
        first += n as u64;
    }
    Ok(cells_from(depth, held))
}
