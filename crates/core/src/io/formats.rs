//! The one table of the file formats angcut knows, [`FORMATS`]: each one's name, the names its
//! files end in, how its first bytes tell it, what angcut reads it as (a catalogue, a pixel map,
//! DS9 regions, or nothing: a format only recognised to say what a file is), whether angcut
//! writes it and streams it, and a line of help.
//!
//! Everything that tells formats apart reads this table and lists none itself: content
//! detection of inputs ([`InputFormat::detect`]) and of mask layers ([`PixelFormat::detect`],
//! [`is_region_file`]), the message for a file angcut does not read (`looks_like`), the
//! writer's choice of format from a name ([`OutputFormat`]'s lookups), the `--out-dir` walk
//! ([`named_parquet`]), the help texts ([`formats_read`], [`written_names`],
//! [`written_extensions`]), `angcut formats` and Python's HATS helper.

use std::io::Read;
use std::path::Path;

use crate::io::fits::{FitsHandle, header_text};

/// The catalogue formats angcut reads.
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

/// The catalogue formats angcut writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Apache Parquet.
    Parquet,
    /// The Arrow IPC file format (Feather v2).
    IpcFile,
    /// The Arrow IPC stream format, what `-` writes to stdout.
    IpcStream,
    /// Comma-separated text with a header line.
    Csv,
    /// A FITS binary table.
    Fits,
    /// A VOTable, its rows serialised as BINARY2.
    VoTable,
}

/// The pixel maps a mask layer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// A HealSparse FITS map (`PIXTYPE = 'HEALSPARSE'`).
    HealSparse,
    /// A HEALPix map as healpy writes it (`PIXTYPE = 'HEALPIX'`, RING or NESTED).
    Healpix,
    /// A MOC in FITS (IVOA 1.1 NUNIQ or 2.0 RANGE).
    MocFits,
    /// A MOC in the IVOA ASCII serialisation (`3/1-4 5/10`).
    MocAscii,
    /// A MOC in Aladin's JSON serialisation (`{"3": [1, 2]}`).
    MocJson,
}

/// What angcut reads a file of a format as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A catalogue: objects (IN) or contaminants.
    Catalogue(InputFormat),
    /// A pixel map, as a layer of a mask file.
    PixelMap(PixelFormat),
    /// DS9 regions, as a layer of a mask file.
    Regions,
    /// Nothing: the format is known only to tell a user what their file is.
    Foreign,
}

/// How a format is told by a file's first bytes.
#[derive(Clone, Copy)]
pub enum Sign {
    /// The file starts with these bytes.
    Magic(&'static [u8]),
    /// A test of the first bytes, and what it looks for.
    Head(fn(&[u8]) -> bool, &'static str),
    /// A FITS file (`SIMPLE  =`) whose first or second header passes this test of its cards,
    /// and what it looks for.
    FitsHeader(fn(&[String]) -> bool, &'static str),
}

/// Whether files of a format may be gzip-compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gzip {
    /// Never.
    No,
    /// Read gzipped (told by content, whatever the name).
    Read,
    /// Read gzipped, and written gzipped when the output's name ends in `.gz`.
    ReadWrite,
}

/// One format: a row of [`FORMATS`].
pub struct Format {
    /// Its name, as help and messages say it.
    pub name: &'static str,
    /// What angcut reads it as.
    pub role: Role,
    /// How its first bytes tell it.
    pub sign: Sign,
    /// What its files' names end in (lower case, without the dot); an output so named is
    /// written in it, if angcut writes it.
    pub extensions: &'static [&'static str],
    /// Whether the name alone tells it (text with no signature: CSV named `.csv`, DS9 `.reg`).
    pub by_name: bool,
    /// Whether it may be gzip-compressed.
    pub gzip: Gzip,
    /// The names `--output-format` takes for it (the first is shown); empty if not written.
    pub written_as: &'static [&'static str],
    /// The writer's format, if angcut writes it.
    pub output: Option<OutputFormat>,
    /// Whether it is read a part at a time (memory bounded whatever the file's size).
    pub streamed: bool,
    /// A line of help: what is read and refused of it; for a format angcut does not read, what
    /// to do with such a file.
    pub help: &'static str,
}

/// A row's defaults: a format only recognised (the rows below override what applies to them).
const FOREIGN: Format = Format {
    name: "",
    role: Role::Foreign,
    sign: Sign::Magic(b""),
    extensions: &[],
    by_name: false,
    gzip: Gzip::No,
    written_as: &[],
    output: None,
    streamed: false,
    help: "",
};

/// Every FITS file starts with this card.
const FITS_START: &[u8] = b"SIMPLE  =";

/// Every ECSV file starts with this line (`# %ECSV 1.0`).
const ECSV_START: &[u8] = b"# %ECSV ";

