//! What a file holds, told by its first bytes rather than its name.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The formats angcut reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// Apache Parquet (`PAR1`).
    Parquet,
    /// An Arrow IPC file (`ARROW1`, Feather v2).
    IpcFile,
    /// An Arrow IPC stream.
    IpcStream,
    /// Text with a header line, comma separated.
    Csv,
    /// Text with a header line, tab separated.
    Tsv,
    /// A FITS file (`SIMPLE  =`), its first binary table (or the HDU asked for).
    Fits,
    /// A gzip-compressed FITS file (`.fits.gz`).
    FitsGz,
}

impl InputFormat {
    /// The format of a file that starts with `head`; `None` if nothing recognisable. CSV and TSV
    /// are recognised by the name `path` (`.csv`, `.tsv`), or by a header line (the first that is
    /// not a `#` comment) with a comma, or with tabs and no comma, in it.
    pub fn detect(head: &[u8], path: &Path) -> Option<InputFormat> {
        if head.starts_with(b"PAR1") {
            return Some(InputFormat::Parquet);
        }
        if head.starts_with(FITS_START) {
            return Some(InputFormat::Fits);
        }
        if head.starts_with(&[0x1f, 0x8b]) && gunzipped_head(head).starts_with(FITS_START) {
            return Some(InputFormat::FitsGz);
        }
        if head.starts_with(b"ARROW1") {
            return Some(InputFormat::IpcFile);
        }
        // Every message of a stream (since Arrow 0.15) starts with the continuation marker.
        if head.starts_with(&[0xff, 0xff, 0xff, 0xff]) {
            return Some(InputFormat::IpcStream);
        }
        let named = |name: &str| path.extension().is_some_and(|e| e.eq_ignore_ascii_case(name));
        // The header: the first line that is not a `#` comment.
        let header = head.split(|&b| b == b'\n').find(|line| !line.starts_with(b"#")).unwrap_or_default();
        let header = std::str::from_utf8(header).unwrap_or_default();
        if named("tsv") || header.contains('\t') && !header.contains(',') {
            return Some(InputFormat::Tsv);
        }
        (named("csv") || header.contains(',')).then_some(InputFormat::Csv)
    }
}

/// Every FITS file starts with this card.
const FITS_START: &[u8] = b"SIMPLE  =";

/// The first bytes that a gzip stream starting with `head` decompresses to (as many as `head` gives).
fn gunzipped_head(head: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    let _ = flate2::read::GzDecoder::new(head).take(FITS_START.len() as u64).read_to_end(&mut out);
    out
}

/// Reads up to `head.len()` bytes (fewer only at the end of the file).
pub(super) fn read_head(file: &mut File, head: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_their_first_bytes() {
        let any = Path::new("catalogue.bin");
        assert_eq!(InputFormat::detect(b"PAR1\x15\x04", any), Some(InputFormat::Parquet));
        assert_eq!(InputFormat::detect(b"ARROW1\0\0", any), Some(InputFormat::IpcFile));
        assert_eq!(InputFormat::detect(&[0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0], any), Some(InputFormat::IpcStream));
        assert_eq!(InputFormat::detect(b"hip,ra,dec\n1,2,3\n", any), Some(InputFormat::Csv));
        assert_eq!(InputFormat::detect(b"ra\n1\n", Path::new("stars.CSV")), Some(InputFormat::Csv));
        assert_eq!(InputFormat::detect(b"just some notes\n", any), None);
        assert_eq!(InputFormat::detect(b"# from VizieR\n# (c) CDS\nra,dec\n", any), Some(InputFormat::Csv));
        assert_eq!(InputFormat::detect(b"ra\tdec\n1\t2\n", any), Some(InputFormat::Tsv));
        assert_eq!(InputFormat::detect(b"ra\n1\n", Path::new("stars.tsv")), Some(InputFormat::Tsv));
        assert_eq!(InputFormat::detect(b"", any), None);
        let fits = std::fs::read("fixtures/objects_2k.fits").unwrap();
        assert_eq!(InputFormat::detect(&fits[..512], any), Some(InputFormat::Fits));
        let gz = std::fs::read("fixtures/objects_2k.fits.gz").unwrap();
        assert_eq!(InputFormat::detect(&gz[..512], any), Some(InputFormat::FitsGz));
        assert_eq!(InputFormat::detect(&[0x1f, 0x8b, 8, 0, 0, 0], any), None, "gzip of something else");
        assert_eq!(InputFormat::detect(&[0x89, b'P', b'N', b'G'], any), None);
    }
}
