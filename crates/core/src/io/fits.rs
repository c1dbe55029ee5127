//! FITS binary tables: the file handle (cfitsio), header cards, and how each column kind maps to
//! Arrow. The reader (`read/fits.rs`) and the writer (`write/fits.rs`) share these rules, so a
//! table read and written back keeps its types.
//!
//! cfitsio (the bundled build of the `fitsio` crates, through `fitsio-sys`) opens the file,
//! navigates its HDUs, parses and writes every header, and moves the table's bytes. We call it
//! directly rather than through `fitsio::FitsFile` because that type reads every path with
//! cfitsio's extended file-name syntax (`cat[1].fits` would be a filter, `!out.fits` a clobber)
//! and panics on a path that is not UTF-8; `ffdkopn` takes a name as it is. Rows move as raw
//! bytes (read by position, written with `ffptbb`) and are converted here, column by column, between FITS's big-endian
//! row layout and Arrow's columns: cfitsio's per-column readers would walk the rows once per
//! column and convert through its own types.

use std::ffi::{CStr, CString, c_char, c_int};
use std::path::{Path, PathBuf};

use arrow::datatypes::DataType;
use fitsio_sys as sys;

use crate::error::Error;

/// A FITS file open in cfitsio, closed when dropped.
pub(crate) struct FitsHandle {
    ptr: *mut sys::fitsfile,
    path: PathBuf,
}

// SAFETY: cfitsio is built with --enable-reentrant, and a handle is only ever used by one thread at
// a time: it moves to the pipeline's reader (or writer) thread and is never shared.
unsafe impl Send for FitsHandle {}

/// cfitsio's HDU types (`ffghdt`) and the status past the last HDU.
const ASCII_TBL: c_int = 1;
const BINARY_TBL: c_int = 2;
const END_OF_FILE: c_int = 107;

fn hdu_kind(kind: c_int) -> HduKind {
    match kind {
        BINARY_TBL => HduKind::BinaryTable,
        ASCII_TBL => HduKind::AsciiTable,
        _ => HduKind::Image,
    }
}

impl FitsHandle {
    /// Opens `path` read-only (or read-write), its name taken literally.
    pub(crate) fn open(path: &Path, writable: bool) -> Result<FitsHandle, Error> {
        let name = c_path(path)?;
        let mut ptr = std::ptr::null_mut();
        let mut status = 0;
        // SAFETY: `name` is a valid C string; cfitsio sets `ptr` or reports `status`.
        unsafe { sys::ffdkopn(&mut ptr, name.as_ptr(), c_int::from(writable), &mut status) };
        if status != 0 || ptr.is_null() {
            return Err(fits_error(path, "not a readable FITS file", status));
        }
        Ok(FitsHandle { ptr, path: path.to_path_buf() })
    }

    /// The file opened, as its errors name it.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// An error naming the file, what was being done and cfitsio's reason for `status`.
    fn check(&self, status: c_int, doing: &str) -> Result<(), Error> {
        if status == 0 { Ok(()) } else { Err(fits_error(&self.path, doing, status)) }
    }

    /// What each HDU of the file holds, in order (the primary one is HDU 0). A damaged header
    /// is an error naming its HDU (cfitsio's own count would stop short of it without a word).
    pub(crate) fn hdus(&mut self) -> Result<Vec<HduKind>, Error> {
        let mut kinds = Vec::new();
        loop {
            let (mut kind, mut status) = (0, 0);
            let number = c_int::try_from(kinds.len() + 1).unwrap_or(c_int::MAX);
            // SAFETY: a valid open handle.
            unsafe { sys::ffmahd(self.ptr, number, &mut kind, &mut status) };
            match status {
                0 => kinds.push(hdu_kind(kind)),
                END_OF_FILE if !kinds.is_empty() => return Ok(kinds),
                _ => return Err(fits_error(&self.path, &format!("reading the header of HDU {}", kinds.len()), status)),
            }
        }
    }

