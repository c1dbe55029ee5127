//! Pixel-map layers: HealSparse maps, plain HEALPix maps (as healpy writes them) and MOCs. A
//! layer holds the cells its [`PixelRule`] picks; an object is in the layer when the NESTED
//! cell of its exact position is one of them.
//!
//! The HEALPix arithmetic is the CDS's (`cdshealpix`, `moc`): an object's cell is hashed once at
//! depth 29, and its cell at any coarser depth is that hash shifted (NESTED numbering is
//! hierarchical, and cdshealpix scales the projected position by a power of two, so the shifted
//! hash is bit for bit the hash at that depth). The cells a layer holds are a `RangeMOC` at depth
//! 29, so a lookup is one binary search, whatever the map's own resolution.
//!
//! ```
//! use std::path::Path;
//! use angcut::mask::pixels::{PixelMap, PixelRule, cell_of};
//! use angcut::unit_vector;
//! let moc = PixelMap::open(Path::new("fixtures/pixels/discs.moc.fits"), &PixelRule::default()).unwrap();
//! assert!(moc.holds(cell_of(&unit_vector(10.0, 20.0))).unwrap()); // the centre of a disc
//! assert!(!moc.holds(cell_of(&unit_vector(10.0, 30.0))).unwrap());
//! ```

mod healpix;
mod healsparse;
mod lookup;
mod moc_file;

use std::path::{Path, PathBuf};

use cdshealpix::nested;
use moc::moc::range::RangeMOC;
use moc::qty::Hpx;

use crate::error::Error;
pub(crate) use crate::io::fits::header_text;
use crate::io::fits::parse_card;
pub use crate::io::formats::PixelFormat;
use crate::sky::UnitVector;

use healsparse::HealSparse;
use lookup::Lookup;

/// The depth every lookup hashes at: the finest HEALPix depth (cells of ~0.4 mas).
pub const DEPTH_MAX: u8 = 29;

/// The cells a layer holds, at depth 29.
pub type Cells = RangeMOC<u64, Hpx<u64>>;

/// The cells of the sphere at depth 29: 12 x 4^29.
pub const SKY_CELLS: u64 = 12 << 58;

/// Which cells of a map a layer holds (the layer's `bits`, `below`, `above` and `outside` keys).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PixelRule {
    /// Integer and wide-mask maps: cells with any of these bits set. Otherwise every valid cell
    /// (not the sentinel, not zero, not NaN) is held.
    pub bits: Option<Vec<u32>>,
    /// Float (and integer) maps: cells whose value is below this (a depth cut).
    pub below: Option<f64>,
    /// Float (and integer) maps: cells whose value is above this (a seeing cut). With `below`
    /// too, a cell is held when its value is outside `below ..= above`.
    pub above: Option<f64>,
    /// The layer holds what the map does *not* hold: a footprint's outside.
    pub outside: bool,
}

/// What a map's values are, for the rule to judge: it says which rules fit which maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// Booleans (also bit-packed): held where true.
    Boolean,
    /// Integers: bits and ranges apply.
    Integer,
    /// Floats: ranges apply.
    Float,
    /// Wide bit masks: bits apply.
    Wide,
    /// A MOC: its cells, no values.
    Coverage,
}

impl PixelRule {
    /// A usage error if the rule does not fit a map of `kind` values (`bits` on a float map, ...).
    pub(crate) fn check(&self, kind: ValueKind, path: &Path) -> Result<(), Error> {
        let usage = |what: &str| Err(Error::Usage(format!("{}: {what}", path.display())));
        if self.bits.is_some() && !matches!(kind, ValueKind::Integer | ValueKind::Wide) {
            return usage(&format!("bits apply to integer and wide-mask maps; this is a {kind:?} map"));
        }
        if (self.below.is_some() || self.above.is_some()) && !matches!(kind, ValueKind::Integer | ValueKind::Float) {
            return usage(&format!("below and above apply to float and integer maps; this is a {kind:?} map"));
        }
        if let Some(bits) = &self.bits {
            let limit = if kind == ValueKind::Integer { 64 } else { u32::MAX };
            if let Some(bit) = bits.iter().find(|&&b| b >= limit) {
                return usage(&format!("bit {bit} is past an integer map's 64 bits"));
            }
        }
        Ok(())
    }

    /// Whether an integer map's valid value is held.
    #[inline]
    fn holds_integer(&self, value: i64, mask: u64) -> bool {
        if self.bits.is_some() {
            return value as u64 & mask != 0;
        }
        if self.below.is_some() || self.above.is_some() {
            return self.holds_float(value as f64);
        }
        value != 0
    }