/// Every gzip stream starts with these bytes.
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// The extension of a gzipped file's name (`stars.csv.gz`).
pub const GZIP_EXTENSION: &str = "gz";

/// Every format angcut knows. The order is the order of detection: the first row whose sign
/// (or, for `by_name` rows, name) fits a file is its format.
pub const FORMATS: &[Format] = &[
    Format {
        name: "Parquet",
        role: Role::Catalogue(InputFormat::Parquet),
        sign: Sign::Magic(b"PAR1"),
        extensions: &["parquet", "pq", "parq"],
        written_as: &["parquet"],
        output: Some(OutputFormat::Parquet),
        streamed: true,
        help: "row groups decoded on several threads; from Parquet to Parquet, the pages a cut leaves whole are copied as stored",
        ..FOREIGN
    },
    Format {
        name: "FITS binary table",
        role: Role::Catalogue(InputFormat::Fits),
        sign: Sign::Magic(FITS_START),
        extensions: &["fits", "fit", "fts"],
        gzip: Gzip::ReadWrite,
        written_as: &["fits"],
        output: Some(OutputFormat::Fits),
        streamed: true,
        help: "the first binary table, or the HDU asked for; gzipped input goes through a temporary file; refused: `X` (bit) and complex columns, an HDU that is an image, and on writing, Arrow types FITS has no column for",
        ..FOREIGN
    },
    Format {
        name: "ECSV",
        role: Role::Catalogue(InputFormat::Ecsv),
        sign: Sign::Magic(ECSV_START),
        extensions: &["ecsv"],
        gzip: Gzip::Read,
        streamed: true,
        help: "astropy's: types, units and descriptions from its header (written as CSV); refused: complex columns",
        ..FOREIGN
    },
    Format {
        name: "Arrow IPC file",
        role: Role::Catalogue(InputFormat::IpcFile),
        sign: Sign::Magic(b"ARROW1"),
        extensions: &["arrow", "feather", "ipc"],
        written_as: &["arrow", "ipc", "feather"],
        output: Some(OutputFormat::IpcFile),
        streamed: true,
        help: "Feather v2 too",
        ..FOREIGN
    },
    Format {
        name: "Arrow IPC stream",
        role: Role::Catalogue(InputFormat::IpcStream),
        // Every message of a stream (since Arrow 0.15) starts with the continuation marker.
        sign: Sign::Magic(&[0xff, 0xff, 0xff, 0xff]),
        extensions: &["arrows"],
        written_as: &["arrow-stream", "ipc-stream", "arrows"],
        output: Some(OutputFormat::IpcStream),
        streamed: true,
        help: "read from a pipe as it arrives; what `-` as OUT writes to stdout",
        ..FOREIGN
    },
    Format {
        name: "VOTable",
        role: Role::Catalogue(InputFormat::VoTable),
        sign: Sign::Head(is_votable, "XML with a `VOTABLE` element"),
        extensions: &["vot", "votable", "xml"],
        gzip: Gzip::Read,
        written_as: &["votable", "vot"],
        output: Some(OutputFormat::VoTable),
        streamed: true,
        help: "TABLEDATA, BINARY and BINARY2 read, the first table with data or the one asked for; one table written, BINARY2; refused: on reading, a FITS-serialised table, an external stream (`href`), arrays of strings; on writing, structs, dates, lists of text, an unsigned 64-bit value beyond a `long`",
        ..FOREIGN
    },
    Format {
        name: "IPAC table",
        role: Role::Catalogue(InputFormat::Ipac),
        sign: Sign::Head(is_ipac, "a first line starting `\\` or `|`"),
        extensions: &["tbl", "ipac"],
        gzip: Gzip::Read,
        streamed: true,
        help: "IRSA's: names, types, units and nulls from its `|` header lines",
        ..FOREIGN
    },
    Format {
        name: "TSV",
        role: Role::Catalogue(InputFormat::Tsv),
        sign: Sign::Head(is_tsv, "a header line with tabs and no comma"),
        extensions: &["tsv"],
        by_name: true,
        gzip: Gzip::Read,
        streamed: true,
        help: "a header line of names (after any `#` comments), types inferred",
        ..FOREIGN
    },
    Format {
        name: "CSV",
        role: Role::Catalogue(InputFormat::Csv),
        sign: Sign::Head(is_csv, "a header line with a comma"),
        extensions: &["csv"],
        by_name: true,
        gzip: Gzip::Read,
        written_as: &["csv"],
        output: Some(OutputFormat::Csv),
        streamed: true,
        help: "a header line of names (after any `#` comments), types inferred",
    },
    Format {
        name: "HealSparse map",
        role: Role::PixelMap(PixelFormat::HealSparse),
        sign: Sign::FitsHeader(is_healsparse, "`PIXTYPE = 'HEALSPARSE'`"),
        extensions: &["hsp", "hs"],
        streamed: true,
        help: "a coverage block read at a time, as objects reach it",
        ..FOREIGN
    },
    Format {
        name: "HEALPix map",
        role: Role::PixelMap(PixelFormat::Healpix),
        sign: Sign::FitsHeader(is_healpix, "`PIXTYPE = 'HEALPIX'`, `ORDERING` `RING` or `NESTED`"),
        extensions: &["fits"],
        help: "as healpy writes it; full-sky or partial (`INDXSCHM = 'EXPLICIT'`)",
        ..FOREIGN
    },
    Format {
        name: "MOC (FITS)",
        role: Role::PixelMap(PixelFormat::MocFits),
        sign: Sign::FitsHeader(is_moc_fits, "`MOCVERS`, or `ORDERING` `NUNIQ` or `RANGE`"),
        extensions: &["moc", "fits"],
        help: "IVOA MOC 1.1 or 2.0",
        ..FOREIGN
    },
    Format {
        name: "MOC (ASCII)",
        role: Role::PixelMap(PixelFormat::MocAscii),
        sign: Sign::Head(is_moc_ascii, "`depth/cells`"),
        extensions: &["moc", "txt"],
        help: "the IVOA ASCII serialisation",
        ..FOREIGN
    },
    Format {
        name: "MOC (JSON)",
        role: Role::PixelMap(PixelFormat::MocJson),
        sign: Sign::Head(is_moc_json, "a JSON object keyed by depths"),
        extensions: &["moc", "json"],
        help: "Aladin's JSON serialisation",
        ..FOREIGN
    },
    Format {
        name: "DS9 region file",
        role: Role::Regions,
        sign: Sign::Head(is_regions, "`# Region file format`, `global` or a frame first"),
        extensions: &["reg"],
        by_name: true,
        help: "as DS9 saves them; `image` and `physical` regions through the image's WCS",
        ..FOREIGN
    },
    Format { name: "HDF5", sign: Sign::Magic(b"\x89HDF\r\n\x1a\n"), extensions: &["h5", "hdf5"], ..FOREIGN },
    Format { name: "zip archive", sign: Sign::Magic(b"PK\x03\x04"), extensions: &["zip"], ..FOREIGN },
    Format { name: "PDF document", sign: Sign::Magic(b"%PDF"), extensions: &["pdf"], ..FOREIGN },
    Format { name: "PNG image", sign: Sign::Magic(b"\x89PNG"), extensions: &["png"], ..FOREIGN },
    Format { name: "JPEG image", sign: Sign::Magic(b"\xff\xd8\xff"), extensions: &["jpg", "jpeg"], ..FOREIGN },
    Format { name: "NumPy array", sign: Sign::Magic(b"\x93NUMPY"), extensions: &["npy"], ..FOREIGN },
    Format { name: "ASDF file", sign: Sign::Magic(b"#ASDF"), extensions: &["asdf"], ..FOREIGN },
    Format {
        name: "SQLite database",
        sign: Sign::Magic(b"SQLite format 3\0"),
        extensions: &["sqlite", "db"],
        ..FOREIGN
    },
    Format {
        name: "Feather v1 file",
        sign: Sign::Magic(b"FEA1"),
        extensions: &["feather"],
        help: "write it again as Feather v2 / Arrow IPC",
        ..FOREIGN
    },
    Format { name: "ORC file", sign: Sign::Magic(b"ORC"), extensions: &["orc"], ..FOREIGN },
    Format { name: "Avro file", sign: Sign::Magic(b"Obj\x01"), extensions: &["avro"], ..FOREIGN },
    Format {
        name: "bzip2-compressed data",
        sign: Sign::Magic(b"BZh"),
        extensions: &["bz2"],
        help: "angcut reads gzip only",
        ..FOREIGN
    },
    Format {
        name: "xz-compressed data",
        sign: Sign::Magic(b"\xfd7zXZ\0"),
        extensions: &["xz"],
        help: "angcut reads gzip only",
        ..FOREIGN
    },
    Format {
        name: "zstd-compressed data",
        sign: Sign::Magic(b"\x28\xb5\x2f\xfd"),
        extensions: &["zst"],
        help: "angcut reads gzip only",
        ..FOREIGN
    },
];