    /// Moves to HDU `index` (0 is the primary HDU), which [`FitsHandle::hdus`] has seen, and
    /// checks that the file holds all of its data: a truncated file is named so before any row
    /// is read.
    pub(crate) fn move_to(&mut self, index: usize) -> Result<HduKind, Error> {
        let (mut kind, mut status) = (0, 0);
        let number = c_int::try_from(index + 1).unwrap_or(c_int::MAX);
        // SAFETY: a valid open handle.
        unsafe { sys::ffmahd(self.ptr, number, &mut kind, &mut status) };
        self.check(status, &format!("reading HDU {index}"))?;
        let (start, _) = self.extent(&format!("reading HDU {index}"))?;
        let size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(u64::MAX);
        // The data unit's size by the standard's rule, not cfitsio's end of the HDU, which counts
        // a gap before the heap (THEAP past the rows, as STIL writes) twice; and only its real
        // bytes: the last block's padding may be missing.
        let needed = start.saturating_add(self.data_bytes()?);
        if size < needed {
            return Err(Error::Fits {
                path: self.path.clone(),
                message: format!("truncated: HDU {index} needs {needed} bytes, the file has {size}"),
            });
        }
        Ok(hdu_kind(kind))
    }

    /// The bytes of the current HDU's data unit, padding aside: |BITPIX| / 8 x GCOUNT x (PCOUNT +
    /// NAXIS1 x ... x NAXISn), none without axes (FITS 4.0, section 4.4.1).
    fn data_bytes(&mut self) -> Result<u64, Error> {
        let cards = self.cards()?;
        let number = |key: &str| -> Option<f64> {
            cards.iter().map(|c| parse_card(c)).find(|(k, _)| k == key).and_then(|(_, v)| v?.number())
        };
        let count = |key: &str, default: u64| number(key).map_or(default, |x| if x >= 0.0 { x as u64 } else { 0 });
        let axes = count("NAXIS", 0);
        if axes == 0 {
            return Ok(0);
        }
        let elements = (1..=axes).try_fold(1u64, |n, k| n.checked_mul(count(&format!("NAXIS{k}"), 0)));
        let bytes = elements
            .and_then(|n| n.checked_add(count("PCOUNT", 0)))
            .and_then(|n| n.checked_mul(count("GCOUNT", 1)))
            .and_then(|n| n.checked_mul(number("BITPIX").map_or(8, |b| b.abs() as u64) / 8));
        Ok(bytes.unwrap_or(u64::MAX))
    }

    /// Where the current HDU's data unit starts, in bytes from the start of the file.
    pub(crate) fn data_start(&mut self) -> Result<u64, Error> {
        Ok(self.extent("locating its table's rows")?.0)
    }

    /// Where the current HDU's data unit starts and where the HDU ends (bytes from the start of
    /// the file, as cfitsio's `ffghadll` reports them); `doing` says what for, in an error.
    fn extent(&mut self, doing: &str) -> Result<(u64, u64), Error> {
        let (mut head, mut data, mut end, mut status) = (0, 0, 0, 0);
        // SAFETY: a valid open handle.
        unsafe { sys::ffghadll(self.ptr, &mut head, &mut data, &mut end, &mut status) };
        self.check(status, doing)?;
        Ok((u64::try_from(data).unwrap_or(0), u64::try_from(end).unwrap_or(0)))
    }

    /// Every card of the current HDU's header, in order, without `END`.
    pub(crate) fn cards(&mut self) -> Result<Vec<String>, Error> {
        let (mut count, mut more, mut status) = (0, 0, 0);
        // SAFETY: a valid open handle.
        unsafe { sys::ffghsp(self.ptr, &mut count, &mut more, &mut status) };
        self.check(status, "reading its header")?;
        let mut cards = Vec::with_capacity(count.max(0) as usize);
        let mut card = [0 as c_char; 81];
        for n in 1..=count {
            // SAFETY: `card` holds the 80 characters and the NUL cfitsio writes.
            unsafe { sys::ffgrec(self.ptr, n, card.as_mut_ptr(), &mut status) };
            self.check(status, "reading its header")?;
            // SAFETY: cfitsio NUL-terminates the card.
            let text = unsafe { CStr::from_ptr(card.as_ptr()) };
            cards.push(text.to_string_lossy().into_owned());
        }
        Ok(cards)
    }

    /// Reads `buffer.len()` bytes of the current table's data unit from byte `offset` (counted
    /// from its first row): where a variable-length array's elements lie, in the heap.
    pub(crate) fn read_data(&mut self, offset: u64, buffer: &mut [u8]) -> Result<(), Error> {
        if buffer.is_empty() {
            return Ok(());
        }
        let mut status = 0;
        // SAFETY: a valid handle; cfitsio writes exactly `buffer.len()` bytes into it.
        unsafe {
            sys::ffgextn(self.ptr, offset as i64, buffer.len() as i64, buffer.as_mut_ptr().cast(), &mut status);
        }
        self.check(status, &format!("reading the heap at byte {offset} of the table's data"))
    }

