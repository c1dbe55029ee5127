//! The mask itself as pixels (`angcut area --moc OUT --healsparse OUT`): the cells each layer's
//! best area counts ([`super::area::area_and_cells`]), written as an IVOA MOC of their union
//! (by the CDS `moc` crate) or as a HealSparse wide mask with one bit per layer.
//!
//! HealSparse has no Rust writer, so its FITS is written here, uncompressed, as healsparse's own
//! `write(..., nocompress=True)` lays it out: the coverage image `COV` as the primary HDU (int64: for
//! each coverage pixel the start of its block in the sparse image less the pixel's own block
//! offset, so that an uncovered pixel points at block 0) and the sparse image `SPARSE` (uint8,
//! `WWIDTH` bytes a pixel, bit b of a pixel in byte b / 8 as 1 << (b % 8); block 0 all sentinel
//! (0), then the covered coverage pixels' blocks in NESTED order). Each block is made and written
//! in turn, so memory is one block, whatever the map's size.

use std::io::Write;
use std::ops::Range;
use std::path::Path;

use moc::moc::{RangeMOCIntoIterator, RangeMOCIterator};

use super::area::MaskCells;
use super::pixels::{Cells, DEPTH_MAX};
use crate::error::Error;
use crate::io::write::{FinishedOutput, write_whole};
use crate::spelling::Spelling;

/// The largest HealSparse map written: beyond it, a coarser `--order` is asked for.
pub const HEALSPARSE_MAX_BYTES: u64 = 8 << 30;

/// The finest coverage order healsparse recommends (nside_coverage 128; it warns above).
const COVERAGE_ORDER_MAX: u8 = 7;

/// FITS's record: headers and data come in blocks of this many bytes.
const FITS_BLOCK: usize = 2880;

/// Writes the union of `cells` as a MOC (FITS, IVOA 2.0 with the 1.1 layout that mocpy and Aladin
/// read) to a temporary file for `path`.
pub fn write_moc(cells: &[Cells], path: &Path) -> Result<FinishedOutput, Error> {
    let union = union(cells);
    let failed = |message: String| Error::PixelMap { path: path.to_path_buf(), message };
    write_whole(path, |out| {
        union
            .into_range_moc_iter()
            .to_fits_ivoa(None, None, out)
            .map_err(|e| failed(format!("cannot write the MOC: {e}")))
    })
}

/// The union of every layer's cells.
pub fn union(cells: &[Cells]) -> Cells {
    let mut all = cells.iter();
    let first = all.next().cloned().unwrap_or_else(|| super::pixels::merged(0, std::iter::empty()));
    all.fold(first, |union, layer| union.or(layer))
}

/// What a HealSparse map written holds.
#[derive(Debug, Clone, PartialEq)]
pub struct HealSparseWritten {
    /// Its pixels' nside.
    pub nside: u64,
    /// Its coverage pixels' nside.
    pub nside_coverage: u64,
    /// The coverage pixels with a block.
    pub blocks: u64,
    /// Bytes a pixel (one bit per layer).
    pub width: u64,
    /// The file's size.
    pub bytes: u64,
}