/// [`FORMATS`] as a Markdown table, as `angcut formats` prints it and docs/formats.md shows it.
pub fn markdown() -> String {
    let mut out = String::from(
        "| format | read as | first bytes | file names | gzipped | written as | streamed | notes |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for f in FORMATS {
        let role = match f.role {
            Role::Catalogue(_) => "a catalogue",
            Role::PixelMap(_) | Role::Regions => "a mask layer",
            Role::Foreign => "nothing: its message names it",
        };
        let mut first = match f.sign {
            Sign::Magic(_) => format!("`{}`", f.first_bytes()),
            _ => f.first_bytes(),
        };
        if f.by_name {
            first.push_str(", or by its name");
        }
        let named: Vec<String> = f.extensions.iter().map(|e| format!("`.{e}`")).collect();
        let gzip = match f.gzip {
            Gzip::No => "",
            Gzip::Read => "read",
            Gzip::ReadWrite => "read and written",
        };
        let written: Vec<String> = f.written_as.iter().map(|n| format!("`{n}`")).collect();
        let streamed = match (f.role, f.streamed) {
            (Role::Foreign, _) => "",
            (_, true) => "yes",
            (_, false) => "read whole",
        };
        let cells = [f.name, role, &first, &named.join(", "), gzip, &written.join(", "), streamed, f.help];
        let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// What a file's first bytes (and name) say it holds: a row of [`FORMATS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// The format of the content, after decompression.
    pub format: InputFormat,
    /// Whether the file is gzip-compressed.
    pub gzip: bool,
}

impl Format {
    /// Whether a file named `path` that starts with `head` (decompressed) is in this format.
    /// A FITS header test opens the file (through cfitsio), so it is only made of a file.
    fn holds(&self, head: &[u8], path: &Path) -> bool {
        let signed = match self.sign {
            Sign::Magic(magic) => !magic.is_empty() && head.starts_with(magic),
            Sign::Head(test, _) => test(head),
            Sign::FitsHeader(test, _) => head.starts_with(FITS_START) && fits_headers_pass(path, test),
        };
        signed || self.by_name && self.names(path)
    }

    /// Whether `path` (without a trailing `.gz`) ends in one of this format's extensions.
    pub fn names(&self, path: &Path) -> bool {
        let path = unzipped(path);
        path.extension().is_some_and(|e| self.extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
    }

    /// The first bytes as help shows them: the magic bytes (printable ones as text, others as
    /// `\xNN`), or what the test looks for.
    pub fn first_bytes(&self) -> String {
        match self.sign {
            Sign::Magic(magic) => {
                magic
                    .iter()
                    .map(|&b| {
                        if b.is_ascii_graphic() || b == b' ' {
                            char::from(b).to_string()
                        } else {
                            format!("\\x{b:02x}")
                        }
                    })
                    .collect()
            }
            Sign::Head(_, what) => what.to_string(),
            Sign::FitsHeader(_, what) => format!("FITS (`SIMPLE  =`) with {what} in its first or second header"),
        }
    }

    /// The name as a message says what a file looks like: with its article (`a zip archive`,
    /// `an ORC file`), or without one for a name that takes none (`HDF5`, `xz-compressed data`).
    fn a_name(&self) -> String {
        match self.name {
            name if name.ends_with("data") || name == "HDF5" => name.to_string(),
            name if name.starts_with(['A', 'E', 'I', 'O', 'U']) => format!("an {name}"),
            name => format!("a {name}"),
        }
    }

    /// Whether a catalogue of this format is read (an input or contaminants).
    pub fn is_catalogue(&self) -> bool {
        matches!(self.role, Role::Catalogue(_))
    }
}

/// `path` without a trailing `.gz`: `stars.csv.gz` is named `.csv`.
fn unzipped(path: &Path) -> &Path {
    match path.extension() {
        Some(e) if e.eq_ignore_ascii_case(GZIP_EXTENSION) => Path::new(path.file_stem().unwrap_or_default()),
        _ => path,
    }
}

/// The first row of [`FORMATS`] with a role `wanted` takes that a file named `path` starting
/// with `head` is in, and whether it is gzipped: a gzip stream is told by what its first bytes
/// decompress to, among the formats read gzipped.
pub fn recognise(head: &[u8], path: &Path, wanted: impl Fn(Role) -> bool) -> Option<(&'static Format, bool)> {
    if head.starts_with(GZIP_MAGIC) {
        // Gzipped Parquet is told as Parquet, and refused, before a `.csv.gz` name says CSV.
        let inner = gunzipped_head(head);
        let format = FORMATS.iter().find(|f| wanted(f.role) && f.holds(&inner, path))?;
        return (format.gzip != Gzip::No).then_some((format, true));
    }
    FORMATS.iter().find(|f| wanted(f.role) && f.holds(head, path)).map(|f| (f, false))
}

/// [`recognise`] of the file at `path` by its first bytes; a file that cannot be read is told
/// by its name alone (its reader then says why it cannot be read).
pub fn recognise_file(path: &Path, wanted: impl Fn(Role) -> bool) -> Option<&'static Format> {
    let mut head = vec![0u8; HEAD_BYTES];
    let read = std::fs::File::open(path).and_then(|mut file| read_head(&mut file, &mut head)).unwrap_or(0);
    recognise(&head[..read], path, wanted).map(|(format, _)| format)
}

/// How many first bytes detection reads: enough for a text header line, also after
/// decompression, and for a FITS header block.
pub const HEAD_BYTES: usize = 4096;

impl InputFormat {
    /// What a file named `path` that starts with `head` holds, among the catalogue formats of
    /// [`FORMATS`]; `None` if nothing recognisable.
    ///
    /// ```
    /// use std::path::Path;
    /// use angcut::io::formats::{Detected, InputFormat};
    ///
    /// let parquet = InputFormat::detect(b"PAR1\x15\x04", Path::new("stars.bin"));
    /// assert_eq!(parquet, Some(Detected { format: InputFormat::Parquet, gzip: false }));
    /// // Text with no signature: by its header line, or by its name.
    /// assert_eq!(InputFormat::detect(b"ra\tdec\n", Path::new("x")).map(|d| d.format), Some(InputFormat::Tsv));
    /// assert_eq!(InputFormat::detect(b"ra\n1\n", Path::new("x.csv")).map(|d| d.format), Some(InputFormat::Csv));
    /// assert_eq!(InputFormat::detect(b"\x89HDF\r\n\x1a\n", Path::new("x.h5")), None);
    /// ```
    pub fn detect(head: &[u8], path: &Path) -> Option<Detected> {
        recognise(head, path, |role| matches!(role, Role::Catalogue(_))).and_then(|(format, gzip)| match format.role {
            Role::Catalogue(format) => Some(Detected { format, gzip }),
            _ => None,
        })
    }
}

impl PixelFormat {
    /// The format of the pixel map at `path`, or `None` for anything else (a catalogue, a region
    /// file, a file that cannot be read: its reader says why).
    pub fn detect(path: &Path) -> Option<PixelFormat> {
        match recognise_file(path, |role| matches!(role, Role::PixelMap(_)))?.role {
            Role::PixelMap(format) => Some(format),
            _ => None,
        }
    }
}

/// Whether the file at `path` is a DS9 region file: named `.reg`, or looking like one.
pub fn is_region_file(path: &Path) -> bool {
    recognise_file(path, |role| role == Role::Regions).is_some()
}

/// What a file that is no catalogue format angcut reads looks like, from its first bytes:
/// `None` when nothing is recognised.
pub(crate) fn looks_like(head: &[u8]) -> Option<String> {
    if head.is_empty() {
        return Some("an empty file".into());
    }
    if head.starts_with(GZIP_MAGIC) {
        return Some(format!("gzip-compressed data that is not {}", listed(gzipped_names(), "or")));
    }
    // A FITS header test needs the file: a FITS file is a catalogue format anyway.
    let known = FORMATS.iter().find(|f| !f.is_catalogue() && f.holds(head, Path::new("")));
    if let Some(format) = known {
        let name = format.a_name();
        return Some(match format.role {
            Role::Foreign if format.help.is_empty() => name,
            Role::Foreign => format!("{name} ({})", format.help),
            _ => format!("{name}, which angcut reads as a layer of a mask file (docs/masks.md)"),
        });
    }
    if trimmed(head).starts_with(b"<") {
        return Some("XML that is no VOTable".into());
    }
    std::str::from_utf8(head).is_ok().then(|| "text with no comma or tab in its first line".into())
}

/// The catalogue formats read gzipped.
fn gzipped_names() -> Vec<&'static str> {
    FORMATS.iter().filter(|f| f.is_catalogue() && f.gzip != Gzip::No).map(|f| f.name).collect()
}

