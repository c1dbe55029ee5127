//! MOC files (IVOA MOC 1.1 and 2.0: FITS, ASCII, and Aladin's JSON), read by the CDS `moc`
//! crate, the reference implementation behind mocpy and Aladin.

use std::path::Path;

use moc::deser::{ascii::from_ascii_ivoa, json::from_json_aladin};
use moc::moc::range::RangeMOC;
use moc::moc::{
    CellMOCIntoIterator, CellMOCIterator, CellOrCellRangeMOCIntoIterator, CellOrCellRangeMOCIterator, RangeMOCIterator,
};
use moc::qty::Hpx;

use super::{Cells, PixelFormat};
use crate::error::Error;

/// The cells of the MOC at `path`, in `format`.
pub(super) fn read(path: &Path, format: PixelFormat) -> Result<Cells, Error> {
    let failed = |message: String| Error::PixelMap { path: path.to_path_buf(), message };
    // The moc crate asserts on some malformed input (a depth past 29 in a UNIQ, ...): a panic
    // there is a damaged file, reported as such.
    let read = || -> Result<Cells, String> {
        match format {
            PixelFormat::MocFits => RangeMOC::<u64, Hpx<u64>>::from_fits_file(path)
                .map_err(|e| format!("not a readable MOC FITS file: {e}")),
            PixelFormat::MocAscii => {
                let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
                let moc =
                    from_ascii_ivoa::<u64, Hpx<u64>>(&text).map_err(|e| format!("not a readable MOC (ASCII): {e}"))?;
                Ok(moc.into_cellcellrange_moc_iter().ranges().into_range_moc())
            }
            PixelFormat::MocJson => {
                let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
                let moc =
                    from_json_aladin::<u64, Hpx<u64>>(&text).map_err(|e| format!("not a readable MOC (JSON): {e}"))?;
                Ok(moc.into_cell_moc_iter().ranges().into_range_moc())
            }
            PixelFormat::HealSparse | PixelFormat::Healpix => Err("not a MOC".into()),
        }
    };
    match std::panic::catch_unwind(read) {
        Ok(result) => result.map_err(failed),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(failed(format!("a damaged MOC ({message})")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_serialisations_of_one_moc_give_the_same_cells() {
        let fits = read(Path::new("fixtures/pixels/discs.moc.fits"), PixelFormat::MocFits).unwrap();
        let ascii = read(Path::new("fixtures/pixels/discs.moc.txt"), PixelFormat::MocAscii).unwrap();
        let json = read(Path::new("fixtures/pixels/discs.moc.json"), PixelFormat::MocJson).unwrap();
        assert!(fits.moc_ranges().iter().count() > 100);
        assert_eq!(fits.moc_ranges(), ascii.moc_ranges());
        assert_eq!(fits.moc_ranges(), json.moc_ranges());
        assert_eq!(fits.depth_max(), 10);
    }

    #[test]
    fn a_damaged_moc_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.txt");
        for text in ["3/1-x", "31/5", "3/99999"] {
            std::fs::write(&path, text).unwrap();
            let error = read(&path, PixelFormat::MocAscii).unwrap_err().to_string();
            assert!(error.starts_with(&path.display().to_string()), "{error}");
        }
        let mut bytes = std::fs::read("fixtures/pixels/discs.moc.fits").unwrap();
        bytes.truncate(4000);
        let path = dir.path().join("bad.fits");
        std::fs::write(&path, bytes).unwrap();
        assert!(read(&path, PixelFormat::MocFits).is_err());
    }
}