    /// The current HDU's image (a tile-compressed one too, which cfitsio decompresses as it
    /// reads): its element type as `BITPIX` after `BZERO` (cfitsio's `ffgiet`: 8, 16, 32, 64, -32,
    /// -64, or 20/40/80 for the unsigned) and its length in elements, all axes together.
    pub(crate) fn image_shape(&mut self) -> Result<(i32, u64), Error> {
        let (mut kind, mut axes, mut status) = (0, 0, 0);
        // SAFETY: a valid open handle.
        unsafe { sys::ffgiet(self.ptr, &mut kind, &mut status) };
        // SAFETY: as above.
        unsafe { sys::ffgidm(self.ptr, &mut axes, &mut status) };
        self.check(status, "reading its image's shape")?;
        let mut lengths = vec![0i64; axes.clamp(0, 999) as usize];
        // SAFETY: `lengths` holds `axes` elements.
        unsafe { sys::ffgiszll(self.ptr, lengths.len() as c_int, lengths.as_mut_ptr(), &mut status) };
        self.check(status, "reading its image's shape")?;
        let elements = lengths.iter().try_fold(1u64, |n, &l| n.checked_mul(u64::try_from(l).ok()?));
        let elements = if lengths.is_empty() { Some(0) } else { elements };
        let Some(elements) = elements else {
            return Err(Error::Fits { path: self.path.clone(), message: format!("an image of axes {lengths:?}") });
        };
        Ok((kind, elements))
    }

    /// Reads `out.len()` elements of the current image from element `first` (from 0), converted
    /// to `T` by cfitsio (scaled by `BSCALE`/`BZERO`, decompressed tile by tile).
    pub(crate) fn read_image<T: ImageElement>(&mut self, first: u64, out: &mut [T]) -> Result<(), Error> {
        if out.is_empty() {
            return Ok(());
        }
        let (mut any_null, mut status) = (0, 0);
        // SAFETY: a valid handle; cfitsio writes `out.len()` elements of `T::CODE`'s type.
        unsafe {
            sys::ffgpv(
                self.ptr,
                T::CODE,
                first as i64 + 1,
                out.len() as i64,
                std::ptr::null_mut(),
                out.as_mut_ptr().cast(),
                &mut any_null,
                &mut status,
            )
        };
        self.check(status, &format!("reading elements {first} to {} of its image", first + out.len() as u64 - 1))
    }

    /// Reads `out.len()` elements of column `column` (from 0) of the current table, from element
    /// `first` (from 0) counted across rows as a flattened vector column (a HEALPix map's
    /// `1024E` rows), converted to `T` by cfitsio.
    pub(crate) fn read_column<T: ImageElement>(
        &mut self,
        column: usize,
        repeat: u64,
        first: u64,
        out: &mut [T],
    ) -> Result<(), Error> {
        if out.is_empty() {
            return Ok(());
        }
        let repeat = repeat.max(1);
        let (row, element) = (first / repeat + 1, first % repeat + 1);
        let (mut any_null, mut status) = (0, 0);
        // SAFETY: a valid handle; cfitsio writes `out.len()` elements of `T::CODE`'s type.
        unsafe {
            sys::ffgcv(
                self.ptr,
                T::CODE,
                column as c_int + 1,
                row as i64,
                element as i64,
                out.len() as i64,
                std::ptr::null_mut(),
                out.as_mut_ptr().cast(),
                &mut any_null,
                &mut status,
            )
        };
        self.check(status, &format!("reading column {} from its element {first}", column + 1))
    }

    /// Appends a binary table HDU with these columns (names, TFORMs, units) and no rows yet.
    pub(crate) fn create_table(&mut self, names: &[String], forms: &[String], units: &[String]) -> Result<(), Error> {
        let to_c = |texts: &[String]| -> Result<Vec<CString>, Error> {
            texts
                .iter()
                .map(|t| {
                    CString::new(t.as_str()).map_err(|_| Error::Fits {
                        path: self.path.clone(),
                        message: format!("column name or unit {t:?} holds a NUL byte, which FITS cannot store"),
                    })
                })
                .collect()
        };
        let (names, forms, units) = (to_c(names)?, to_c(forms)?, to_c(units)?);
        let pointers = |texts: &[CString]| texts.iter().map(|t| t.as_ptr().cast_mut()).collect::<Vec<_>>();
        let (mut n, mut f, mut u) = (pointers(&names), pointers(&forms), pointers(&units));
        let mut status = 0;
        let fields = c_int::try_from(names.len()).unwrap_or(c_int::MAX);
        // SAFETY: three arrays of `fields` valid C strings, alive for the call; a null EXTNAME.
        unsafe {
            sys::ffcrtb(
                self.ptr,
                BINARY_TBL,
                0,
                fields,
                n.as_mut_ptr(),
                f.as_mut_ptr(),
                u.as_mut_ptr(),
                std::ptr::null(),
                &mut status,
            );
        }
        self.check(status, "creating its table")
    }