/// `a, b and c` (or `a, b or c`: `last` is the word before the last name).
fn listed(names: Vec<&str>, last_word: &str) -> String {
    match names.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} {last_word} {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The catalogue formats angcut reads, as help and messages list them: `Parquet, ..., TSV and
/// CSV (all but Parquet, ... also gzipped)`, naming the shorter list.
pub fn formats_read() -> String {
    let names: Vec<&str> = FORMATS.iter().filter(|f| f.is_catalogue()).map(|f| f.name).collect();
    let gzipped = gzipped_names();
    let plain: Vec<&str> = names.iter().copied().filter(|n| !gzipped.contains(n)).collect();
    let gzip = if plain.len() < gzipped.len() {
        format!("all but {} also gzipped", listed(plain, "and"))
    } else {
        format!("{} also gzipped", listed(gzipped, "and"))
    };
    format!("{} ({gzip})", listed(names, "and"))
}

/// The extensions of the catalogue format `format` (Parquet: `parquet`, `pq`, `parq`).
pub fn extensions_of(format: InputFormat) -> &'static [&'static str] {
    FORMATS.iter().find(|f| f.role == Role::Catalogue(format)).map_or(&[], |f| f.extensions)
}

/// Whether `path` is named as a Parquet file: what the writer takes as Parquet and what an
/// `--out-dir` directory walk takes.
pub fn named_parquet(path: &Path) -> bool {
    path.extension().is_some_and(|e| extensions_of(InputFormat::Parquet).iter().any(|p| e.eq_ignore_ascii_case(p)))
}

