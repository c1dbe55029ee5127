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

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use super::lookup::{Lookup, runs};
use super::{DEPTH_MAX, Judge, PixelRule, READ_BLOCK, Sentinel, ValueKind};
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

/// The held cells of one coverage block: ranges with a directory where its mask has few edges
/// for its pixels (a footprint's block, a block of a few stars), one bit per pixel where that
/// is smaller (many small stars, scattered pixels).
enum Block {
    /// Held depth-29 ranges.
    Ranges(Lookup),
    /// Bit `k` (of word `k / 64`) for the block's `k`th pixel, from its first.
    Bits { first: u64, words: Vec<u64> },
}

impl Block {
    /// The block of held pixels `words` (pixel `first + k` held when bit `k` is set) at `depth`:
    /// whichever form takes fewer bytes.
    fn new(first: u64, words: Vec<u64>, depth: u8) -> Block {
        let shift = 2 * u32::from(DEPTH_MAX - depth);
        let runs = runs(&words);
        if runs.len() * std::mem::size_of::<std::ops::Range<u64>>() > words.len() * 8 {
            return Block::Bits { first, words };
        }
        let ranges = runs.into_iter().map(|r| (first + r.start) << shift..(first + r.end) << shift).collect();
        let pixels = words.len() as u64 * 64;
        Block::Ranges(Lookup::new(ranges, first << shift, (first + pixels) << shift))
    }

    /// Whether the block holds depth-29 cell `cell`, whose pixel at the map's depth is `pixel`.
    #[inline]
    fn holds(&self, cell: u64, pixel: u64) -> bool {
        match self {
            Block::Ranges(lookup) => lookup.contains(cell),
            Block::Bits { first, words } => {
                let k = pixel - first;
                words[(k / 64) as usize] >> (k % 64) & 1 == 1
            }
        }
    }

    /// Bytes it holds.
    fn bytes(&self) -> usize {
        match self {
            Block::Ranges(lookup) => lookup.bytes(),
            Block::Bits { words, .. } => words.len() * 8,
        }
    }
}

/// A HealSparse map open for lookups.
pub(crate) struct HealSparse {
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
    /// The HDUs of the coverage and the sparse map.
    hdus: (usize, usize),
    /// The held cells of each coverage pixel's block, once read.
    blocks: Vec<OnceLock<Box<Block>>>,
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
            depth,
            coverage_depth,
            blocks: (0..starts.len()).map(|_| OnceLock::new()).collect(),
            starts,
            storage,
            judge,
            file: Mutex::new(fits),
            hdus: (cov_hdu, sparse_hdu),
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

    /// The sparse map's nside, and the coverage map's.
    pub fn nsides(&self) -> (u64, u64) {
        (1 << self.depth, 1 << self.coverage_depth)
    }

    /// How many coverage blocks have been read so far, and the bytes they hold.
    pub fn blocks_read(&self) -> (usize, usize) {
        let read = self.blocks.iter().filter_map(|b| b.get());
        read.fold((0, 0), |(n, bytes), block| (n + 1, bytes + block.bytes()))
    }

    /// Image elements of `pixels` pixels (bytes for packed and wide maps).
    fn elements(&self, pixels: u64) -> u64 {
        match self.storage {
            Storage::Integer | Storage::Float => pixels,
            Storage::Packed => pixels / 8,
            Storage::Wide(width) => pixels * width,
        }
    }

    /// Every held cell as sorted depth-29 ranges (not turned inside out by `outside`): every
    /// covered block read.
    pub fn held_ranges(&self) -> Result<Vec<std::ops::Range<u64>>, Error> {
        let shift = 2 * u32::from(DEPTH_MAX - self.depth);
        let mut ranges = Vec::new();
        for (coverage, start) in self.starts.iter().enumerate() {
            let Some(start) = start else { continue };
            match self.block(coverage, *start)? {
                Block::Ranges(lookup) => ranges.extend_from_slice(lookup.ranges()),
                Block::Bits { first, words } => {
                    ranges
                        .extend(runs(words).into_iter().map(|r| (first + r.start) << shift..(first + r.end) << shift));
                }
            }
        }
        Ok(ranges)
    }

    /// ORs `flag` into `words[i]` where the map holds `cells[i]`: every block the cells need
    /// read first, then the lookups alone, a loop of independent loads whose cache misses the
    /// core overlaps.
    pub fn mark(&self, cells: &[u64], words: &mut [u64], flag: u64) -> Result<(), Error> {
        let coverage_shift = 2 * u32::from(DEPTH_MAX - self.coverage_depth);
        let pixel_shift = 2 * u32::from(DEPTH_MAX - self.depth);
        for &cell in cells {
            let coverage = (cell >> coverage_shift) as usize;
            if let (None, Some(start)) = (self.blocks[coverage].get(), self.starts[coverage]) {
                self.block(coverage, start)?;
            }
        }
        let outside = self.judge.rule.outside;
        for (&cell, word) in cells.iter().zip(words.iter_mut()) {
            let held = match self.blocks[(cell >> coverage_shift) as usize].get() {
                Some(block) => block.holds(cell, cell >> pixel_shift),
                None => false,
            };
            if held != outside {
                *word |= flag;
            }
        }
        Ok(())
    }

