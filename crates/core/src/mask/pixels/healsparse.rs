//! HealSparse maps (LSST DESC's format, as `healsparse` writes them to FITS): a coverage image
//! `COV` (one int64 per coverage pixel: where its block of fine pixels starts in the sparse map,
//! less the pixel's own block offset) and a sparse image `SPARSE` (the blocks, block 0 the
//! sentinel block; tile-compressed, one tile a block). No Rust crate reads the format; cfitsio
//! reads the images and decompresses the tiles, and this module does only the indexing
//! healsparse's own reader does (`_read_healsparse_fits_file`).
//!
//! A block is read the first time an object falls in its coverage pixel, and kept as the cells
//! the rule holds (ranges, so a block costs its boundaries, not its pixels): a map of the whole
//! sky at nside 131072 costs what the catalogue's coverage pixels hold, not the few GB of the file.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::{Cells, DEPTH_MAX, Judge, PixelRule, READ_BLOCK, Sentinel, ValueKind, ranges_of};
use super::{depth_of, header_number, header_text};
use crate::error::Error;
use crate::io::fits::FitsHandle;

/// How the sparse image stores a pixel's value.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Storage {
    /// One value a pixel (booleans as int16, integers, floats), read as int64 or float64.
    Integer,
    Float,
    /// Booleans, eight pixels a byte, the first in the lowest bit.
    Packed,
    /// Bit masks of this many bytes a pixel.
    Wide(u64),
}

/// A HealSparse map open for lookups.
pub struct HealSparse {
    path: PathBuf,
    /// The sparse map's depth, and the coverage map's.
    depth: u8,
    coverage_depth: u8,
    /// Per coverage pixel, the element of the sparse map its block starts at (pixels), or
    /// `None` where the map has no data.
    starts: Vec<Option<u64>>,
    storage: Storage,
    judge: Judge,
    /// The file, at its `SPARSE` HDU: read by one thread at a time.
    file: Mutex<FitsHandle>,
    /// The held cells of each coverage pixel's block, once read.
    blocks: Vec<OnceLock<Box<Cells>>>,
}