/// Writes `layers` (bit 0 first, at most 64) as a HealSparse wide mask to a temporary file for
/// `path`, at the finest depth any of them has; a map too large says to give a coarser order,
/// the option spelled by `spelling`.
pub fn write_healsparse(
    layers: &[Cells],
    path: &Path,
    spelling: Spelling,
) -> Result<(FinishedOutput, HealSparseWritten), Error> {
    let depth = layers.iter().map(Cells::depth_max).max().unwrap_or(0);
    let width = (layers.len().max(1) as u64).div_ceil(8);
    let union = union(layers);
    // The coverage order that makes the smallest file: its index, and the blocks of the
    // coverage pixels anything falls in.
    let (coverage, covered) = (0..=COVERAGE_ORDER_MAX.min(depth))
        .map(|order| (order, covered_pixels(&union, order)))
        .min_by_key(|(order, covered)| file_bytes(depth, *order, covered.len() as u64, width))
        .unwrap_or((0, Vec::new()));
    let bytes = file_bytes(depth, coverage, covered.len() as u64, width);
    if bytes > HEALSPARSE_MAX_BYTES {
        return Err(Error::Usage(format!(
            "{}: a HealSparse map of the mask at nside {} would take {:.1} GB: give a coarser {}",
            path.display(),
            1u64 << depth,
            bytes as f64 / 1e9,
            spelling.option("order")
        )));
    }
    let per_block = 1u64 << (2 * (depth - coverage));
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let finished = write_whole(path, |out| {
        let header = |cards: &[(&'static str, String)]| -> Vec<u8> {
            let mut text: String = cards.iter().map(|(key, value)| card(key, value)).collect();
            text.push_str(&format!("{:80}", "END"));
            let padded = text.len().div_ceil(FITS_BLOCK) * FITS_BLOCK;
            text.extend(std::iter::repeat_n(' ', padded - text.len()));
            text.into_bytes()
        };
        let coverage_pixels = 12u64 << (2 * coverage);
        // What names a HealSparse image, after the FITS keys every image has.
        let named = |mut cards: Vec<(&'static str, String)>, name: &str, nside: u64| {
            cards.extend([
                ("EXTNAME", format!("'{name:8}'")),
                ("PIXTYPE", "'HEALSPARSE'".into()),
                ("NSIDE", nside.to_string()),
            ]);
            cards
        };
        // As healsparse lays it out: the coverage index is the primary HDU, the sparse map HDU 1.
        let primary = vec![
            ("SIMPLE", "T".into()),
            ("BITPIX", "64".into()),
            ("NAXIS", "1".into()),
            ("NAXIS1", coverage_pixels.to_string()),
            ("EXTEND", "T".into()),
        ];
        let cov = named(primary, "COV", 1 << coverage);
        out.write_all(&header(&cov)).map_err(io)?;
        let mut index = Vec::with_capacity(coverage_pixels as usize * 8);
        let mut next = covered.iter().peekable();
        let mut block = 0i64;
        for pixel in 0..coverage_pixels {
            let own = pixel as i64 * per_block as i64;
            if next.peek() == Some(&&pixel) {
                next.next();
                block += 1;
                index.extend_from_slice(&(block * per_block as i64 - own).to_be_bytes());
            } else {
                index.extend_from_slice(&(-own).to_be_bytes());
            }
        }
        write_padded(out, &index, index.len() as u64).map_err(io)?;

        let sparse_bytes = (covered.len() as u64 + 1) * per_block * width;
        let extension = vec![
            ("XTENSION", "'IMAGE   '".into()),
            ("BITPIX", "8".into()),
            ("NAXIS", "1".into()),
            ("NAXIS1", sparse_bytes.to_string()),
            ("PCOUNT", "0".into()),
            ("GCOUNT", "1".into()),
        ];
        let mut cards = named(extension, "SPARSE", 1 << depth);
        cards.extend([("SENTINEL", "0".into()), ("WIDEMASK", "T".into()), ("WWIDTH", width.to_string())]);
        out.write_all(&header(&cards)).map_err(io)?;
        let mut values = vec![0u8; (per_block * width) as usize];
        out.write_all(&values).map_err(io)?; // block 0: the sentinel
        let mut cursors = vec![0usize; layers.len()];
        let shift = 2 * u32::from(DEPTH_MAX - depth);
        for &pixel in &covered {
            values.fill(0);
            let span = (pixel * per_block) << shift..((pixel + 1) * per_block) << shift;
            for (bit, (layer, cursor)) in layers.iter().zip(&mut cursors).enumerate() {
                let ranges: &[Range<u64>] = &layer.moc_ranges().0.0;
                // Ranges ending before the block are done with; the cursor moves on.
                while *cursor < ranges.len() && ranges[*cursor].end <= span.start {
                    *cursor += 1;
                }
                let (byte, flag) = (bit / 8, 1u8 << (bit % 8));
                for range in ranges[*cursor..].iter().take_while(|r| r.start < span.end) {
                    let (start, end) = (range.start.max(span.start), range.end.min(span.end));
                    for fine in (start - span.start) >> shift..(end - span.start) >> shift {
                        values[(fine * width) as usize + byte] |= flag;
                    }
                }
            }
            out.write_all(&values).map_err(io)?;
        }
        let padding = (FITS_BLOCK as u64 - sparse_bytes % FITS_BLOCK as u64) % FITS_BLOCK as u64;
        out.write_all(&vec![0u8; padding as usize]).map_err(io)
    })?;
    let written = HealSparseWritten {
        nside: 1 << depth,
        nside_coverage: 1 << coverage,
        blocks: covered.len() as u64,
        width,
        bytes,
    };
    Ok((finished, written))
}

/// The coverage pixels at `order` that any of `cells` falls in, ascending.
fn covered_pixels(cells: &Cells, order: u8) -> Vec<u64> {
    let shift = 2 * u32::from(DEPTH_MAX - order);
    let mut pixels: Vec<u64> = Vec::new();
    for range in cells.moc_ranges().iter() {
        let first = range.start >> shift;
        let last = (range.end - 1) >> shift;
        let from = match pixels.last() {
            Some(&previous) if previous >= first => previous + 1,
            _ => first,
        };
        pixels.extend(from..=last);
    }
    pixels
}

/// A HealSparse file's size: headers, the coverage index, the sentinel block and the blocks.
fn file_bytes(depth: u8, coverage: u8, blocks: u64, width: u64) -> u64 {
    let padded = |n: u64| n.div_ceil(FITS_BLOCK as u64) * FITS_BLOCK as u64;
    let per_block = 1u64 << (2 * (depth - coverage));
    2 * FITS_BLOCK as u64 + padded(8 * (12u64 << (2 * coverage))) + padded((blocks + 1) * per_block * width)
}

/// A FITS header card: the key, `= ` and the value right-aligned (strings as they are given).
fn card(key: &str, value: &str) -> String {
    let text = if value.starts_with('\'') { format!("{key:8}= {value}") } else { format!("{key:8}= {value:>20}") };
    format!("{text:80}")
}

/// Writes `data` and zeros up to the next FITS block.
fn write_padded(out: &mut dyn Write, data: &[u8], length: u64) -> std::io::Result<()> {
    out.write_all(data)?;
    let padding = (FITS_BLOCK as u64 - length % FITS_BLOCK as u64) % FITS_BLOCK as u64;
    out.write_all(&vec![0u8; padding as usize])
}

/// Where `angcut area` writes the mask as pixels.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductPaths {
    /// `--moc OUT`: the union of the layers as a MOC.
    pub moc: Option<std::path::PathBuf>,
    /// `--healsparse OUT`: the layers as a HealSparse wide mask, one bit each.
    pub healsparse: Option<std::path::PathBuf>,
    /// `--png OUT`: a picture of the layers with the area table as its legend.
    pub png: Option<std::path::PathBuf>,
    /// How messages name these options (and `order`).
    pub spelling: Spelling,
}