/// The names an `--out-dir` directory walk takes, as messages and help list them:
/// `*.parquet, *.pq, *.parq`.
pub fn parquet_globs() -> String {
    extensions_of(InputFormat::Parquet).iter().map(|e| format!("*.{e}")).collect::<Vec<_>>().join(", ")
}

/// The written formats: each row that angcut writes, with its writer's format.
pub(crate) fn written() -> impl Iterator<Item = (&'static Format, OutputFormat)> {
    FORMATS.iter().filter_map(|f| f.output.map(|output| (f, output)))
}

/// The names `--output-format` takes, as its help and its error list them: `parquet, fits, ...`.
pub fn written_names() -> String {
    written().map(|(f, _)| f.written_as[0]).collect::<Vec<_>>().join(", ")
}

/// The extensions an output's name may end in: `.parquet/.pq/.parq, ..., .fits.gz`.
pub fn written_extensions() -> String {
    let mut each: Vec<String> =
        written().map(|(f, _)| f.extensions.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join("/")).collect();
    each.extend(
        written()
            .filter(|(f, _)| f.gzip == Gzip::ReadWrite)
            .map(|(f, _)| format!(".{}.{GZIP_EXTENSION}", f.extensions[0])),
    );
    each.join(", ")
}

/// Whether a name is one only pixel maps carry (`stars.hsp`, `footprint.moc.fits`): some part of
/// it after the first dot is an extension of a pixel map and of no catalogue format.
pub fn named_as_pixel_map(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let named = |part: &str, map: bool| {
        FORMATS.iter().any(|f| {
            f.extensions.contains(&part) && (map && matches!(f.role, Role::PixelMap(_)) || !map && f.is_catalogue())
        })
    };
    name.split('.').skip(1).any(|part| named(part, true) && !named(part, false))
}