impl HealSparse {
    /// Opens the map at `path` (its coverage read, no block yet) for the cells `rule` holds.
    pub fn open(path: &Path, rule: &PixelRule) -> Result<HealSparse, Error> {
        let failed = |message: String| Error::PixelMap { path: path.to_path_buf(), message };
        let mut fits = FitsHandle::open(path, false)?;
        let hdus = fits.hdus()?;
        let mut find = |name: &str| -> Result<Option<(usize, Vec<String>)>, Error> {
            for index in 0..hdus.len() {
                fits.move_to(index)?;
                let cards = fits.cards()?;
                if header_text(&cards, "EXTNAME").as_deref() == Some(name) {
                    return Ok(Some((index, cards)));
                }
            }
            Ok(None)
        };
        let Some((cov_hdu, _)) = find("COV")? else { return Err(failed("no COV HDU (the coverage map)".into())) };
        let Some((sparse_hdu, cards)) = find("SPARSE")? else {
            return Err(failed("no SPARSE HDU (the sparse map)".into()));
        };
        if header_text(&cards, "PRIMARY").is_some() {
            return Err(failed(
                "a record-array map (PRIMARY): angcut reads boolean, integer, float and wide-mask maps".into(),
            ));
        }
        let depth = depth_of(header_number(&cards, "NSIDE"), path)?;
        let flag = |key: &str| header_text(&cards, key).as_deref() == Some("T");

        fits.move_to(cov_hdu)?;
        let (_, cov_len) = fits.image_shape()?;
        let coverage_pixels = cov_len / 12;
        let coverage_depth = (coverage_pixels.trailing_zeros() / 2) as u8;
        if cov_len % 12 != 0 || coverage_pixels != 1u64 << (2 * coverage_depth) || coverage_depth > depth {
            return Err(failed(format!(
                "a COV map of {cov_len} pixels: not 12 nside^2 for an nside up to {}",
                1u64 << depth
            )));
        }
        let mut offsets = vec![0i64; cov_len as usize];
        fits.read_image(0, &mut offsets)?;
        let per_block = 1u64 << (2 * (depth - coverage_depth));
        let starts: Vec<Option<u64>> = offsets
            .iter()
            .enumerate()
            .map(|(pixel, &offset)| {
                let start = offset.checked_add((pixel as i64).checked_mul(per_block as i64)?)?;
                (start >= per_block as i64).then_some(start as u64)
            })
            .collect();

        fits.move_to(sparse_hdu)?;
        let (bitpix, length) = fits.image_shape()?;
        let sentinel_card = cards.iter().map(|c| crate::io::fits::parse_card(c)).find(|(k, _)| k == "SENTINEL");
        let logical_sentinel = matches!(sentinel_card, Some((_, Some(crate::io::fits::CardValue::Logical(_)))));
        let sentinel = header_number(&cards, "SENTINEL");
        let (storage, kind, sentinel) = if flag("BITPACK") {
            (Storage::Packed, ValueKind::Boolean, Sentinel::None)
        } else if flag("WIDEMASK") {
            let width = header_number(&cards, "WWIDTH").filter(|w| *w >= 1.0 && w.fract() == 0.0);
            let Some(width) = width else { return Err(failed("WIDEMASK without a WWIDTH of bytes".into())) };
            (Storage::Wide(width as u64), ValueKind::Wide, Sentinel::None)
        } else if logical_sentinel {
            (Storage::Integer, ValueKind::Boolean, Sentinel::Integer(0))
        } else if bitpix < 0 {
            let sentinel = sentinel.unwrap_or(super::healpix::UNSEEN);
            let sentinel = if bitpix == -32 { Sentinel::Float32(sentinel as f32) } else { Sentinel::Float64(sentinel) };
            (Storage::Float, ValueKind::Float, sentinel)
        } else {
            (Storage::Integer, ValueKind::Integer, sentinel.map_or(Sentinel::None, |s| Sentinel::Integer(s as i64)))
        };
        let judge = Judge::new(rule, kind, sentinel, path)?;
        let map = HealSparse {
            path: path.to_path_buf(),
            depth,
            coverage_depth,
            blocks: (0..starts.len()).map(|_| OnceLock::new()).collect(),
            starts,
            storage,
            judge,
            file: Mutex::new(fits),
        };
        // Every block must lie inside the sparse image: a damaged COV is named now, not mid-run.
        let last = map.starts.iter().flatten().max().copied().unwrap_or(0);
        if map.elements(last + per_block) > length {
            return Err(failed(format!(
                "the COV map points past the sparse map's {length} elements: the file is damaged"
            )));
        }
        Ok(map)
    }

    /// The file it reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rule its cells are picked by.
    pub fn rule(&self) -> &PixelRule {
        &self.judge.rule
    }

    /// The sparse map's nside, and the coverage map's.
    pub fn nsides(&self) -> (u64, u64) {
        (1 << self.depth, 1 << self.coverage_depth)
    }

    /// How many coverage blocks have been read so far.
    pub fn blocks_read(&self) -> usize {
        self.blocks.iter().filter(|b| b.get().is_some()).count()
    }

    /// Image elements of `pixels` pixels (bytes for packed and wide maps).
    fn elements(&self, pixels: u64) -> u64 {
        match self.storage {
            Storage::Integer | Storage::Float => pixels,
            Storage::Packed => pixels / 8,
            Storage::Wide(width) => pixels * width,
        }
    }

    /// Whether the map holds the object whose depth-29 cell is `cell`.
    #[inline]
    pub fn holds(&self, cell: u64) -> Result<bool, Error> {
        let coverage = (cell >> (2 * u32::from(DEPTH_MAX - self.coverage_depth))) as usize;
        let held = match self.blocks[coverage].get() {
            Some(block) => block.contains_val(&cell),
            None => match self.starts[coverage] {
                None => false,
                Some(start) => self.block(coverage, start)?.contains_val(&cell),
            },
        };
        Ok(held != self.judge.rule.outside)
    }