impl ProductPaths {
    /// Refuses, before anything is computed, an output that would replace one of `inputs` (the
    /// mask file, its layers' files), that is the other output, or whose directory is missing.
    pub fn check<'a>(&self, inputs: impl IntoIterator<Item = &'a Path>) -> Result<(), Error> {
        let inputs = crate::io::identity::InputIdentities::of(inputs);
        let named = [("moc", &self.moc), ("healsparse", &self.healsparse), ("png", &self.png)];
        let given: Vec<(String, &std::path::PathBuf)> =
            named.iter().filter_map(|(field, path)| path.as_ref().map(|p| (self.spelling.option(field), p))).collect();
        for (i, (flag, path)) in given.iter().enumerate() {
            crate::io::identity::check_output_path(path, &inputs, false)?;
            if let Some((other, _)) =
                given[..i].iter().find(|(_, earlier)| crate::io::identity::same_destination(earlier, path))
            {
                return Err(Error::Usage(format!("{other} and {flag} both name {}", path.display())));
            }
        }
        Ok(())
    }

    /// Writes the products asked for from each layer's cells (the picture from `mask` and its
    /// `report`), committing them only when all are written; one line each saying what it holds.
    pub fn write(
        &self,
        mask: &super::Mask,
        report: &super::area::AreaReport,
        measured: &MaskCells,
    ) -> Result<Vec<String>, Error> {
        let mut finished = Vec::new();
        let mut lines = Vec::new();
        let cells = measured.layers.as_slice();
        if let Some(path) = &self.moc {
            finished.push(write_moc(cells, path)?);
            let union = union(cells);
            lines.push(format!(
                "wrote {}: a MOC of order {} (the union's best cells)",
                path.display(),
                union.depth_max()
            ));
        }
        if let Some(path) = &self.healsparse {
            let (done, w) = write_healsparse(cells, path, self.spelling)?;
            finished.push(done);
            lines.push(format!(
                "wrote {}: a HealSparse wide mask ({} bytes a pixel, bit i = layer i), nside {}, coverage nside {}, {} blocks, {:.1} MB",
                path.display(),
                w.width,
                w.nside,
                w.nside_coverage,
                w.blocks,
                w.bytes as f64 / 1e6
            ));
        }
        if let Some(path) = &self.png {
            finished.push(super::picture::write_png(mask, report, measured.footprint.as_ref(), path)?);
            lines.push(format!("wrote {}: the layers on the sky, the areas as the legend", path.display()));
        }
        crate::io::write::commit_all(finished)?;
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::KernelChoice;
    use crate::mask::area::area_and_cells;
    use crate::mask::{Mask, MaskSpec, PixelMap, PixelRule};

    /// A circle layer (one cap about the south pole, one across RA 0), the discs map and the
    /// ring map (fixtures/pixels).
    fn mask(dir: &Path) -> Mask {
        std::fs::write(dir.join("circles.csv"), "ra,dec,r\n12,21,1.5\n0.5,-89.5,1\n359.8,0,0.7\n").unwrap();
        let pixels = std::fs::canonicalize("fixtures/pixels").unwrap();
        let text = format!(
            "[[layer]]\nname = \"circle\"\nfile = \"circles.csv\"\nradius_col = \"r\"\nradius_unit = \"deg\"\n\
             [[layer]]\nname = \"discs\"\nfile = \"{0}/bool.hsp\"\n[[layer]]\nname = \"ring\"\nfile = \"{0}/ring.fits\"\nabove = 2.5\n",
            pixels.display()
        );
        let path = dir.join("mask.toml");
        std::fs::write(&path, text).unwrap();
        Mask::read(&MaskSpec::read(&path, None, Spelling::CommandLine).unwrap(), KernelChoice::Auto).unwrap()
    }

    /// What is written reads back, through angcut's own readers (checked against healsparse and
    /// mocpy in pixels/), as the cells the area report counts: bit i of the HealSparse map is
    /// layer i's cells, the MOC their union.
    #[test]
    fn the_written_maps_read_back_as_the_cells_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mask = mask(dir.path());
        let (cells_report, measured) = area_and_cells(&mask, Some(10)).unwrap();
        let cells = &measured.layers;
        let paths = ProductPaths {
            moc: Some(dir.path().join("m.fits")),
            healsparse: Some(dir.path().join("m.hsp")),
            ..ProductPaths::default()
        };
        let lines = paths.write(&mask, &cells_report, &measured).unwrap();
        assert!(lines[1].contains("nside 2048"), "{lines:?}");
        for (bit, layer) in cells.iter().enumerate() {
            let rule = PixelRule { bits: Some(vec![bit as u32]), ..PixelRule::default() };
            let read = PixelMap::open(paths.healsparse.as_ref().unwrap(), &rule).unwrap().held_cells().unwrap();
            assert_eq!(read.moc_ranges(), layer.moc_ranges(), "bit {bit}");
            assert!(!layer.moc_ranges().is_empty());
        }
        let moc = PixelMap::open(paths.moc.as_ref().unwrap(), &PixelRule::default()).unwrap().held_cells().unwrap();
        assert_eq!(moc.moc_ranges(), union(cells).moc_ranges());
        let sky_cells: u128 = moc.moc_ranges().iter().map(|r| u128::from(r.end - r.start)).sum();
        let area = sky_cells as f64 / crate::mask::pixels::SKY_CELLS as f64 * crate::mask::area::SKY_DEG2;
        assert!((area - cells_report.union.best).abs() < 1e-9, "{area} vs {:?}", cells_report.union);
    }

    #[test]
    fn outputs_that_would_replace_an_input_or_each_other_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("mask.toml");
        std::fs::write(&input, "").unwrap();
        let refused = |paths: ProductPaths, message: &str| {
            let error = paths.check([input.as_path()]).unwrap_err();
            assert!(error.is_usage() && error.to_string().contains(message), "{error}");
        };
        refused(ProductPaths { moc: Some(input.clone()), ..ProductPaths::default() }, "never overwrites its inputs");
        let same = dir.path().join("m.fits");
        let twice = ProductPaths { moc: Some(same.clone()), png: Some(same), ..ProductPaths::default() };
        refused(twice.clone(), "--moc and --png both name");
        refused(ProductPaths { spelling: Spelling::Python, ..twice }, "moc= and png= both name");
        refused(ProductPaths { moc: Some(dir.path().join("no/m.fits")), ..ProductPaths::default() }, "does not exist");
    }

    /// A map that would be too large is refused before anything is written, naming its size.
    #[test]
    fn a_healsparse_map_too_large_asks_for_a_coarser_order() {
        let dir = tempfile::tempdir().unwrap();
        let sky = crate::mask::pixels::merged(15, std::iter::once(0..crate::mask::pixels::SKY_CELLS));
        let out = dir.path().join("sky.hsp");
        let error =
            write_healsparse(std::slice::from_ref(&sky), &out, Spelling::CommandLine).err().unwrap().to_string();
        assert!(error.contains("at nside 32768 would take 12.9 GB: give a coarser --order"), "{error}");
        let error = write_healsparse(&[sky], &out, Spelling::Python).err().unwrap().to_string();
        assert!(error.ends_with("give a coarser order="), "{error}");
        assert!(!out.exists());
    }
}