/// Whether `head` is XML (after any byte-order mark and blanks) with a `VOTABLE` element in it
/// (its name may carry a namespace prefix, `<vot:VOTABLE`).
fn is_votable(head: &[u8]) -> bool {
    let text = trimmed(head);
    let element = |i: usize, w: &[u8]| {
        w.starts_with(b"VOTABLE")
            && matches!(w[7], b' ' | b'>' | b'\n' | b'\r' | b'\t')
            && i > 0
            && matches!(text[i - 1], b'<' | b':')
    };
    text.starts_with(b"<") && text.windows(8).enumerate().any(|(i, w)| element(i, w))
}

/// `head` without a byte-order mark and leading blanks.
fn trimmed(head: &[u8]) -> &[u8] {
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(text.len());
    &text[start..]
}

/// IPAC: its first line that is not blank is a `\` keyword or comment, or a `|` header.
fn is_ipac(head: &[u8]) -> bool {
    let first = head.split(|&b| b == b'\n').find(|line| !line.iter().all(u8::is_ascii_whitespace));
    first.is_some_and(|line| line.starts_with(b"\\") || line.starts_with(b"|"))
}

/// The header of a text table: its first line that is not a `#` comment.
fn text_header(head: &[u8]) -> &str {
    let header = head.split(|&b| b == b'\n').find(|line| !line.starts_with(b"#")).unwrap_or_default();
    std::str::from_utf8(header).unwrap_or_default()
}

/// TSV: a header line with tabs and no comma.
fn is_tsv(head: &[u8]) -> bool {
    let header = text_header(head);
    header.contains('\t') && !header.contains(',')
}

/// CSV: a header line with a comma.
fn is_csv(head: &[u8]) -> bool {
    text_header(head).contains(',')
}

/// The IVOA ASCII MOC: `depth/cells`, perhaps after `s` (MOC 2.0's space prefix).
fn is_moc_ascii(head: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(head) else { return false };
    let text = text.trim_start();
    let body = text.strip_prefix('s').unwrap_or(text).trim_start();
    let digits = body.trim_start_matches(|c: char| c.is_ascii_digit());
    digits.len() < body.len() && digits.starts_with('/')
}

/// Aladin's JSON MOC: an object whose first key is a depth.
fn is_moc_json(head: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(head) else { return false };
    let Some(digits) = text.trim_start().strip_prefix('{').and_then(|o| o.trim_start().strip_prefix('"')) else {
        return false;
    };
    digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.trim_start_matches(|c: char| c.is_ascii_digit()).starts_with('"')
}