    /// Appends one 80-character header card (cfitsio checks and pads it).
    pub(crate) fn write_card(&mut self, card: &str) -> Result<(), Error> {
        let text = CString::new(card.replace('\0', " ")).unwrap_or_default();
        let mut status = 0;
        // SAFETY: a valid handle and C string.
        unsafe { sys::ffprec(self.ptr, text.as_ptr(), &mut status) };
        self.check(status, &format!("writing the header card {:?}", card.trim_end()))
    }

    /// Writes `bytes`, whole rows, at row `first` (0-based) of the current table, extending it.
    pub(crate) fn write_rows(&mut self, first: u64, bytes: &[u8]) -> Result<(), Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mut status = 0;
        // SAFETY: a valid handle; cfitsio only reads `bytes` (its binding takes a mutable pointer).
        unsafe {
            sys::ffptbb(self.ptr, first as i64 + 1, 1, bytes.len() as i64, bytes.as_ptr().cast_mut(), &mut status);
        }
        self.check(status, "writing rows")
    }

    /// Sets the integer keyword `key` of the current header, which must exist (its comment kept).
    pub(crate) fn set_int_key(&mut self, key: &str, value: i64) -> Result<(), Error> {
        let name = CString::new(key).unwrap_or_default();
        let mut status = 0;
        // SAFETY: a valid handle and C strings; "&" keeps the card's comment.
        unsafe { sys::ffmkyj(self.ptr, name.as_ptr(), value, c"&".as_ptr(), &mut status) };
        self.check(status, &format!("setting {key}"))
    }

    /// Sets the string keyword `key` of the current header, which must exist (its comment kept).
    pub(crate) fn set_text_key(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let (name, text) = (CString::new(key).unwrap_or_default(), CString::new(value).unwrap_or_default());
        let mut status = 0;
        // SAFETY: a valid handle and C strings; "&" keeps the card's comment.
        unsafe { sys::ffmkys(self.ptr, name.as_ptr(), text.as_ptr(), c"&".as_ptr(), &mut status) };
        self.check(status, &format!("setting {key}"))
    }

    /// Re-reads the current header after its layout keywords changed (PCOUNT: the heap's size).
    pub(crate) fn redefine(&mut self) -> Result<(), Error> {
        let mut status = 0;
        // SAFETY: a valid handle.
        unsafe { sys::ffrdef(self.ptr, &mut status) };
        self.check(status, "re-reading its header")
    }

    /// Writes `bytes` at byte `offset` of the current HDU's data unit (the heap of a binary
    /// table, after its rows), extending the file.
    pub(crate) fn write_data(&mut self, offset: u64, bytes: &[u8]) -> Result<(), Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mut status = 0;
        // SAFETY: a valid handle; cfitsio only reads `bytes` (its binding takes a mutable pointer).
        unsafe {
            sys::ffpextn(self.ptr, offset as i64, bytes.len() as i64, bytes.as_ptr().cast_mut().cast(), &mut status);
        }
        self.check(status, &format!("writing the heap at byte {offset} of the table's data"))
    }

    /// Gives column `n` (1-based) of the current table `length` elements a row (characters for
    /// a string column), moving the rows already written.
    pub(crate) fn set_vector_length(&mut self, n: usize, length: usize) -> Result<(), Error> {
        let mut status = 0;
        let column = c_int::try_from(n).unwrap_or(c_int::MAX);
        // SAFETY: a valid handle on a binary table.
        unsafe { sys::ffmvec(self.ptr, column, length as i64, &mut status) };
        self.check(status, &format!("widening column {n} to {length}"))
    }

    /// Blanks the card of keyword `key` of the current header (a blank card, which readers
    /// pass over), rather than deleting it: a deletion shrinks the header, and a header shrunk
    /// out of a 2880-byte block leaves a block after its END that astropy reads as the next
    /// HDU's header when the table has no rows ("Header missing END card").
    pub(crate) fn blank_key(&mut self, key: &str) -> Result<(), Error> {
        let name = CString::new(key).unwrap_or_default();
        let blank = CString::new(" ".repeat(80)).unwrap_or_default();
        let mut status = 0;
        // SAFETY: a valid handle and C strings; cfitsio copies the card.
        unsafe { sys::ffmcrd(self.ptr, name.as_ptr(), blank.as_ptr(), &mut status) };
        self.check(status, &format!("blanking {key}"))
    }

    /// Closes the file, writing what cfitsio still holds (the final NAXIS2, the padding).
    pub(crate) fn close(mut self) -> Result<(), Error> {
        let mut status = 0;
        let ptr = std::mem::replace(&mut self.ptr, std::ptr::null_mut());
        // SAFETY: a valid handle, closed once (Drop sees null).
        unsafe { sys::ffclos(ptr, &mut status) };
        self.check(status, "closing it")
    }
}