    /// The held cells of coverage pixel `coverage`'s block, read now if no thread has.
    #[cold]
    fn block(&self, coverage: usize, start: u64) -> Result<&Cells, Error> {
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(block) = self.blocks[coverage].get() {
            return Ok(block);
        }
        let per_block = 1u64 << (2 * (self.depth - self.coverage_depth));
        let first_cell = coverage as u64 * per_block;
        let mut held = Vec::new();
        let (mut integers, mut floats, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
        let elements = self.elements(per_block);
        let element_start = self.elements(start);
        let mut done = 0u64;
        while done < elements {
            let n = (elements - done).min(READ_BLOCK as u64) as usize;
            let at = element_start + done;
            match self.storage {
                Storage::Integer => {
                    integers.resize(n, 0i64);
                    file.read_image(at, &mut integers)?;
                    let judged = integers.iter().enumerate().filter(|(_, v)| self.judge.integer(**v));
                    held.extend(judged.map(|(k, _)| first_cell + done + k as u64));
                }
                Storage::Float => {
                    floats.resize(n, 0f64);
                    file.read_image(at, &mut floats)?;
                    let judged = floats.iter().enumerate().filter(|(_, v)| self.judge.float(**v));
                    held.extend(judged.map(|(k, _)| first_cell + done + k as u64));
                }
                Storage::Packed => {
                    bytes.resize(n, 0u8);
                    file.read_image(at, &mut bytes)?;
                    for (k, &byte) in bytes.iter().enumerate().filter(|(_, b)| **b != 0) {
                        let pixel = first_cell + (done + k as u64) * 8;
                        held.extend((0..8).filter(|bit| byte >> bit & 1 == 1).map(|bit| pixel + bit));
                    }
                }
                Storage::Wide(width) => {
                    // Whole pixels per read: a multiple of the width.
                    let n = (n as u64 / width * width).max(width) as usize;
                    bytes.resize(n, 0u8);
                    file.read_image(at, &mut bytes)?;
                    let judged = bytes.chunks_exact(width as usize).enumerate().filter(|(_, b)| self.judge.wide(b));
                    held.extend(judged.map(|(k, _)| first_cell + done / width + k as u64));
                    done += n as u64;
                    continue;
                }
            }
            done += n as u64;
        }
        let block = Box::new(ranges_of(self.depth, held.into_iter()));
        Ok(self.blocks[coverage].get_or_init(|| block))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_read_only_where_objects_fall() {
        let map = HealSparse::open(Path::new("fixtures/pixels/bool.hsp"), &PixelRule::default()).unwrap();
        assert_eq!(map.nsides(), (1024, 32));
        assert_eq!(map.blocks_read(), 0);
        let centre = super::super::cell_of(&crate::sky::unit_vector(10.0, 20.0));
        assert!(map.holds(centre).unwrap());
        assert!(!map.holds(super::super::cell_of(&crate::sky::unit_vector(10.0, 60.0))).unwrap());
        assert_eq!(map.blocks_read(), 1, "the covered block of the first object only");
    }

    #[test]
    fn a_damaged_coverage_map_is_named_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = std::fs::read("fixtures/pixels/int.hsp").unwrap();
        // The COV image's first int64 (after the primary header's 2880 bytes): a block far away.
        bytes[2880..2888].copy_from_slice(&(1i64 << 40).to_be_bytes());
        let path = dir.path().join("damaged.hsp");
        std::fs::write(&path, bytes).unwrap();
        let error = HealSparse::open(&path, &PixelRule::default()).err().unwrap().to_string();
        assert!(error.contains("damaged.hsp") && error.contains("points past"), "{error}");
    }
}