/// Whether `head` looks like a DS9 region file: its first line that is not blank is DS9's
/// `# Region file format` comment, a `global` line, or a frame line.
fn is_regions(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let word = first.split([';', ' ', '(']).next().unwrap_or("").to_ascii_lowercase();
    first.starts_with("# Region file format")
        || ["global", "fk5", "icrs", "j2000", "fk4", "b1950", "galactic", "ecliptic", "image", "physical"]
            .contains(&word.as_str())
}

fn is_healsparse(cards: &[String]) -> bool {
    header_text(cards, "PIXTYPE").as_deref() == Some("HEALSPARSE")
}

fn is_healpix(cards: &[String]) -> bool {
    header_text(cards, "PIXTYPE").as_deref() == Some("HEALPIX")
        && matches!(header_text(cards, "ORDERING").as_deref(), Some("RING" | "NESTED"))
}

fn is_moc_fits(cards: &[String]) -> bool {
    header_text(cards, "MOCVERS").is_some()
        || matches!(header_text(cards, "ORDERING").as_deref(), Some("NUNIQ" | "RANGE"))
}

/// Whether the first or second header of the FITS file at `path` passes `test`.
fn fits_headers_pass(path: &Path, test: fn(&[String]) -> bool) -> bool {
    let Ok(mut fits) = FitsHandle::open(path, false) else { return false };
    let count = fits.hdus().map_or(0, |hdus| hdus.len());
    (0..count.min(2)).any(|index| fits.move_to(index).is_ok() && fits.cards().is_ok_and(|cards| test(&cards)))
}

/// The first bytes that a gzip stream starting with `head` decompresses to: as many as `head`
/// gives, up to the length of `head` (enough for a text header line).
fn gunzipped_head(head: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    // A truncated stream ends in an error after giving what it could: that is all we want.
    let _ = flate2::read::GzDecoder::new(head).take(head.len() as u64).read_to_end(&mut out);
    out
}