impl Drop for FitsHandle {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            let mut status = 0;
            // SAFETY: a valid handle, closed once.
            unsafe { sys::ffclos(self.ptr, &mut status) };
        }
    }
}

/// A type cfitsio converts image elements to: its datatype code.
pub(crate) trait ImageElement: Copy + Default {
    /// cfitsio's code for the type (`TBYTE`, `TLONGLONG`, `TDOUBLE`).
    const CODE: c_int;
}

impl ImageElement for u8 {
    const CODE: c_int = 11;
}

// TLONG (a C long), not TLONGLONG: cfitsio decompresses tiles to every type but TLONGLONG, and
// a C long is 64 bits where this builds (the assertion below).
impl ImageElement for std::ffi::c_long {
    const CODE: c_int = 41;
}
const _: () = assert!(std::mem::size_of::<std::ffi::c_long>() == 8, "angcut reads int64 images as C longs");

impl ImageElement for f64 {
    const CODE: c_int = 82;
}

/// What an HDU holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HduKind {
    Image,
    AsciiTable,
    BinaryTable,
}

/// `path` as cfitsio takes it.
fn c_path(path: &Path) -> Result<CString, Error> {
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().into_owned().into_bytes();
    CString::new(bytes)
        .map_err(|_| Error::Fits { path: path.to_path_buf(), message: "a file name with a NUL byte".into() })
}

/// cfitsio's words for `status`, after what was being done.
fn fits_error(path: &Path, doing: &str, status: c_int) -> Error {
    let mut text = [0 as c_char; 31];
    // SAFETY: ffgerr writes at most 30 characters and a NUL.
    unsafe { sys::ffgerr(status, text.as_mut_ptr()) };
    // SAFETY: NUL-terminated by ffgerr.
    let reason = unsafe { CStr::from_ptr(text.as_ptr()) }.to_string_lossy().into_owned();
    Error::Fits { path: path.to_path_buf(), message: format!("{doing}: {reason} (cfitsio status {status})") }
}

/// A header value, as a card writes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CardValue {
    Text(String),
    Logical(bool),
    Number(f64),
}

impl CardValue {
    pub(crate) fn number(&self) -> Option<f64> {
        match self {
            CardValue::Number(x) => Some(*x),
            _ => None,
        }
    }

    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            CardValue::Text(t) => Some(t),
            _ => None,
        }
    }
}

/// The text (or logical/number written as text) value of `key` in `cards`, upper case and trimmed.
pub(crate) fn header_text(cards: &[String], key: &str) -> Option<String> {
    cards.iter().map(|c| parse_card(c)).find(|(k, _)| k == key).and_then(|(_, v)| match v? {
        CardValue::Text(t) => Some(t.trim().to_ascii_uppercase()),
        CardValue::Logical(b) => Some(if b { "T" } else { "F" }.into()),
        CardValue::Number(x) => Some(x.to_string()),
    })
}

/// A card's keyword and value (`None` for commentary cards and cards without `= `).
pub(crate) fn parse_card(card: &str) -> (String, Option<CardValue>) {
    let key = card.get(..8).unwrap_or(card).trim().to_string();
    if card.get(8..10) != Some("= ") {
        return (key, None);
    }
    let rest = card.get(10..).unwrap_or("").trim_start();
    if let Some(quoted) = rest.strip_prefix('\'') {
        // A string: '' inside stands for one quote; trailing blanks are not significant.
        let mut text = String::new();
        let mut chars = quoted.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    text.push('\'');
                    continue;
                }
                break;
            }
            text.push(c);
        }
        return (key, Some(CardValue::Text(text.trim_end().to_string())));
    }
    let token = rest.split('/').next().unwrap_or("").trim();
    let value = match token {
        "T" => Some(CardValue::Logical(true)),
        "F" => Some(CardValue::Logical(false)),
        "" => None,
        number => number.replace(['D', 'd'], "E").parse().ok().map(CardValue::Number),
    };
    (key, value)
}

