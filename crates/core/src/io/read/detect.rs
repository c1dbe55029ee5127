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
    /// astropy's Enhanced CSV (`# %ECSV`): its header declares each column's type and unit.
    Ecsv,
    /// A FITS file (`SIMPLE  =`), its first binary table (or the HDU asked for).
    Fits,
    /// An IPAC table (IRSA's `.tbl`): `\` keyword lines and `|` header lines.
    Ipac,
    /// A VOTable (XML with a `VOTABLE` element): its first table with data, or the one asked for.
    VoTable,
    /// No file: rows made as they are read (`angcut randoms`).
    Generated,
}

/// What a file's first bytes (and name) say it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// The format of the content, after decompression.
    pub format: InputFormat,
    /// Whether the file is gzip-compressed (FITS and the text formats may be).
    pub gzip: bool,
}

impl InputFormat {
    /// What a file named `path` that starts with `head` holds; `None` if nothing recognisable.
    /// A gzip-compressed file is recognised by what its first bytes decompress to (FITS, ECSV,
    /// CSV or TSV; `.gz` is ignored in the name). CSV and TSV are recognised by the name (`.csv`,
    /// `.tsv`), or by a header line (the first that is not a `#` comment) with a comma, or with
    /// tabs and no comma, in it.
    pub fn detect(head: &[u8], path: &Path) -> Option<Detected> {
        if head.starts_with(&[0x1f, 0x8b]) {
            let inner = gunzipped_head(head);
            let format = InputFormat::detect_plain(&inner, path)?;
            let compressible = matches!(
                format,
                InputFormat::Fits
                    | InputFormat::Csv
                    | InputFormat::Tsv
                    | InputFormat::Ecsv
                    | InputFormat::Ipac
                    | InputFormat::VoTable
            );
            return compressible.then_some(Detected { format, gzip: true });
        }
        InputFormat::detect_plain(head, path).map(|format| Detected { format, gzip: false })
    }

    fn detect_plain(head: &[u8], path: &Path) -> Option<InputFormat> {
        if head.starts_with(b"PAR1") {
            return Some(InputFormat::Parquet);
        }
        if head.starts_with(FITS_START) {
            return Some(InputFormat::Fits);
        }
        if head.starts_with(ECSV_START) {
            return Some(InputFormat::Ecsv);
        }
        if head.starts_with(b"ARROW1") {
            return Some(InputFormat::IpcFile);
        }
        // Every message of a stream (since Arrow 0.15) starts with the continuation marker.
        if head.starts_with(&[0xff, 0xff, 0xff, 0xff]) {
            return Some(InputFormat::IpcStream);
        }
        if is_votable(head) {
            return Some(InputFormat::VoTable);
        }
        // `stars.csv.gz` is named `.csv`.
        let unzipped = match path.extension() {
            Some(e) if e.eq_ignore_ascii_case("gz") => Path::new(path.file_stem().unwrap_or_default()),
            _ => path,
        };
        let named = |name: &str| unzipped.extension().is_some_and(|e| e.eq_ignore_ascii_case(name));
        // IPAC: its first line that is not blank is a `\` keyword or comment, or a `|` header.
        let first = head.split(|&b| b == b'\n').find(|line| !line.iter().all(u8::is_ascii_whitespace));
        if first.is_some_and(|line| line.starts_with(b"\\") || line.starts_with(b"|")) {
            return Some(InputFormat::Ipac);
        }
        // The header: the first line that is not a `#` comment.
        let header = head.split(|&b| b == b'\n').find(|line| !line.starts_with(b"#")).unwrap_or_default();
        let header = std::str::from_utf8(header).unwrap_or_default();
        if named("tsv") || header.contains('\t') && !header.contains(',') {
            return Some(InputFormat::Tsv);
        }
        (named("csv") || header.contains(',')).then_some(InputFormat::Csv)
    }
}

/// What a file that is no catalogue format angcut reads looks like, from its first bytes (after
/// any leading blanks for text): `None` when nothing is recognised.
pub(crate) fn looks_like(head: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89HDF\r\n\x1a\n", "HDF5"),
        (b"PK\x03\x04", "a zip archive"),
        (b"%PDF", "a PDF document"),
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"\x93NUMPY", "a NumPy array (.npy)"),
        (b"#ASDF", "ASDF"),
        (b"SQLite format 3\0", "an SQLite database"),
        (b"FEA1", "a Feather v1 file (write it again as Feather v2 / Arrow IPC)"),
        (b"ORC", "an ORC file"),
        (b"Obj\x01", "an Avro file"),
        (b"BZh", "bzip2-compressed data (angcut reads gzip only)"),
        (b"\xfd7zXZ\0", "xz-compressed data (angcut reads gzip only)"),
        (b"\x28\xb5\x2f\xfd", "zstd-compressed data (angcut reads gzip only)"),
        (&[0x1f, 0x8b], "gzip-compressed data that is not FITS, CSV, TSV, ECSV or IPAC"),
    ];
    if head.is_empty() {
        return Some("an empty file");
    }
    if let Some((_, what)) = MAGIC.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Some(what);
    }
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
    let text = &text[start..];
    if text.starts_with(b"<") {
        return Some("XML that is no VOTable");
    }
    if super::ds9::looks_like_regions(head) {
        return Some("a DS9 region file, which angcut reads as a layer of a mask file (docs/masks.md)");
    }
    std::str::from_utf8(text).is_ok().then_some("text with no comma or tab in its first line")
}