/// Reads up to `head.len()` bytes (fewer only at the end of the file).
pub(crate) fn read_head(file: &mut impl Read, head: &mut [u8]) -> std::io::Result<usize> {
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
        assert_eq!(looks_like(b"").as_deref(), Some("an empty file"));
        assert_eq!(looks_like(b"\x89HDF\r\n\x1a\n\0\0").as_deref(), Some("HDF5"));
        let votable = b"\n <?xml version=\"1.0\"?>\n<VOTABLE version=\"1.4\">";
        assert_eq!(detect(votable, any), Some(InputFormat::VoTable));
        assert_eq!(detect(b"<?xml version=\"1.0\"?><vot:VOTABLE xmlns:vot=\"x\">", any), Some(InputFormat::VoTable));
        assert_eq!(detect(b"<html><p>VOTABLE tables</p>", any), None);
        assert_eq!(looks_like(b"<html>").as_deref(), Some("XML that is no VOTable"));
        assert_eq!(detect(b"\\fixlen = T\n|   ra   |   dec  |\n", any), Some(InputFormat::Ipac));
        assert_eq!(detect(b"\n|   ra   |   dec  |\n|  double | double |\n", any), Some(InputFormat::Ipac));
        assert_eq!(looks_like(b"just some notes\n").as_deref(), Some("text with no comma or tab in its first line"));
        let region = looks_like(b"# Region file format: DS9 version 4.1\ngalactic\ncircle(1,2,3)\n");
        assert!(region.as_deref().is_some_and(|what| what.starts_with("a DS9 region file")), "{region:?}");
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
        assert_eq!(detect(&gzip(b"PAR1\x15\x04"), Path::new("t.csv.gz")), None, "gzipped Parquet named .csv.gz");
    }

    #[test]
    fn what_a_file_angcut_does_not_read_looks_like_comes_from_the_table() {
        assert_eq!(looks_like(b"PK\x03\x04..").as_deref(), Some("a zip archive"));
        assert_eq!(looks_like(b"ORC.").as_deref(), Some("an ORC file"));
        assert_eq!(looks_like(b"BZh91AY").as_deref(), Some("bzip2-compressed data (angcut reads gzip only)"));
        assert_eq!(
            looks_like(b"FEA1").as_deref(),
            Some("a Feather v1 file (write it again as Feather v2 / Arrow IPC)")
        );
        assert_eq!(
            looks_like(b"3/1-4 5/10\n").as_deref(),
            Some("a MOC (ASCII), which angcut reads as a layer of a mask file (docs/masks.md)")
        );
        // Every catalogue format read gzipped is named, VOTable among them (a list written by
        // hand once left it out).
        let gzip = looks_like(&[0x1f, 0x8b, 8]).unwrap();
        for format in FORMATS.iter().filter(|f| f.is_catalogue() && f.gzip != Gzip::No) {
            assert!(gzip.contains(format.name), "{gzip}");
        }
        assert!(gzip.contains("VOTable") && !gzip.contains("Parquet"), "{gzip}");
    }

    #[test]
    fn every_row_is_told_by_its_own_sign_and_by_no_earlier_row() {
        // A file starting with each magic is that row's format: no earlier row claims it.
        for (i, format) in FORMATS.iter().enumerate() {
            if let Sign::Magic(magic) = format.sign {
                let mut head = magic.to_vec();
                head.extend_from_slice(b"\0\0\0\0");
                let first = FORMATS.iter().position(|f| f.holds(&head, Path::new("x"))).unwrap();
                assert_eq!(first, i, "{}", format.name);
            }
        }
        // Extensions name one written format each, and names for --output-format are unique.
        let written: Vec<_> = written().collect();
        for (i, (a, _)) in written.iter().enumerate() {
            for (b, _) in &written[i + 1..] {
                assert!(a.extensions.iter().all(|e| !b.extensions.contains(e)), "{} and {}", a.name, b.name);
                assert!(a.written_as.iter().all(|e| !b.written_as.contains(e)), "{} and {}", a.name, b.name);
            }
        }
        assert!(written.iter().all(|(f, _)| !f.written_as.is_empty()));
    }

    #[test]
    fn names_listed_for_help_and_the_walk_come_from_the_rows() {
        assert_eq!(parquet_globs(), "*.parquet, *.pq, *.parq");
        assert!(named_parquet(Path::new("a/b.PARQ")) && !named_parquet(Path::new("b.csv")));
        assert_eq!(written_names(), "parquet, fits, arrow, arrow-stream, votable, csv");
        assert!(written_extensions().ends_with(".csv, .fits.gz"), "{}", written_extensions());
        let read = formats_read();
        assert!(read.starts_with("Parquet, FITS binary table, ECSV,") && read.contains("IPAC table"), "{read}");
        assert!(named_as_pixel_map(Path::new("stars.hsp")) && named_as_pixel_map(Path::new("f.moc.fits")));
        assert!(!named_as_pixel_map(Path::new("stars.fits")) && !named_as_pixel_map(Path::new("moc")));
        assert_eq!(Format::first_bytes(&FORMATS[0]), "PAR1");
        assert_eq!(
            FORMATS.iter().find(|f| f.name == "Arrow IPC stream").unwrap().first_bytes(),
            "\\xff\\xff\\xff\\xff"
        );
    }

    #[test]
    fn mask_layers_are_told_by_the_table() {
        let pixels = |name: &str| PixelFormat::detect(Path::new(&format!("fixtures/pixels/{name}")));
        assert_eq!(pixels("bool.hsp"), Some(PixelFormat::HealSparse));
        assert_eq!(pixels("ring.fits"), Some(PixelFormat::Healpix));
        assert_eq!(pixels("discs.moc.fits"), Some(PixelFormat::MocFits));
        assert_eq!(pixels("discs.moc.txt"), Some(PixelFormat::MocAscii));
        assert_eq!(pixels("discs.moc.json"), Some(PixelFormat::MocJson));
        assert_eq!(PixelFormat::detect(Path::new("fixtures/objects_2k.fits")), None, "a FITS table");
        assert_eq!(PixelFormat::detect(Path::new("fixtures/nope")), None);
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            PixelFormat::detect(&path)
        };
        assert_eq!(write("a", "3/1-4 5/10\n"), Some(PixelFormat::MocAscii));
        assert_eq!(write("b", "s 3/1 \n"), Some(PixelFormat::MocAscii));
        assert_eq!(write("c", "{\"3\": [1, 2]}"), Some(PixelFormat::MocJson));
        assert_eq!(write("d", "ra,dec\n1,2\n"), None);
        assert_eq!(write("e", "{\"ra\": 1}"), None);
        assert_eq!(write("f", "# Region file format: DS9\ncircle(1,2,3)\n"), None);
        assert!(is_region_file(Path::new("fixtures/image_tan.reg")));
        assert!(is_region_file(Path::new("no/such/file.reg")), "named .reg");
        assert!(!is_region_file(Path::new("fixtures/objects_2k.fits")));
        let head = b"# Region file format: DS9 version 4.1\nglobal color=green\nfk5\ncircle(1,2,3)\n";
        assert!(recognise(head, Path::new("x"), |role| role == Role::Regions).is_some());
        assert!(recognise(b"ra,dec\n1,2\n", Path::new("x"), |role| role == Role::Regions).is_none());
    }
}