/// The keyword names that describe a table's layout or one column's storage: the reader turns
/// them into the Arrow schema, the writer makes them again from it.
pub(crate) fn is_structural(key: &str) -> bool {
    const FIXED: &[&str] =
        &["SIMPLE", "XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "THEAP", "EXTEND", "END"];
    const CHECKSUMS: &[&str] = &["CHECKSUM", "DATASUM"]; // no longer hold once the rows change
    const PER_COLUMN: &[&str] = &["NAXIS", "TTYPE", "TFORM", "TUNIT", "TNULL", "TSCAL", "TZERO", "TDIM"];
    if FIXED.contains(&key) || CHECKSUMS.contains(&key) {
        return true;
    }
    is_numbered(key, PER_COLUMN)
}

/// Whether `key` is one of `prefixes` followed by a column number (`TFORM12`).
pub(crate) fn is_numbered(key: &str, prefixes: &[&str]) -> bool {
    prefixes
        .iter()
        .any(|prefix| key.strip_prefix(prefix).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

/// Bytes of rows decoded or encoded at a time, column after column: within a core's L2 cache (a
/// pass per column over a whole batch of wide rows fetched each row from memory once per column).
pub(crate) const BLOCK_BYTES: usize = 128 * 1024;

/// The Arrow schema metadata key holding a FITS input's other header cards, one per line.
pub(crate) const HEADER_KEY: &str = "fits:header";

/// The Arrow field metadata key that marks a column of whole stored rows (`FixedSizeBinary`, one
/// value per row, its bytes as the file holds them): its value is the table's whole header, one
/// card per line, for a FITS writer that copies the rows unchanged (see
/// [`crate::io::read::BatchSource::pass_rows_through`]).
pub(crate) const ROWS_KEY: &str = "fits:rows";

/// The name of that column; a table's own column of this name only prevents the copy.
pub(crate) const ROWS_COLUMN: &str = "__fits_rows";

/// One column of a binary table as its header describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FitsColumn {
    pub name: String,
    /// The TFORM type letter.
    pub code: char,
    /// Elements per row (characters for `A`).
    pub repeat: usize,
    /// Byte offset of the column in a row.
    pub offset: usize,
    pub unit: Option<String>,
    pub scale: f64,
    pub zero: f64,
    pub null: Option<i64>,
    pub dim: Option<String>,
    /// The element type letter of a variable-length array (`E` of `1PE(10)`).
    pub element: Option<char>,
}

/// The Arrow type of a stored column, and how its bytes become values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Storage {
    Logical,
    /// An integer of this many bytes, stored signed (`B` unsigned).
    Int {
        bytes: usize,
        unsigned_offset: bool,
    },
    /// A scaled integer, TZERO + TSCAL * stored, as float64.
    ScaledInt {
        bytes: usize,
    },
    Float32,
    Float64,
    /// A float with TSCAL/TZERO, as float64.
    ScaledFloat {
        bytes: usize,
    },
    Text,
    /// A variable-length array: a descriptor of two integers of this many bytes (4 for `P`, 8
    /// for `Q`) in the row, the elements in the heap; a list (text for `PA`).
    Variable {
        descriptor_bytes: usize,
    },
}

impl FitsColumn {
    /// Bytes per element of a type letter; `None` for the kinds angcut does not read.
    fn element_bytes(code: char) -> Option<usize> {
        match code {
            'L' | 'B' | 'A' => Some(1),
            'I' => Some(2),
            'J' | 'E' => Some(4),
            'K' | 'D' => Some(8),
            _ => None,
        }
    }

    /// How this column is stored and what Arrow type it becomes; the reason if angcut cannot read it.
    pub(crate) fn storage(&self) -> Result<(Storage, DataType), String> {
        let plain = self.scale == 1.0;
        let storage = match self.code {
            'L' => Storage::Logical,
            'A' => Storage::Text,
            'E' | 'D' if !(plain && self.zero == 0.0) => {
                Storage::ScaledFloat { bytes: if self.code == 'E' { 4 } else { 8 } }
            }
            'E' => Storage::Float32,
            'D' => Storage::Float64,
            'B' | 'I' | 'J' | 'K' => {
                let bytes = Self::element_bytes(self.code).unwrap_or(1);
                // The unsigned (and, for bytes, signed) conventions: TZERO shifts by half the range.
                let half = 2f64.powi(8 * bytes as i32 - 1);
                let offset = if self.code == 'B' { -half } else { half };
                if plain && self.zero == 0.0 {
                    Storage::Int { bytes, unsigned_offset: false }
                } else if plain && self.zero == offset {
                    Storage::Int { bytes, unsigned_offset: true }
                } else {
                    Storage::ScaledInt { bytes }
                }
            }
            'X' => return Err("bits (X), which angcut does not read".into()),
            'C' | 'M' => return Err("complex numbers (C, M), which angcut does not read".into()),
            'P' | 'Q' => {
                let (element_storage, element_type) = self.element_column()?.storage()?;
                let descriptor_bytes = if self.code == 'P' { 4 } else { 8 };
                let data_type = match element_storage {
                    Storage::Text => DataType::Utf8,
                    _ => DataType::List(arrow::datatypes::Field::new_list_field(element_type, true).into()),
                };
                return Ok((Storage::Variable { descriptor_bytes }, data_type));
            }
            other => return Err(format!("the unknown type letter '{other}'")),
        };
        let element = match storage {
            Storage::Logical => DataType::Boolean,
            Storage::Text => return Ok((storage, DataType::Utf8)),
            Storage::Variable { .. } => unreachable!("returned above"),
            Storage::Float32 => DataType::Float32,
            Storage::Float64 | Storage::ScaledInt { .. } | Storage::ScaledFloat { .. } => DataType::Float64,
            Storage::Int { bytes, unsigned_offset } => match (bytes, unsigned_offset) {
                (1, false) => DataType::UInt8,
                (1, true) => DataType::Int8,
                (2, false) => DataType::Int16,
                (2, true) => DataType::UInt16,
                (4, false) => DataType::Int32,
                (4, true) => DataType::UInt32,
                (8, false) => DataType::Int64,
                _ => DataType::UInt64,
            },
        };
        Ok(match self.repeat {
            1 => (storage, element),
            n => (
                storage,
                DataType::FixedSizeList(arrow::datatypes::Field::new_list_field(element, true).into(), n as i32),
            ),
        })
    }

    /// Bytes of one row of this column.
    pub(crate) fn width(&self) -> usize {
        match self.code {
            'P' => 8 * self.repeat,
            'Q' => 16 * self.repeat,
            code => Self::element_bytes(code).unwrap_or(0) * self.repeat,
        }
    }

    /// The elements of a variable-length array column, as a column of one element a row
    /// (its scaling and TNULL included); the reason if angcut cannot read them.
    pub(crate) fn element_column(&self) -> Result<FitsColumn, String> {
        let element = self.element.unwrap_or(' ');
        if self.repeat > 1 {
            return Err(format!("a variable-length array with repeat {} (at most 1)", self.repeat));
        }
        match element {
            'L' | 'B' | 'I' | 'J' | 'K' | 'E' | 'D' | 'A' => {
                Ok(FitsColumn { code: element, repeat: 1, offset: 0, element: None, dim: None, ..self.clone() })
            }
            other => Err(format!("variable-length arrays of '{other}', which angcut does not read")),
        }
    }
}

/// Reads a TFORM: `rT` (repeat, type letter, and for `A` an optional substring width we ignore).
/// Variable-length arrays (`rPT(max)`, `rQT(max)`) take 8 or 16 bytes per row whatever their type.
pub(crate) fn parse_tform(tform: &str) -> Option<(usize, char, usize)> {
    let tform = tform.trim();
    let digits = tform.bytes().take_while(u8::is_ascii_digit).count();
    let repeat: usize = if digits == 0 { 1 } else { tform[..digits].parse().ok()? };
    let code = tform[digits..].chars().next()?.to_ascii_uppercase();
    let bytes_per_row = match code {
        'X' => repeat.div_ceil(8),
        'C' => 8 * repeat,
        'M' => 16 * repeat,
        'P' => 8 * repeat,
        'Q' => 16 * repeat,
        other => FitsColumn::element_bytes(other)? * repeat,
    };
    Some((repeat, code, bytes_per_row))
}

/// The columns of a binary table header, in order, with their byte offsets; the row length.
pub(crate) fn table_columns(path: &Path, cards: &[String]) -> Result<(Vec<FitsColumn>, usize), Error> {
    let bad = |message: String| Error::Fits { path: path.to_path_buf(), message };
    let values: std::collections::HashMap<String, CardValue> =
        cards.iter().map(|c| parse_card(c)).filter_map(|(k, v)| v.map(|v| (k, v))).collect();
    let number = |key: &str| values.get(key).and_then(CardValue::number);
    let fields = number("TFIELDS").ok_or_else(|| bad("its table header has no TFIELDS".into()))?;
    let row_bytes = number("NAXIS1").ok_or_else(|| bad("its table header has no NAXIS1".into()))?;
    let mut columns = Vec::new();
    let mut offset = 0usize;
    for n in 1..=fields.max(0.0) as usize {
        let text = |key: &str| values.get(&format!("{key}{n}")).and_then(|v| v.text().map(str::to_string));
        let name = text("TTYPE").filter(|t| !t.is_empty()).unwrap_or_else(|| format!("col{n}"));
        let tform = text("TFORM").ok_or_else(|| bad(format!("column {n} ('{name}') has no TFORM{n}")))?;
        let (repeat, code, width) = parse_tform(&tform)
            .ok_or_else(|| bad(format!("column '{name}' has the TFORM '{tform}', which is not one")))?;
        columns.push(FitsColumn {
            name,
            code,
            repeat,
            offset,
            unit: text("TUNIT").filter(|u| !u.is_empty()),
            scale: number(&format!("TSCAL{n}")).unwrap_or(1.0),
            zero: number(&format!("TZERO{n}")).unwrap_or(0.0),
            null: number(&format!("TNULL{n}")).map(|x| x as i64),
            dim: text("TDIM"),
            // `rPT(max)`: the letter after P or Q.
            element: matches!(code, 'P' | 'Q').then(|| {
                let after = tform.trim().trim_start_matches(|c: char| c.is_ascii_digit());
                after.chars().nth(1).map_or(' ', |c| c.to_ascii_uppercase())
            }),
        });
        offset += width;
    }
    if offset != row_bytes as usize {
        return Err(bad(format!("its columns take {offset} bytes a row but NAXIS1 says {row_bytes}")));
    }
    Ok((columns, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_are_read_as_fits_writes_them() {
        let card = |text: &str| format!("{text:<80}");
        assert_eq!(parse_card(&card("NAXIS1  =                  121 / length")).1, Some(CardValue::Number(121.0)));
        assert_eq!(parse_card(&card("TTYPE1  = 'it''s   '")).1, Some(CardValue::Text("it's".into())));
        assert_eq!(parse_card(&card("SIMPLE  =                    T")).1, Some(CardValue::Logical(true)));
        assert_eq!(parse_card(&card("TZERO9  =  9223372036854775808")).1, Some(CardValue::Number(2f64.powi(63))));
        assert_eq!(parse_card(&card("EPOCH   =            2.016D+03")).1, Some(CardValue::Number(2016.0)));
        assert_eq!(parse_card(&card("HISTORY written by hand")), ("HISTORY".into(), None));
        assert_eq!(parse_card(&card("NOVALUE =")).1, None);
    }

    #[test]
    fn tforms_give_repeat_type_and_width() {
        assert_eq!(parse_tform("D"), Some((1, 'D', 8)));
        assert_eq!(parse_tform("3E"), Some((3, 'E', 12)));
        assert_eq!(parse_tform("20A"), Some((20, 'A', 20)));
        assert_eq!(parse_tform("8X"), Some((8, 'X', 1)));
        assert_eq!(parse_tform("1PE(10)"), Some((1, 'P', 8)));
        assert_eq!(parse_tform("0J"), Some((0, 'J', 0)));
        assert_eq!(parse_tform("Z"), None);
        assert_eq!(parse_tform(""), None);
    }

    #[test]
    fn structural_keywords_are_the_layout_and_the_regenerated_column_ones() {
        for key in ["NAXIS2", "TTYPE12", "TFORM3", "TZERO1", "TNULL7", "CHECKSUM", "TFIELDS"] {
            assert!(is_structural(key), "{key}");
        }
        for key in ["EXTNAME", "SURVEY", "TDISP3", "TCOMM1", "TUNITS", "HISTORY"] {
            assert!(!is_structural(key), "{key}");
        }
    }
}