    /// Whether a float map's valid (not sentinel, not NaN) value is held.
    #[inline]
    fn holds_float(&self, value: f64) -> bool {
        match (self.below, self.above) {
            (None, None) => value != 0.0,
            (Some(below), None) => value < below,
            (None, Some(above)) => value > above,
            (Some(below), Some(above)) => value < below || value > above,
        }
    }

    /// The bits as one 64-bit mask (integer maps).
    fn mask(&self) -> u64 {
        self.bits.iter().flatten().filter(|&&b| b < 64).fold(0, |m, &b| m | 1 << b)
    }
}

/// A map's "no data" value, as its header gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Sentinel {
    /// No sentinel: every value is data.
    None,
    /// An integer map's.
    Integer(i64),
    /// A float64 map's, as a header card writes it (to ~15 digits: compared within 1e-14).
    Float64(f64),
    /// A float32 map's, compared as float32 (the card's digits round to it).
    Float32(f32),
}

/// A rule and a map's sentinel: whether each value is held.
pub(crate) struct Judge {
    pub(crate) rule: PixelRule,
    mask: u64,
    sentinel: Sentinel,
}

impl Judge {
    /// A judge of a map of `kind` values with `sentinel`, after checking that `rule` fits it.
    pub(crate) fn new(rule: &PixelRule, kind: ValueKind, sentinel: Sentinel, path: &Path) -> Result<Judge, Error> {
        rule.check(kind, path)?;
        Ok(Judge { rule: rule.clone(), mask: rule.mask(), sentinel })
    }

    /// Whether an integer value is held.
    #[inline]
    pub(crate) fn integer(&self, value: i64) -> bool {
        self.sentinel != Sentinel::Integer(value) && self.rule.holds_integer(value, self.mask)
    }

    /// Whether a float value is held.
    #[inline]
    pub(crate) fn float(&self, value: f64) -> bool {
        let sentinel = match self.sentinel {
            Sentinel::Float64(s) => (value - s).abs() <= 1e-14 * s.abs(),
            Sentinel::Float32(s) => value as f32 == s,
            Sentinel::Integer(s) => value == s as f64,
            Sentinel::None => false,
        };
        !value.is_nan() && !sentinel && self.rule.holds_float(value)
    }

    /// Whether a wide mask's bytes (bit `b` in byte `b / 8`, as healsparse packs them) are held.
    #[inline]
    pub(crate) fn wide(&self, bytes: &[u8]) -> bool {
        match &self.rule.bits {
            None => bytes.iter().any(|&b| b != 0),
            Some(bits) => bits.iter().any(|&b| bytes.get(b as usize / 8).is_some_and(|&byte| byte >> (b % 8) & 1 == 1)),
        }
    }
}

/// A pixel map read for lookups: eagerly (MOCs and HEALPix maps, as their held cells) or a
/// coverage block at a time (HealSparse).
pub struct PixelMap {
    path: PathBuf,
    rule: PixelRule,
    cells: Held,
}

/// How a map's held cells are kept.
enum Held {
    /// Read whole: the map's depth and its held cells.
    Cells { depth: u8, lookup: Lookup },
    /// A HealSparse map, read a coverage block at a time as objects reach it.
    HealSparse(HealSparse),
}

/// The number value of `key` in `cards`.
pub(crate) fn header_number(cards: &[String], key: &str) -> Option<f64> {
    cards.iter().map(|c| parse_card(c)).find(|(k, _)| k == key).and_then(|(_, v)| v?.number())
}

/// The HEALPix depth of `nside` (a power of two up to 2^29), or an error naming `path`.
pub(crate) fn depth_of(nside: Option<f64>, path: &Path) -> Result<u8, Error> {
    let bad = || Error::PixelMap {
        path: path.to_path_buf(),
        message: format!("NSIDE {nside:?} is not a power of two up to 2^29"),
    };
    let nside = nside.ok_or_else(bad)?;
    if nside < 1.0 || nside > f64::from(1u32 << 29) || nside.fract() != 0.0 || !(nside as u64).is_power_of_two() {
        return Err(bad());
    }
    Ok((nside as u64).trailing_zeros() as u8)
}