    /// The held cells of coverage pixel `coverage`'s block, read now if no thread has.
    #[cold]
    fn block(&self, coverage: usize, start: u64) -> Result<&Block, Error> {
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(block) = self.blocks[coverage].get() {
            return Ok(block);
        }
        let per_block = 1u64 << (2 * (self.depth - self.coverage_depth));
        let first_pixel = coverage as u64 * per_block;
        // One bit per pixel, as a bit-packed map stores them (the first pixel in the lowest bit).
        let mut words = vec![0u64; per_block.div_ceil(64) as usize];
        let set = |words: &mut [u64], k: u64| words[(k / 64) as usize] |= 1 << (k % 64);
        let (mut integers, mut floats, mut bytes) = (Vec::new(), Vec::new(), Vec::new());
        let elements = self.elements(per_block);
        let element_start = self.elements(start);
        let mut done = 0u64;
        while done < elements {
            let mut n = (elements - done).min(READ_BLOCK as u64) as usize;
            let at = element_start + done;
            match self.storage {
                Storage::Integer => {
                    integers.resize(n, 0i64);
                    file.read_image(at, &mut integers)?;
                    let held = integers.iter().enumerate().filter(|(_, v)| self.judge.integer(**v));
                    held.for_each(|(k, _)| set(&mut words, done + k as u64));
                }
                Storage::Float => {
                    floats.resize(n, 0f64);
                    file.read_image(at, &mut floats)?;
                    let held = floats.iter().enumerate().filter(|(_, v)| self.judge.float(**v));
                    held.for_each(|(k, _)| set(&mut words, done + k as u64));
                }
                Storage::Packed => {
                    bytes.resize(n, 0u8);
                    file.read_image(at, &mut bytes)?;
                    // The map's own bit order (pixel 8j + k in bit k of byte j) is the words'.
                    for (k, &byte) in bytes.iter().enumerate().filter(|(_, b)| **b != 0) {
                        let byte_at = done as usize + k;
                        words[byte_at / 8] |= u64::from(byte) << (8 * (byte_at % 8));
                    }
                }
                Storage::Wide(width) => {
                    // Whole pixels per read: a multiple of the width.
                    n = (n as u64 / width * width).max(width) as usize;
                    bytes.resize(n, 0u8);
                    file.read_image(at, &mut bytes)?;
                    let held = bytes.chunks_exact(width as usize).enumerate().filter(|(_, b)| self.judge.wide(b));
                    held.for_each(|(k, _)| set(&mut words, done / width + k as u64));
                }
            }
            done += n as u64;
        }
        // cfitsio keeps every tile it decompresses (a block's 2 MB to 33 MB) until its HDU is
        // initialised again: moving away and back lets them go, so memory is the blocks' ranges.
        file.move_to(self.hdus.0)?;
        file.move_to(self.hdus.1)?;
        let block = Box::new(Block::new(first_pixel, words, self.depth));
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
        assert_eq!(map.blocks_read(), (0, 0));
        let centre = super::super::cell_of(&crate::sky::unit_vector(10.0, 20.0));
        let far = super::super::cell_of(&crate::sky::unit_vector(10.0, 60.0));
        let mut words = [0u64; 2];
        map.mark(&[centre, far], &mut words, 1).unwrap();
        assert_eq!(words, [1, 0]);
        assert_eq!(map.blocks_read().0, 1, "the covered block of the first object only");
    }

    #[test]
    fn a_block_is_ranges_when_they_are_smaller_than_bits_and_both_hold_the_same_pixels() {
        let depth = 10u8;
        let first = 5 * 4096u64;
        let shift = 2 * u32::from(DEPTH_MAX - depth);
        let alternating = 0x5555_5555_5555_5555u64;
        // Empty, full, one run of 1,000 pixels from the 100th, and every other pixel.
        let one_run = |w: u64| (0..64).filter(|b| (100..1100).contains(&(64 * w + b))).fold(0u64, |x, b| x | 1 << b);
        for (pattern, ranges) in [(0u64, true), (u64::MAX, true), (1, true), (alternating, false)] {
            let words: Vec<u64> = (0..64u64).map(|w| if pattern == 1 { one_run(w) } else { pattern }).collect();
            let block = Block::new(first, words.clone(), depth);
            assert_eq!(matches!(block, Block::Ranges(_)), ranges, "{pattern:x}");
            for k in 0..4096u64 {
                let held = words[(k / 64) as usize] >> (k % 64) & 1 == 1;
                assert_eq!(block.holds((first + k) << shift, first + k), held, "{pattern:x} pixel {k}");
            }
            assert!(block.bytes() <= words.len() * 8 + 4 * 1025, "{pattern:x}: {} bytes", block.bytes());
        }
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