/// Whether `head` is XML (after any byte-order mark and blanks) with a `VOTABLE` element in it
/// (its name may carry a namespace prefix, `<vot:VOTABLE`).
fn is_votable(head: &[u8]) -> bool {
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
    let element = |i: usize, w: &[u8]| {
        w.starts_with(b"VOTABLE")
            && matches!(w[7], b' ' | b'>' | b'\n' | b'\r' | b'\t')
            && i > 0
            && matches!(text[i - 1], b'<' | b':')
    };
    text[start..].starts_with(b"<") && text.windows(8).enumerate().any(|(i, w)| element(i, w))
}

/// Every FITS file starts with this card.
const FITS_START: &[u8] = b"SIMPLE  =";

/// Every ECSV file starts with this line (`# %ECSV 1.0`).
const ECSV_START: &[u8] = b"# %ECSV ";

/// The first bytes that a gzip stream starting with `head` decompresses to: as many as `head`
/// gives, up to the length of `head` (enough for a text header line).
fn gunzipped_head(head: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    // A truncated stream ends in an error after giving what it could: that is all we want.
    let _ = flate2::read::GzDecoder::new(head).take(head.len() as u64).read_to_end(&mut out);
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
        let detect = |head: &[u8], path: &Path| InputFormat::detect(head, path).map(|d| d.format);
        assert_eq!(detect(b"PAR1\x15\x04", any), Some(InputFormat::Parquet));
        assert_eq!(detect(b"ARROW1\0\0", any), Some(InputFormat::IpcFile));
        assert_eq!(detect(&[0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0], any), Some(InputFormat::IpcStream));
        assert_eq!(detect(b"hip,ra,dec\n1,2,3\n", any), Some(InputFormat::Csv));
        assert_eq!(detect(b"ra\n1\n", Path::new("stars.CSV")), Some(InputFormat::Csv));
        assert_eq!(detect(b"just some notes\n", any), None);
        assert_eq!(detect(b"# from VizieR\n# (c) CDS\nra,dec\n", any), Some(InputFormat::Csv));
        assert_eq!(detect(b"ra\tdec\n1\t2\n", any), Some(InputFormat::Tsv));
        assert_eq!(detect(b"ra\n1\n", Path::new("stars.tsv")), Some(InputFormat::Tsv));
        assert_eq!(detect(b"", any), None);
        assert_eq!(looks_like(b""), Some("an empty file"));
        assert_eq!(looks_like(b"\x89HDF\r\n\x1a\n\0\0"), Some("HDF5"));
        let votable = b"\n <?xml version=\"1.0\"?>\n<VOTABLE version=\"1.4\">";
        assert_eq!(detect(votable, any), Some(InputFormat::VoTable));
        assert_eq!(detect(b"<?xml version=\"1.0\"?><vot:VOTABLE xmlns:vot=\"x\">", any), Some(InputFormat::VoTable));
        assert_eq!(detect(b"<html><p>VOTABLE tables</p>", any), None);
        assert_eq!(looks_like(b"<html>"), Some("XML that is no VOTable"));
        assert_eq!(detect(b"\\fixlen = T\n|   ra   |   dec  |\n", any), Some(InputFormat::Ipac));
        assert_eq!(detect(b"\n|   ra   |   dec  |\n|  double | double |\n", any), Some(InputFormat::Ipac));
        assert_eq!(looks_like(b"just some notes\n"), Some("text with no comma or tab in its first line"));
        let region = looks_like(b"# Region file format: DS9 version 4.1\ngalactic\ncircle(1,2,3)\n");
        assert!(region.is_some_and(|what| what.starts_with("a DS9 region file")), "{region:?}");
        assert_eq!(looks_like(b"\x00\x01\x02\xff\xfe"), None);
        assert_eq!(detect(b"# %ECSV 1.0\n# ---\n", any), Some(InputFormat::Ecsv));
        let fits = std::fs::read("fixtures/objects_2k.fits").unwrap();
        assert_eq!(InputFormat::detect(&fits[..512], any), Some(Detected { format: InputFormat::Fits, gzip: false }));
        let gz = std::fs::read("fixtures/objects_2k.fits.gz").unwrap();
        assert_eq!(InputFormat::detect(&gz[..512], any), Some(Detected { format: InputFormat::Fits, gzip: true }));
        assert_eq!(InputFormat::detect(&[0x1f, 0x8b, 8, 0, 0, 0], any), None, "truncated gzip");
        let gzip = |text: &[u8]| {
            use std::io::Write;
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(text).unwrap();
            encoder.finish().unwrap()
        };
        let csv_gz = InputFormat::detect(&gzip(b"# stars\nra,dec\n1,2\n"), any);
        assert_eq!(csv_gz, Some(Detected { format: InputFormat::Csv, gzip: true }));
        assert_eq!(detect(&gzip(b"ra\n1\n"), Path::new("stars.tsv.gz")), Some(InputFormat::Tsv), "named under .gz");
        assert_eq!(detect(&gzip(b"# %ECSV 1.0\n"), any), Some(InputFormat::Ecsv));
        assert_eq!(detect(&gzip(b"PAR1\x15\x04"), any), None, "gzipped Parquet is not read");
        assert_eq!(detect(&[0x89, b'P', b'N', b'G'], any), None);
    }
}