impl PixelMap {
    /// Opens the pixel map at `path` for the cells `rule` picks: a usage error if it is no pixel
    /// map or the rule does not fit its values, a [`Error::PixelMap`] if it cannot be read.
    pub fn open(path: &Path, rule: &PixelRule) -> Result<PixelMap, Error> {
        let Some(format) = PixelFormat::detect(path) else {
            std::fs::metadata(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
            return Err(Error::Usage(format!(
                "{}: not a pixel map angcut reads (HealSparse, HEALPix FITS, MOC FITS/ASCII/JSON)",
                path.display()
            )));
        };
        let cells = match format {
            PixelFormat::HealSparse => {
                let map = HealSparse::open(path, rule)?;
                return Ok(PixelMap { path: path.to_path_buf(), rule: rule.clone(), cells: Held::HealSparse(map) });
            }
            PixelFormat::Healpix => healpix::read(path, rule)?,
            PixelFormat::MocFits | PixelFormat::MocAscii | PixelFormat::MocJson => {
                rule.check(ValueKind::Coverage, path)?;
                moc_file::read(path, format)?
            }
        };
        let depth = cells.depth_max();
        let lookup = Lookup::new(cells.moc_ranges().iter().cloned().collect(), 0, SKY_CELLS);
        Ok(PixelMap { path: path.to_path_buf(), rule: rule.clone(), cells: Held::Cells { depth, lookup } })
    }

    /// Whether the layer holds the object whose depth-29 cell is `cell` (from [`cell_of`]).
    #[inline]
    pub fn holds(&self, cell: u64) -> Result<bool, Error> {
        let mut word = [0u64];
        self.mark(&[cell], &mut word, 1)?;
        Ok(word[0] == 1)
    }

    /// What the map is, for a run's summary: its resolution, and for HealSparse the blocks read.
    pub fn describe(&self) -> String {
        match &self.cells {
            Held::Cells { depth, lookup } => {
                format!("pixels, nside {}, {:.1} MB", 1u64 << depth, lookup.bytes() as f64 / 1e6)
            }
            Held::HealSparse(map) => {
                let (nside, coverage) = map.nsides();
                let (blocks, bytes) = map.blocks_read();
                format!(
                    "HealSparse, nside {nside}, {blocks} blocks of nside {coverage} read, {:.1} MB",
                    bytes as f64 / 1e6
                )
            }
        }
    }

    /// ORs `flag` into `words[i]` where the layer holds `cells[i]` (from [`cell_of`]).
    pub fn mark(&self, cells: &[u64], words: &mut [u64], flag: u64) -> Result<(), Error> {
        match &self.cells {
            Held::Cells { lookup, .. } => {
                for (&cell, word) in cells.iter().zip(words.iter_mut()) {
                    if lookup.contains(cell) != self.rule.outside {
                        *word |= flag;
                    }
                }
                Ok(())
            }
            Held::HealSparse(map) => map.mark(cells, words, flag),
        }
    }

    /// Every cell the layer holds (its outside, for `outside = true`): a HealSparse map's every
    /// block is read for it.
    pub fn held_cells(&self) -> Result<Cells, Error> {
        let (depth, ranges) = match &self.cells {
            Held::Cells { depth, lookup } => (*depth, lookup.ranges().to_vec()),
            Held::HealSparse(map) => (map.nsides().0.trailing_zeros() as u8, map.held_ranges()?),
        };
        // A HealSparse map's ranges end at its blocks' edges: merged, neighbours are one range.
        let cells = merged(depth, ranges.into_iter());
        Ok(if self.rule.outside { cells.not() } else { cells })
    }

    /// The rule its cells were picked by.
    pub fn rule(&self) -> &PixelRule {
        &self.rule
    }

    /// The file the map was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The NESTED cell of `v` at depth 29 (see the module's doc for why one depth serves all).
#[inline]
pub fn cell_of(v: &UnitVector) -> u64 {
    let [x, y, z] = *v;
    let lon = y.atan2(x);
    let lat = z.atan2((x * x + y * y).sqrt());
    nested::get(DEPTH_MAX).hash(lon, lat)
}

/// Values read from a file at a time: 8 MB of int64 or float64.
pub(crate) const READ_BLOCK: usize = 1 << 20;

/// The NESTED cell at depth 29 of the position (`ra`, `dec`) in degrees (Dec in -90..=90).
#[inline]
pub fn cell_at(ra: f64, dec: f64) -> u64 {
    nested::get(DEPTH_MAX).hash(ra.to_radians(), dec.to_radians())
}

/// Held cells at depth `depth` (in any order, repeats allowed) as depth-29 ranges.
pub(crate) fn cells_from(depth: u8, mut held: Vec<u64>) -> Cells {
    held.sort_unstable();
    let shift = 2 * u32::from(DEPTH_MAX - depth);
    merged(depth, held.into_iter().map(|cell| cell << shift..(cell + 1) << shift))
}

/// Depth-29 ranges sorted by their starts (overlapping or touching ones merged as they come,
/// so a block that holds everything is one range) as the cells of a map at `depth`: the ranges
/// are in depth-29 units whatever its depth, which MOC writers and area sums take as its
/// resolution.
pub(crate) fn merged(depth: u8, sorted: impl Iterator<Item = std::ops::Range<u64>>) -> Cells {
    let mut ranges: Vec<std::ops::Range<u64>> = Vec::new();
    for r in sorted {
        match ranges.last_mut() {
            Some(last) if last.end >= r.start => last.end = last.end.max(r.end),
            _ => ranges.push(r),
        }
    }
    RangeMOC::new(depth, moc::elemset::range::MocRanges::new_unchecked(ranges))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sky::unit_vector;

    #[test]
    fn a_cell_at_any_depth_is_the_depth_29_cell_shifted() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..20_000 {
            let (ra, dec) = (360.0 * next(), (2.0 * next() - 1.0).asin().to_degrees());
            let v = unit_vector(ra, dec);
            let cell = cell_of(&v);
            let [x, y, z] = v;
            let (lon, lat) = (y.atan2(x), z.atan2((x * x + y * y).sqrt()));
            for depth in [0u8, 5, 10, 17, 28] {
                assert_eq!(cell >> (2 * (29 - depth)), nested::get(depth).hash(lon, lat), "({ra}, {dec}) at {depth}");
            }
        }
        // The poles and RA 0/360.
        assert_eq!(cell_of(&unit_vector(0.0, 90.0)) >> 56, nested::get(1).hash(0.0, std::f64::consts::FRAC_PI_2));
        assert_eq!(cell_of(&unit_vector(360.0, 10.0)), cell_of(&unit_vector(0.0, 10.0)));
    }

    #[test]
    fn held_cells_become_merged_ranges() {
        let cells = cells_from(1, vec![5, 3, 4, 40, 3]);
        let shift = 2 * 28;
        let ranges: Vec<_> = cells.moc_ranges().iter().cloned().collect();
        assert_eq!(ranges, vec![3 << shift..6 << shift, 40 << shift..41 << shift]);
        assert_eq!(cells.depth_max(), 1);
    }

    #[test]
    fn rules_pick_values() {
        let rule = |bits: Option<Vec<u32>>, below: Option<f64>, above: Option<f64>| PixelRule {
            bits,
            below,
            above,
            outside: false,
        };
        let any = rule(None, None, None);
        assert!(any.holds_integer(3, 0) && !any.holds_integer(0, 0));
        assert!(any.holds_float(0.5) && !any.holds_float(0.0));
        let bits = rule(Some(vec![0, 3]), None, None);
        assert!(bits.holds_integer(0b1000, bits.mask()) && !bits.holds_integer(0b0110, bits.mask()));
        assert!(rule(None, Some(24.5), None).holds_float(24.0) && !rule(None, Some(24.5), None).holds_float(24.5));
        assert!(rule(None, None, Some(1.5)).holds_float(1.6) && !rule(None, None, Some(1.5)).holds_float(1.5));
        let outside = rule(None, Some(1.0), Some(2.0));
        assert!(outside.holds_float(0.5) && outside.holds_float(2.5) && !outside.holds_float(1.5));
        let path = Path::new("m.hsp");
        assert!(bits.check(ValueKind::Float, path).unwrap_err().to_string().contains("bits apply to integer"));
        assert!(rule(None, Some(1.0), None).check(ValueKind::Wide, path).is_err());
        assert!(rule(Some(vec![64]), None, None).check(ValueKind::Integer, path).is_err());
        assert!(rule(Some(vec![64]), None, None).check(ValueKind::Wide, path).is_ok());
    }

    /// The fixture points and what healsparse, healpy and mocpy said of each (make_pixels.py).
    fn reference_points() -> (Vec<UnitVector>, Vec<std::collections::HashMap<String, f64>>) {
        let text = std::fs::read_to_string("fixtures/pixels/points.csv").unwrap();
        let mut lines = text.lines();
        let names: Vec<&str> = lines.next().unwrap().split(',').collect();
        let (mut points, mut rows) = (Vec::new(), Vec::new());
        for line in lines {
            let row: std::collections::HashMap<String, f64> =
                names.iter().zip(line.split(',')).map(|(n, v)| (n.to_string(), v.parse().unwrap())).collect();
            points.push(unit_vector(row["ra"], row["dec"]));
            rows.push(row);
        }
        (points, rows)
    }

    /// Every map and rule against the reference tools' lookups of the same points: no difference.
    #[test]
    fn lookups_match_healsparse_healpy_and_mocpy() {
        const UNSEEN32: f64 = -1.637_499_996_306_027e30;
        let (points, rows) = reference_points();
        assert!(points.len() > 2000);
        let rule = |bits: Option<Vec<u32>>, below: Option<f64>, above: Option<f64>, outside: bool| PixelRule {
            bits,
            below,
            above,
            outside,
        };
        let any = PixelRule::default();
        type Expect = fn(&std::collections::HashMap<String, f64>) -> bool;
        let cases: Vec<(&str, PixelRule, Expect)> = vec![
            ("bool.hsp", any.clone(), |r| r["bool"] == 1.0),
            ("packed.hsp", any.clone(), |r| r["packed"] == 1.0),
            ("int.hsp", any.clone(), |r| r["int"] > 0.0),
            ("int.hsp", rule(Some(vec![0, 3]), None, None, false), |r| {
                r["int"] > 0.0 && (r["int"] as i64) & 0b1001 != 0
            }),
            ("int.hsp", rule(None, Some(4.0), None, false), |r| r["int"] > 0.0 && r["int"] < 4.0),
            ("depth.hsp", rule(None, Some(24.5), None, false), |r| r["depth"] != UNSEEN32 && r["depth"] < 24.5),
            ("depth.hsp", rule(None, None, Some(25.0), true), |r| r["depth"] <= 25.0),
            ("depth.hsp", rule(None, Some(23.5), Some(25.5), false), |r| {
                r["depth"] != UNSEEN32 && (r["depth"] < 23.5 || r["depth"] > 25.5)
            }),
            ("wide.hsp", any.clone(), |r| r["wide_any"] == 1.0),
            ("wide.hsp", rule(Some(vec![1]), None, None, false), |r| r["wide_1"] == 1.0),
            ("wide.hsp", rule(Some(vec![3, 10]), None, None, false), |r| r["wide_3_10"] == 1.0),
            ("ring.fits", any.clone(), |r| r["ring"] > 0.0),
            ("ring.fits", rule(None, None, Some(2.5), false), |r| r["ring"] > 2.5),
            ("partial.fits", any.clone(), |r| r["partial"] == 1.0),
            ("discs.moc.fits", any.clone(), |r| r["moc"] == 1.0),
            ("discs.moc.txt", any.clone(), |r| r["moc"] == 1.0),
            ("discs.moc.json", rule(None, None, None, true), |r| r["moc"] == 0.0),
        ];
        for (file, rule, expect) in cases {
            let map = PixelMap::open(&Path::new("fixtures/pixels").join(file), &rule).unwrap();
            let mut held = 0;
            for (v, row) in points.iter().zip(&rows) {
                let found = map.holds(cell_of(v)).unwrap();
                assert_eq!(found, expect(row), "{file} {rule:?} at ({}, {})", row["ra"], row["dec"]);
                let from_degrees = map.holds(cell_at(row["ra"], row["dec"])).unwrap();
                assert_eq!(from_degrees, found, "{file} {rule:?}: degrees and vector agree");
                held += usize::from(found);
            }
            // Each case tells held from not held: neither answer is everywhere.
            assert!(held > 50 && held < points.len() - 50, "{file} {rule:?}: {held} held");
        }
    }

    #[test]
    fn rules_that_do_not_fit_the_map_are_usage_errors_naming_it() {
        let bits = PixelRule { bits: Some(vec![1]), ..PixelRule::default() };
        for file in ["bool.hsp", "depth.hsp", "ring.fits", "discs.moc.fits"] {
            let error = PixelMap::open(&Path::new("fixtures/pixels").join(file), &bits).err().unwrap();
            assert!(error.is_usage() && error.to_string().contains(file), "{error}");
        }
        let error = PixelMap::open(Path::new("fixtures/galaxies.csv"), &PixelRule::default()).err().unwrap();
        assert!(error.to_string().contains("not a pixel map"), "{error}");
    }
}
