//! FITS binary tables, streamed in row chunks: memory holds one chunk, whatever the file's size.
//! A gzip-compressed file (`.fits.gz`) is first decompressed to a temporary file (cfitsio would
//! hold it whole in memory).
//!
//! cfitsio reads the headers and finds the table; its fixed-width rows are then read by position
//! (`pread`), so that several of the pipeline's lanes can decode row ranges of one file at once:
//! cfitsio keeps one shared state per open file, so its own reads would take turns. A table with
//! variable-length arrays, whose heap cfitsio reads, is read by one reader.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, FixedSizeBinaryArray, FixedSizeListArray, Float32Array, Float64Array, Int8Array,
    Int16Array, Int32Array, Int64Array, RecordBatch, StringArray, StringBuilder, UInt8Array, UInt16Array, UInt32Array,
    UInt64Array,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use tempfile::NamedTempFile;

use super::bounded_file::read_exact_at;
use super::{BatchSource, OtherTable, Parts};
use crate::error::Error;
use crate::io::UNIT_KEY;
use crate::io::fits::{
    BLOCK_BYTES, FitsColumn, FitsHandle, HEADER_KEY, HduKind, ROWS_COLUMN, ROWS_KEY, Storage, is_structural,
    table_columns,
};

/// Which HDU of a FITS file holds the table: its index (0 is the primary HDU) or its EXTNAME.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HduChoice {
    /// HDU number `n`, counting the primary HDU as 0 (astropy's and cfitsio's `file[n]`).
    Index(usize),
    /// The HDU whose EXTNAME is this, in any case.
    Name(String),
}

impl std::str::FromStr for HduChoice {
    type Err = String;

    /// A number is an index, anything else an EXTNAME.
    fn from_str(text: &str) -> Result<HduChoice, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty HDU: give its number (1 is the first extension) or its EXTNAME".into());
        }
        Ok(text.parse().map(HduChoice::Index).unwrap_or_else(|_| HduChoice::Name(text.to_string())))
    }
}

/// A FITS table being read, chunk by chunk.
pub struct FitsCatalog {
    table: Arc<Table>,
    handle: FitsHandle,
    next_row: u64,
    buffer: Vec<u8>,
    /// Whether a batch has been read (the row ranges are then no longer offered as parts).
    started: bool,
    /// Where the heap of variable-length arrays lies in the data unit: its first byte and the
    /// byte after it, counted from the first row (THEAP, PCOUNT).
    heap: (u64, u64),
    /// The table's header cards, one per line, for [`BatchSource::pass_rows_through`].
    header: String,
    /// The HDU read, and the file as cfitsio opened it (a `.fits.gz`'s decompressed copy).
    hdu: usize,
    opened: PathBuf,
    // The decompressed copy of a `.fits.gz`, deleted when the catalogue is dropped (after `handle`).
    _decompressed: Option<NamedTempFile>,
}

impl FitsCatalog {
    /// Opens the table in `path` (HDU `hdu`, or the first binary table), `batch_size` rows per batch.
    pub fn open(path: &Path, gzipped: bool, hdu: Option<&HduChoice>, batch_size: usize) -> Result<FitsCatalog, Error> {
        let decompressed = if gzipped { Some(decompress(path)?) } else { None };
        let opened = decompressed.as_ref().map_or(path, |temp| temp.path());
        let mut handle = FitsHandle::open(opened, false).map_err(|error| error.renamed(opened, path))?;
        let index = find_table(&mut handle, path, hdu)?;
        let cards = handle.cards().map_err(|error| error.renamed(opened, path))?;
        let data_start = handle.data_start().map_err(|error| error.renamed(opened, path))?;
        let file = File::open(opened).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let (columns, row_bytes) = table_columns(path, &cards)?;
        let values: HashMap<String, f64> = cards
            .iter()
            .map(|c| crate::io::fits::parse_card(c))
            .filter_map(|(k, v)| v.and_then(|v| v.number()).map(|v| (k, v)))
            .collect();
        let rows = values.get("NAXIS2").copied().unwrap_or(0.0).max(0.0) as u64;
        let table_bytes = rows * row_bytes as u64;
        let heap_start = values.get("THEAP").map_or(table_bytes, |&v| v.max(0.0) as u64);
        let heap_end = table_bytes + values.get("PCOUNT").copied().unwrap_or(0.0).max(0.0) as u64;
        let mut fields = Vec::with_capacity(columns.len());
        let mut stored = Vec::with_capacity(columns.len());
        for column in columns {
            let (storage, data_type) = column.storage().map_err(|why| Error::Fits {
                path: path.to_path_buf(),
                message: format!("HDU {index}: column '{}' holds {why}", column.name),
            })?;
            let mut metadata = HashMap::new();
            if let Some(unit) = &column.unit {
                metadata.insert(UNIT_KEY.to_string(), unit.clone());
            }
            if let Some(dim) = &column.dim {
                metadata.insert("fits:tdim".to_string(), dim.clone());
            }
            fields.push(Field::new(column.name.clone(), data_type, true).with_metadata(metadata));
            stored.push((column, storage));
        }
        // The header's other cards (EXTNAME, HISTORY, the survey's keywords) travel with the schema.
        let kept: Vec<&str> = cards
            .iter()
            .filter(|card| !is_structural(&crate::io::fits::parse_card(card).0))
            .map(|card| card.trim_end())
            .collect();
        let metadata = HashMap::from([(HEADER_KEY.to_string(), kept.join("\n"))]);
        let header: Vec<&str> = cards.iter().map(|card| card.trim_end()).collect();
        let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
        let table = Table {
            path: path.to_path_buf(),
            file: Arc::new(file),
            data_start,
            row_bytes,
            rows,
            schema,
            columns: stored,
            batch_size: batch_size.max(1),
            block_rows: (BLOCK_BYTES / row_bytes.max(1)).max(1),
            rows_field: None,
        };
        Ok(FitsCatalog {
            table: Arc::new(table),
            handle,
            next_row: 0,
            buffer: Vec::new(),
            started: false,
            heap: (heap_start, heap_end),
            header: header.join("\n"),
            hdu: index,
            opened: opened.to_path_buf(),
            _decompressed: decompressed,
        })
    }

    /// Rows in the table, from NAXIS2.
    pub fn rows(&self) -> u64 {
        self.table.rows
    }

    fn read_batch(&mut self) -> Result<RecordBatch, Error> {
        self.started = true;
        let table = &self.table;
        let n = (self.table.rows - self.next_row).min(table.batch_size as u64) as usize;
        let fixed = table.read_fixed(self.next_row, n, &mut self.buffer)?;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
        for (((column, storage), field), decoded) in table.columns.iter().zip(table.schema.fields()).zip(fixed) {
            arrays.push(match (*storage, decoded) {
                (_, Some(array)) => array,
                (Storage::Variable { descriptor_bytes }, None) => {
                    let rows = ColumnBytes {
                        buffer: &self.buffer,
                        row_bytes: table.row_bytes,
                        n,
                        offset: column.offset,
                        width: column.width(),
                    };
                    let opened = self.handle.path().to_path_buf();
                    let heap =
                        Heap { handle: &mut self.handle, path: &self.table.path, start: self.heap.0, end: self.heap.1 };
                    heap.decode(&rows, self.next_row, column, descriptor_bytes, field)
                        .map_err(|error| error.renamed(&opened, &self.table.path))?
                }
                (storage, None) => {
                    return Err(Error::Internal {
                        path: self.table.path.clone(),
                        message: format!("column '{}' ({storage:?}) not decoded", column.name),
                    });
                }
            });
        }
        self.next_row += n as u64;
        table.batch(arrays, &mut self.buffer)
    }
}

impl BatchSource for FitsCatalog {
    fn path(&self) -> &Path {
        &self.table.path
    }

    /// The file's other binary tables, read from their headers (a fresh handle: this one stays
    /// where the rows are).
    fn other_tables(&self) -> Vec<OtherTable> {
        let Ok(mut handle) = FitsHandle::open(&self.opened, false) else { return Vec::new() };
        let Ok(kinds) = handle.hdus() else { return Vec::new() };
        let mut tables = Vec::new();
        for (hdu, kind) in kinds.into_iter().enumerate() {
            if hdu == self.hdu || kind != HduKind::BinaryTable || handle.move_to(hdu).is_err() {
                continue;
            }
            let Ok(cards) = handle.cards() else { continue };
            let parsed: Vec<(String, Option<crate::io::fits::CardValue>)> =
                cards.iter().map(|c| crate::io::fits::parse_card(c)).collect();
            let text = |key: &str| {
                parsed.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.as_ref()?.text().map(str::to_string))
            };
            let fields =
                parsed.iter().find(|(k, _)| k == "TFIELDS").and_then(|(_, v)| v.as_ref()?.number()).unwrap_or(0.0);
            let columns = (1..=fields as usize)
                .filter_map(|n| text(&format!("TTYPE{n}")))
                .map(|n| n.trim().to_string())
                .collect();
            tables.push(OtherTable { hdu, name: text("EXTNAME").map(|n| n.trim().to_string()), columns });
        }
        tables
    }

    fn schema(&self) -> SchemaRef {
        self.table.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        (self.next_row < self.table.rows).then(|| self.read_batch())
    }

    /// Ranges of `PART_BATCHES` batches of rows, if no column is a variable-length array.
    fn parts(&self) -> Option<Arc<dyn Parts>> {
        (!self.started && self.table.fixed()).then(|| Arc::new(RowRanges(self.table.clone())) as Arc<dyn Parts>)
    }

    /// The rows as stored, if no column is a variable-length array (whose elements are in the
    /// heap, not in the row) and none is named `ROWS_COLUMN`.
    fn pass_rows_through(&mut self, decoded: &[usize]) -> Option<SchemaRef> {
        let table = &self.table;
        let fields = table.schema.fields();
        let clash = fields.iter().any(|f| f.name() == ROWS_COLUMN);
        if self.started || table.rows_field.is_some() || !table.fixed() || clash || decoded.is_empty() {
            return None;
        }
        let mut decoded = decoded.to_vec();
        decoded.sort_unstable();
        decoded.dedup();
        let columns = decoded.iter().map(|&i| table.columns.get(i).cloned()).collect::<Option<Vec<_>>>()?;
        let width = i32::try_from(table.row_bytes).ok()?;
        let rows_field = Arc::new(
            Field::new(ROWS_COLUMN, DataType::FixedSizeBinary(width), false)
                .with_metadata(HashMap::from([(ROWS_KEY.to_string(), self.header.clone())])),
        );
        let mut kept: Vec<Arc<Field>> = decoded.iter().map(|&i| fields[i].clone()).collect();
        kept.push(rows_field.clone());
        let schema = Arc::new(Schema::new_with_metadata(kept, table.schema.metadata().clone()));
        self.table =
            Arc::new(Table { schema: schema.clone(), columns, rows_field: Some(rows_field), ..(**table).clone() });
        Some(schema)
    }
}

/// Batches in a part of a FITS table's rows (see [`FitsCatalog::parts`]).
const PART_BATCHES: u64 = 4;

/// A table's fixed-width rows and how to decode them; shared by the catalogue and its parts.
#[derive(Clone)]
struct Table {
    /// The file as errors name it (not its decompressed copy).
    path: PathBuf,
    /// The file, or its decompressed copy, read by position.
    file: Arc<File>,
    /// The first row's byte in the file.
    data_start: u64,
    row_bytes: usize,
    rows: u64,
    schema: SchemaRef,
    columns: Vec<(FitsColumn, Storage)>,
    batch_size: usize,
    /// Rows read and decoded at a time (see [`Table::read_fixed`]).
    block_rows: usize,
    /// The last column of each batch, of the rows as stored, when they are passed through
    /// ([`BatchSource::pass_rows_through`]; `columns` are then only those decoded).
    rows_field: Option<Arc<Field>>,
}

impl Table {
    /// Reads rows `first..first + n` (0-based) into `buffer` and decodes their columns but for
    /// variable-length arrays (`None`: their elements are in the heap). Read and decoded in
    /// blocks of rows that stay in the CPU's cache while every column is taken from them: each
    /// block is decoded just after it is read (a batch read whole, 8.7 MB of W3 rows, came back
    /// from memory to be decoded), and a pass over a whole batch per column fetched each row
    /// from memory once per column.
    fn read_fixed(&self, first: u64, n: usize, buffer: &mut Vec<u8>) -> Result<Vec<Option<ArrayRef>>, Error> {
        let mut gathered: Vec<Option<Gathered>> = self
            .columns
            .iter()
            .map(|(column, storage)| Gathered::new(*storage, n * column.repeat, n * column.width()))
            .collect();
        // Grown a block at a time: the zeros `resize` writes are in cache when the block is read.
        buffer.clear();
        buffer.reserve(n * self.row_bytes);
        for start in (0..n).step_by(self.block_rows) {
            let rows = self.block_rows.min(n - start);
            let (from, to) = (start * self.row_bytes, (start + rows) * self.row_bytes);
            buffer.resize(to, 0);
            let offset = self.data_start + (first + start as u64) * self.row_bytes as u64;
            read_exact_at(&self.file, &mut buffer[from..to], offset).map_err(|source| match source.kind() {
                std::io::ErrorKind::UnexpectedEof => Error::Fits {
                    path: self.path.clone(),
                    message: format!("truncated: the file ends within rows {} to {}", first + 1, first + n as u64),
                },
                _ => Error::Io { path: self.path.clone(), source },
            })?;
            for ((column, _), gathered) in self.columns.iter().zip(&mut gathered) {
                if let Some(gathered) = gathered {
                    let fields = ColumnBytes {
                        buffer: &buffer[from..to],
                        row_bytes: self.row_bytes,
                        n: rows,
                        offset: column.offset,
                        width: column.width(),
                    };
                    gathered.take(&fields);
                }
            }
        }
        Ok(gathered
            .into_iter()
            .zip(self.columns.iter().zip(self.schema.fields()))
            .map(|(gathered, ((column, storage), field))| gathered.map(|g| g.finish(column, *storage, field, n)))
            .collect())
    }

    /// Whether every column is in the rows (none is a variable-length array).
    fn fixed(&self) -> bool {
        self.columns.iter().all(|(_, storage)| !matches!(storage, Storage::Variable { .. }))
    }

    /// The batch of the decoded `arrays`, and of the rows in `buffer` (taken) if they are passed
    /// through.
    fn batch(&self, mut arrays: Vec<ArrayRef>, buffer: &mut Vec<u8>) -> Result<RecordBatch, Error> {
        let error = |source| Error::Arrow { path: self.path.clone(), source };
        if self.rows_field.is_some() {
            let width = i32::try_from(self.row_bytes).unwrap_or(i32::MAX);
            let rows = FixedSizeBinaryArray::try_new(width, std::mem::take(buffer).into(), None).map_err(error)?;
            arrays.push(Arc::new(rows));
        }
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(error)
    }

    /// The first row of part `part` and the row after its last.
    fn span(&self, part: usize) -> (u64, u64) {
        let size = self.batch_size as u64 * PART_BATCHES;
        let first = part as u64 * size;
        (first.min(self.rows), (first + size).min(self.rows))
    }
}

/// A table's rows as consecutive ranges, each read and decoded on its own.
struct RowRanges(Arc<Table>);

impl Parts for RowRanges {
    fn count(&self) -> usize {
        self.0.rows.div_ceil(self.0.batch_size as u64 * PART_BATCHES) as usize
    }

    fn rows(&self, part: usize) -> u64 {
        let (first, end) = self.0.span(part);
        end - first
    }

    fn open(&self, part: usize) -> Result<Box<dyn BatchSource>, Error> {
        let (next, end) = self.0.span(part);
        Ok(Box::new(RowRange { table: self.0.clone(), next, end, buffer: Vec::new() }))
    }
}

/// The batches of one range of a table's rows (no variable-length arrays).
struct RowRange {
    table: Arc<Table>,
    next: u64,
    end: u64,
    buffer: Vec<u8>,
}

impl BatchSource for RowRange {
    fn path(&self) -> &Path {
        &self.table.path
    }

    fn schema(&self) -> SchemaRef {
        self.table.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        if self.next >= self.end {
            return None;
        }
        let table = &self.table;
        let n = (self.end - self.next).min(table.batch_size as u64) as usize;
        let arrays = match table.read_fixed(self.next, n, &mut self.buffer) {
            Ok(arrays) => arrays,
            Err(error) => {
                self.next = self.end;
                return Some(Err(error));
            }
        };
        self.next += n as u64;
        // No variable-length column (or the range would not have been offered): all decoded.
        let arrays = arrays.into_iter().flatten().collect();
        Some(table.batch(arrays, &mut self.buffer))
    }
}

/// The HDU to read, moved to: the one asked for, which must be a binary table, or the first
/// binary table after the primary HDU.
fn find_table(handle: &mut FitsHandle, path: &Path, hdu: Option<&HduChoice>) -> Result<usize, Error> {
    let bad = |message: String| Error::Fits { path: path.to_path_buf(), message };
    // An HDU asked for that is not there, or not a table, is the asker's to fix (exit 2).
    let wrong = |message: String| Error::Usage(format!("{}: {message}", path.display()));
    let opened = handle.path().to_path_buf();
    let rename = |error: Error| error.renamed(&opened, path);
    let kinds = handle.hdus().map_err(rename)?;
    let count = kinds.len();
    let index = match hdu {
        None => kinds.iter().position(|&k| k == HduKind::BinaryTable).ok_or_else(|| {
            bad(format!(
                "no binary table in its {count} HDU(s) (only images or ASCII tables): nothing to read as a catalogue"
            ))
        })?,
        Some(HduChoice::Index(index)) if *index < count => *index,
        Some(HduChoice::Index(index)) => {
            return Err(wrong(format!("has no HDU {index}: its HDUs are 0 to {}", count.saturating_sub(1))));
        }
        Some(HduChoice::Name(name)) => {
            let mut names = Vec::new();
            let mut found = None;
            for index in 0..count {
                handle.move_to(index).map_err(rename)?;
                let cards = handle.cards().map_err(rename)?;
                let extname = cards
                    .iter()
                    .map(|c| crate::io::fits::parse_card(c))
                    .find(|(k, _)| k == "EXTNAME")
                    .and_then(|(_, v)| v.and_then(|v| v.text().map(str::to_string)));
                if let Some(extname) = extname {
                    if found.is_none() && extname.eq_ignore_ascii_case(name) {
                        found = Some(index);
                    }
                    names.push(extname);
                }
            }
            found.ok_or_else(|| wrong(format!("has no HDU named '{name}'; its EXTNAMEs: {}", names.join(", "))))?
        }
    };
    match kinds[index] {
        HduKind::BinaryTable => {}
        HduKind::AsciiTable => return Err(wrong(format!("HDU {index} is an ASCII table, which angcut does not read"))),
        HduKind::Image => return Err(wrong(format!("HDU {index} is an image, not a table"))),
    }
    handle.move_to(index).map_err(rename)?;
    Ok(index)
}

/// A gzip-compressed FITS file, decompressed into a temporary file (in the system's temporary
/// directory), so that memory stays one chunk whatever the file's size.
fn decompress(path: &Path) -> Result<NamedTempFile, Error> {
    let io_error = |source| Error::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io_error)?;
    let mut temp = tempfile::Builder::new().prefix(".angcut-").suffix(".fits").tempfile().map_err(io_error)?;
    let mut input = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 20, file));
    let mut output = BufWriter::with_capacity(1 << 20, temp.as_file_mut());
    std::io::copy(&mut input, &mut output).map_err(|source| Error::Fits {
        path: path.to_path_buf(),
        message: format!("cannot decompress it (gzip): {source}"),
    })?;
    drop(output);
    Ok(temp)
}

/// One column of `n` rows, from the row-major bytes of the chunk.
fn decode(buffer: &[u8], row_bytes: usize, n: usize, column: &FitsColumn, storage: Storage, field: &Field) -> ArrayRef {
    let fields = ColumnBytes { buffer, row_bytes, n, offset: column.offset, width: column.width() };
    match Gathered::new(storage, n * column.repeat, n * column.width()) {
        Some(mut gathered) => {
            gathered.take(&fields);
            gathered.finish(column, storage, field, n)
        }
        None => unreachable!("variable-length arrays are decoded by Heap::decode"),
    }
}

/// A column's stored values, taken from the rows block by block in native byte order, and made
/// an Arrow array once every block is in (no pieces to concatenate). What the stored values
/// mean (TNULL, TZERO, TSCAL, text's trimming) is applied by [`Gathered::finish`].
enum Gathered {
    Logical(Vec<u8>),
    /// `B`; the other integers by width.
    U8(Vec<u8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Text(Texts),
}

impl Gathered {
    /// Room for `elements` values (`bytes` of text); `None` for a variable-length array.
    fn new(storage: Storage, elements: usize, bytes: usize) -> Option<Gathered> {
        Some(match storage {
            Storage::Logical => Gathered::Logical(Vec::with_capacity(elements)),
            Storage::Int { bytes: 1, .. } | Storage::ScaledInt { bytes: 1 } => {
                Gathered::U8(Vec::with_capacity(elements))
            }
            Storage::Int { bytes: 2, .. } | Storage::ScaledInt { bytes: 2 } => {
                Gathered::I16(Vec::with_capacity(elements))
            }
            Storage::Int { bytes: 4, .. } | Storage::ScaledInt { bytes: 4 } => {
                Gathered::I32(Vec::with_capacity(elements))
            }
            Storage::Int { .. } | Storage::ScaledInt { .. } => Gathered::I64(Vec::with_capacity(elements)),
            Storage::Float32 | Storage::ScaledFloat { bytes: 4 } => Gathered::F32(Vec::with_capacity(elements)),
            Storage::Float64 | Storage::ScaledFloat { .. } => Gathered::F64(Vec::with_capacity(elements)),
            Storage::Text => Gathered::Text(Texts::with_capacity(bytes, elements)),
            Storage::Variable { .. } => return None,
        })
    }

    /// Appends the column's values in `fields`.
    fn take(&mut self, fields: &ColumnBytes) {
        match self {
            Gathered::Logical(out) | Gathered::U8(out) => fields.map_into::<1, _>(out, |[b]| b),
            Gathered::I16(out) => fields.map_into::<2, _>(out, i16::from_be_bytes),
            Gathered::I32(out) => fields.map_into::<4, _>(out, i32::from_be_bytes),
            Gathered::I64(out) => fields.map_into::<8, _>(out, i64::from_be_bytes),
            Gathered::F32(out) => fields.map_into::<4, _>(out, f32::from_be_bytes),
            Gathered::F64(out) => fields.map_into::<8, _>(out, f64::from_be_bytes),
            Gathered::Text(texts) => fields.iter().for_each(|value| texts.push(value)),
        }
    }

    /// The Arrow array of the values gathered for `column`.
    fn finish(self, column: &FitsColumn, storage: Storage, field: &Field, rows: usize) -> ArrayRef {
        let tnull = column.null;
        let scaled = |raw: Vec<i64>| -> ArrayRef {
            let values: Vec<f64> = raw.iter().map(|&v| column.zero + column.scale * v as f64).collect();
            Arc::new(Float64Array::new(values.into(), null_mask(&raw, tnull)))
        };
        let values: ArrayRef = match (self, storage) {
            (Gathered::Text(texts), _) => return Arc::new(texts.finish()),
            (Gathered::Logical(raw), _) => Arc::new(
                raw.iter()
                    .map(|b| match b {
                        b'T' => Some(true),
                        b'F' => Some(false),
                        _ => None,
                    })
                    .collect::<BooleanArray>(),
            ),
            (Gathered::F32(raw), Storage::ScaledFloat { .. }) => {
                Arc::new(Float64Array::from_iter_values(raw.iter().map(|&v| column.zero + column.scale * f64::from(v))))
            }
            (Gathered::F32(raw), _) => Arc::new(Float32Array::from(raw)),
            (Gathered::F64(raw), Storage::ScaledFloat { .. }) => {
                Arc::new(Float64Array::from_iter_values(raw.iter().map(|&v| column.zero + column.scale * v)))
            }
            (Gathered::F64(raw), _) => Arc::new(Float64Array::from(raw)),
            (Gathered::U8(raw), Storage::ScaledInt { .. }) => scaled(raw.iter().map(|&v| i64::from(v)).collect()),
            (Gathered::I16(raw), Storage::ScaledInt { .. }) => scaled(raw.iter().map(|&v| i64::from(v)).collect()),
            (Gathered::I32(raw), Storage::ScaledInt { .. }) => scaled(raw.iter().map(|&v| i64::from(v)).collect()),
            (Gathered::I64(raw), Storage::ScaledInt { .. }) => scaled(raw),
            // Each integer kind kept at its own width; the unsigned conventions flip the top bit
            // (exact for every value, where adding TZERO as a float would round 64-bit ones).
            (Gathered::U8(raw), Storage::Int { unsigned_offset, .. }) => {
                let nulls = null_mask_of(&raw, tnull);
                if unsigned_offset {
                    Arc::new(Int8Array::new(raw.iter().map(|&v| (v ^ 0x80) as i8).collect(), nulls))
                } else {
                    Arc::new(UInt8Array::new(raw.into(), nulls))
                }
            }
            (Gathered::I16(raw), Storage::Int { unsigned_offset, .. }) => {
                let nulls = null_mask_of(&raw, tnull);
                if unsigned_offset {
                    Arc::new(UInt16Array::new(raw.iter().map(|&v| v as u16 ^ 0x8000).collect(), nulls))
                } else {
                    Arc::new(Int16Array::new(raw.into(), nulls))
                }
            }
            (Gathered::I32(raw), Storage::Int { unsigned_offset, .. }) => {
                let nulls = null_mask_of(&raw, tnull);
                if unsigned_offset {
                    Arc::new(UInt32Array::new(raw.iter().map(|&v| v as u32 ^ 0x8000_0000).collect(), nulls))
                } else {
                    Arc::new(Int32Array::new(raw.into(), nulls))
                }
            }
            (Gathered::I64(raw), Storage::Int { unsigned_offset, .. }) => {
                let nulls = null_mask_of(&raw, tnull);
                if unsigned_offset {
                    Arc::new(UInt64Array::new(raw.iter().map(|&v| v as u64 ^ (1 << 63)).collect(), nulls))
                } else {
                    Arc::new(Int64Array::new(raw.into(), nulls))
                }
            }
            (_, storage) => unreachable!("values gathered for {storage:?} as another kind"),
        };
        match field.data_type() {
            // The rows given, not values / size: a zero-width column (`0D`) has rows and no values.
            DataType::FixedSizeList(item, size) => {
                match FixedSizeListArray::try_new_with_length(item.clone(), *size, values, None, rows) {
                    Ok(array) => Arc::new(array),
                    Err(error) => unreachable!("{} values for {rows} rows of {size}: {error}", column.name),
                }
            }
            _ => values,
        }
    }
}

/// The heap of a table's variable-length arrays.
struct Heap<'a> {
    handle: &'a mut FitsHandle,
    path: &'a Path,
    start: u64,
    end: u64,
}

impl Heap<'_> {
    /// A variable-length array column of the chunk whose descriptors are `rows` (the chunk
    /// starting at row `first`): a list of its elements a row, or (`PA`) a string.
    fn decode(
        self,
        rows: &ColumnBytes,
        first: u64,
        column: &FitsColumn,
        descriptor_bytes: usize,
        field: &Field,
    ) -> Result<ArrayRef, Error> {
        let bad = |message: String| Error::Fits { path: self.path.to_path_buf(), message };
        let element = column.element_column().map_err(|why| bad(format!("column '{}' holds {why}", column.name)))?;
        let element_bytes = element.width() as u64;
        // (count, offset) pairs; P's are 32-bit, Q's 64-bit, both signed in the standard.
        let descriptors: Vec<(i64, i64)> = if descriptor_bytes == 4 {
            rows.map::<8, _>(|b| {
                let (count, offset) = b.split_at(4);
                (
                    i64::from(i32::from_be_bytes(count.try_into().unwrap_or_default())),
                    i64::from(i32::from_be_bytes(offset.try_into().unwrap_or_default())),
                )
            })
        } else {
            rows.map::<16, _>(|b| {
                let (count, offset) = b.split_at(8);
                (
                    i64::from_be_bytes(count.try_into().unwrap_or_default()),
                    i64::from_be_bytes(offset.try_into().unwrap_or_default()),
                )
            })
        };
        // Every array must lie inside the heap: a damaged descriptor is refused before anything
        // is allocated for it.
        let mut spans = Vec::with_capacity(descriptors.len());
        for (i, &(count, offset)) in descriptors.iter().enumerate() {
            let span = u64::try_from(count).ok().zip(u64::try_from(offset).ok()).and_then(|(count, offset)| {
                let from = self.start.checked_add(offset)?;
                let to = from.checked_add(count.checked_mul(element_bytes)?)?;
                (to <= self.end).then_some((from, to))
            });
            spans.push(span.ok_or_else(|| {
                bad(format!(
                    "row {}, column '{}': its array descriptor ({count} elements at heap byte {offset}) points outside the heap",
                    first + i as u64 + 1,
                    column.name
                ))
            })?);
        }
        let total: u64 = spans.iter().map(|(from, to)| to - from).sum();
        let mut bytes = vec![0u8; total as usize];
        // Read runs of arrays that follow one another in the heap (as writers lay them) at once.
        let mut at = 0usize;
        let mut run: Option<(u64, u64, usize)> = None; // heap from, heap to, where in `bytes`
        for &(from, to) in &spans {
            match &mut run {
                Some((_, run_to, _)) if *run_to == from => *run_to = to,
                _ => {
                    if let Some((run_from, run_to, into)) = run.take() {
                        self.handle.read_data(run_from, &mut bytes[into..into + (run_to - run_from) as usize])?;
                    }
                    run = Some((from, to, at));
                }
            }
            at += (to - from) as usize;
        }
        if let Some((run_from, run_to, into)) = run {
            self.handle.read_data(run_from, &mut bytes[into..into + (run_to - run_from) as usize])?;
        }
        let lengths = descriptors.iter().map(|&(count, _)| count as usize);
        if element.code == 'A' {
            let starts = lengths.scan(0, |at, length| {
                *at += length;
                Some(*at - length..*at)
            });
            let mut texts = Texts::with_capacity(bytes.len(), descriptors.len());
            starts.for_each(|range| texts.push(&bytes[range]));
            return Ok(Arc::new(texts.finish()));
        }
        let DataType::List(item) = field.data_type() else {
            return Err(bad(format!(
                "column '{}': a variable-length array read as {}",
                column.name,
                field.data_type()
            )));
        };
        let (storage, _) = element.storage().map_err(|why| bad(format!("column '{}' holds {why}", column.name)))?;
        let n = (total / element_bytes.max(1)) as usize;
        let values = decode(&bytes, element_bytes as usize, n, &element, storage, item);
        let offsets = arrow::buffer::OffsetBuffer::from_lengths(lengths);
        Ok(Arc::new(arrow::array::ListArray::new(item.clone(), offsets, values, None)))
    }
}

/// FITS text: up to a NUL, trailing blanks not significant.
fn fits_text(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    bytes[..end].trim_ascii_end()
}

/// FITS text values gathered: their bytes (trimmed, see [`fits_text`]) one after another, and
/// where each ends.
struct Texts {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Texts {
    /// Room for `values` values of `bytes` bytes in all.
    fn with_capacity(bytes: usize, values: usize) -> Texts {
        Texts { bytes: Vec::with_capacity(bytes), ends: Vec::with_capacity(values) }
    }

    /// Appends the value stored in `field`.
    fn push(&mut self, field: &[u8]) {
        self.bytes.extend_from_slice(fits_text(field));
        self.ends.push(self.bytes.len());
    }

    /// The values as strings: see [`text_array`].
    fn finish(self) -> StringArray {
        text_array(self.bytes, self.ends)
    }
}

/// The strings whose bytes are `bytes`, the i-th ending at `ends[i]`. FITS text is ASCII: the
/// values are checked once, all together; only if some are not UTF-8 are they taken value by
/// value, each kept as lossy UTF-8 rather than refused (checking and converting each value was
/// a tenth of a FITS copy's time).
fn text_array(bytes: Vec<u8>, ends: Vec<usize>) -> StringArray {
    let offsets: Option<Vec<i32>> =
        std::iter::once(0).chain(ends.iter().copied()).map(|o| i32::try_from(o).ok()).collect();
    let bytes = arrow::buffer::Buffer::from_vec(bytes);
    if let (Some(offsets), Ok(_)) = (offsets, std::str::from_utf8(&bytes)) {
        let offsets = arrow::buffer::OffsetBuffer::new(offsets.into());
        if let Ok(strings) = StringArray::try_new(offsets, bytes.clone(), None) {
            return strings;
        }
    }
    let mut strings = StringBuilder::with_capacity(ends.len(), bytes.len());
    let mut start = 0;
    for end in ends {
        strings.append_value(String::from_utf8_lossy(&bytes[start..end]));
        start = end;
    }
    strings.finish()
}

/// One column's bytes in the rows of a chunk.
struct ColumnBytes<'a> {
    buffer: &'a [u8],
    row_bytes: usize,
    n: usize,
    offset: usize,
    width: usize,
}

impl<'a> ColumnBytes<'a> {
    /// The column's bytes in each row, in row order.
    fn iter(&self) -> impl Iterator<Item = &'a [u8]> + Clone + '_ {
        let (offset, width) = (self.offset, self.width);
        (0..self.n).map(move |r| &self.buffer[r * self.row_bytes + offset..r * self.row_bytes + offset + width])
    }

    /// Its elements of `W` bytes, row after row, each turned into a value by `f`.
    fn map<const W: usize, T>(&self, f: impl Fn([u8; W]) -> T) -> Vec<T> {
        let mut out = Vec::with_capacity(self.n * (self.width / W));
        self.map_into(&mut out, f);
        out
    }

    /// Appends its elements of `W` bytes to `out`, row after row, each turned into a value by
    /// `f`. Nested loops over exact chunks: a flattened iterator here cost a fifth of a FITS
    /// copy's time.
    fn map_into<const W: usize, T>(&self, out: &mut Vec<T>, f: impl Fn([u8; W]) -> T) {
        if self.row_bytes == 0 {
            return;
        }
        for row in self.buffer.chunks_exact(self.row_bytes).take(self.n) {
            for bytes in row[self.offset..self.offset + self.width].chunks_exact(W) {
                out.push(f(<[u8; W]>::try_from(bytes).unwrap_or([0; W])));
            }
        }
    }
}

/// Valid where the stored value is not TNULL (`None` when no value is).
fn null_mask(raw: &[i64], null: Option<i64>) -> Option<NullBuffer> {
    let null = null?;
    raw.contains(&null).then(|| NullBuffer::from_iter(raw.iter().map(|&v| v != null)))
}

/// [`null_mask`] for stored integers of any width.
fn null_mask_of<S: Copy + Into<i64>>(raw: &[S], null: Option<i64>) -> Option<NullBuffer> {
    let null = null?;
    raw.iter().any(|&v| v.into() == null).then(|| NullBuffer::from_iter(raw.iter().map(|&v| v.into() != null)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, Int64Type};

    fn kinds() -> RecordBatch {
        let mut catalogue = FitsCatalog::open(Path::new("fixtures/fits_kinds.fits"), false, None, 1000).unwrap();
        assert_eq!(catalogue.rows(), 5);
        let batch = catalogue.next_batch().unwrap().unwrap();
        assert!(catalogue.next_batch().is_none());
        batch
    }

    #[test]
    fn every_column_kind_reads_as_astropy_wrote_it() {
        let batch = kinds();
        let column = |name: &str| batch.column_by_name(name).unwrap_or_else(|| panic!("{name}")).clone();
        let types: Vec<String> =
            batch.schema().fields().iter().map(|f| format!("{}:{}", f.name(), f.data_type())).collect();
        assert_eq!(
            types[..12].join(" "),
            "flag:Boolean u8:UInt8 i8:Int8 i16:Int16 u16:UInt16 i32:Int32 u32:UInt32 i64:Int64 u64:UInt64 f32:Float32 f64:Float64 name:Utf8"
        );
        let flag = column("flag");
        assert_eq!(flag.as_boolean().iter().collect::<Vec<_>>(), [true, false, true, false, true].map(Some));
        assert_eq!(column("u8").as_primitive::<arrow::datatypes::UInt8Type>().values().to_vec(), [0, 1, 127, 200, 255]);
        assert_eq!(column("i8").as_primitive::<arrow::datatypes::Int8Type>().values().to_vec(), [-128, -1, 0, 1, 127]);
        assert_eq!(
            column("u16").as_primitive::<arrow::datatypes::UInt16Type>().values().to_vec(),
            [0, 1, 32768, 40000, 65535]
        );
        assert_eq!(
            column("u32").as_primitive::<arrow::datatypes::UInt32Type>().values().to_vec(),
            [0, 1, 1 << 31, 3_000_000_000, u32::MAX]
        );
        assert_eq!(column("i64").as_primitive::<Int64Type>().values().to_vec(), [i64::MIN, -1, 0, 1, i64::MAX]);
        assert_eq!(
            column("u64").as_primitive::<arrow::datatypes::UInt64Type>().values().to_vec(),
            [0, 1, 1 << 63, (1 << 63) + 5, u64::MAX]
        );
        let f64s = column("f64");
        let f64s = f64s.as_primitive::<Float64Type>();
        assert_eq!((f64s.value(0), f64s.value(1), f64s.value(4)), (0.1, -1e300, 1.0 / 3.0));
        assert!(f64s.value(2).is_nan() && f64s.is_valid(2), "a NaN float stays a NaN value");
        let names = column("name");
        assert_eq!(
            names.as_string::<i32>().iter().collect::<Vec<_>>(),
            ["alpha", "b", "", "with sp", "12345678"].map(Some)
        );
        let vec = column("vec");
        let vec = vec.as_fixed_size_list();
        assert_eq!((vec.value_length(), vec.len()), (3, 5));
        assert_eq!(vec.value(1).as_primitive::<Float64Type>().values().to_vec(), [3.0, 4.0, 5.0]);
        let img = batch.schema().field_with_name("img").unwrap().clone();
        assert_eq!(img.metadata().get("fits:tdim").map(String::as_str), Some("(3,2)"));
        assert!(matches!(img.data_type(), DataType::FixedSizeList(_, 6)));
        let scaled = column("scaled");
        let scaled = scaled.as_primitive::<Float64Type>();
        for (got, want) in scaled.values().iter().zip([100.0, 100.01, 99.5, 427.67, -227.68]) {
            assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        }
        let nullable = column("nullable");
        assert_eq!(
            nullable.as_primitive::<arrow::datatypes::Int32Type>().iter().collect::<Vec<_>>(),
            [Some(5), None, Some(7), None, Some(9)]
        );
    }

    #[test]
    fn units_and_header_keywords_travel_in_the_schema() {
        let batch = kinds();
        let schema = batch.schema();
        let unit = |name: &str| schema.field_with_name(name).unwrap().metadata().get(UNIT_KEY).cloned();
        assert_eq!((unit("ra").as_deref(), unit("f32").as_deref(), unit("u8")), (Some("deg"), Some("mag"), None));
        let header = &schema.metadata()[HEADER_KEY];
        assert!(header.contains("EXTNAME = 'KINDS   '"), "{header}");
        assert!(header.contains("SURVEY  = 'TEST    '           / a keyword angcut must carry over"), "{header}");
        assert!(header.contains("HISTORY written by fixtures/make_fits.py"), "{header}");
        assert!(!header.contains("TFORM") && !header.contains("NAXIS") && !header.contains("TZERO"), "{header}");
    }

    #[test]
    fn an_hdu_is_chosen_by_number_or_name_and_the_wrong_ones_say_why() {
        let open = |hdu: &str| {
            FitsCatalog::open(Path::new("fixtures/fits_kinds.fits"), false, Some(&hdu.parse().unwrap()), 10)
        };
        let second = open("2").unwrap();
        assert_eq!((second.rows(), second.schema().fields().len()), (2, 2));
        assert_eq!(open("second").unwrap().rows(), 2);
        let message = |hdu: &str| open(hdu).err().unwrap().to_string();
        assert_eq!(message("0"), "fixtures/fits_kinds.fits: HDU 0 is an image, not a table");
        assert_eq!(message("9"), "fixtures/fits_kinds.fits: has no HDU 9: its HDUs are 0 to 5");
        assert_eq!(
            message("third"),
            "fixtures/fits_kinds.fits: has no HDU named 'third'; its EXTNAMEs: KINDS, SECOND, BITS, COMPLEX, VARIABLE"
        );
        assert!(open("9").err().unwrap().is_usage());
        assert_eq!(
            message("bits"),
            "fixtures/fits_kinds.fits: HDU 3: column 'bits' holds bits (X), which angcut does not read"
        );
        assert_eq!(
            message("4"),
            "fixtures/fits_kinds.fits: HDU 4: column 'z' holds complex numbers (C, M), which angcut does not read"
        );
        assert!("".parse::<HduChoice>().is_err());
    }

    #[test]
    fn chunks_follow_one_another_and_gzip_reads_the_same() {
        let read = |path: &str, gz: bool| {
            let mut catalogue = FitsCatalog::open(Path::new(path), gz, None, 300).unwrap();
            assert_eq!(catalogue.rows(), 2000);
            let mut ids = Vec::new();
            while let Some(batch) = catalogue.next_batch() {
                let batch = batch.unwrap();
                assert!(batch.num_rows() <= 300);
                ids.extend(batch.column(0).as_primitive::<Int64Type>().values().iter().copied());
            }
            ids
        };
        let plain = read("fixtures/objects_2k.fits", false);
        assert_eq!(plain, (0..2000).collect::<Vec<i64>>());
        assert_eq!(read("fixtures/objects_2k.fits.gz", true), plain);
    }

    #[test]
    fn row_ranges_read_on_their_own_are_the_table_in_order() {
        let all = |source: &mut dyn BatchSource| {
            let mut batches = Vec::new();
            while let Some(batch) = source.next_batch() {
                batches.push(batch.unwrap());
            }
            arrow::compute::concat_batches(&source.schema(), &batches).unwrap()
        };
        for (path, gz) in [("fixtures/objects_2k.fits", false), ("fixtures/objects_2k.fits.gz", true)] {
            let mut sequential = FitsCatalog::open(Path::new(path), gz, None, 300).unwrap();
            let parts = sequential.parts().expect("a table of fixed-width rows has parts");
            // 300-row batches, four to a part: 1200 and 800 rows.
            assert_eq!((parts.count(), parts.rows(0), parts.rows(1)), (2, 1200, 800));
            // Opened out of order, as lanes may: each still its own rows.
            let second = all(parts.open(1).unwrap().as_mut());
            let first = all(parts.open(0).unwrap().as_mut());
            assert_eq!((first.num_rows(), second.num_rows()), (1200, 800));
            let whole = all(&mut sequential);
            assert_eq!(arrow::compute::concat_batches(&whole.schema(), &[first, second]).unwrap(), whole, "{path}");
            assert!(sequential.parts().is_none(), "no parts once batches were read");
        }
        let variable = HduChoice::Name("variable".into());
        let catalogue = FitsCatalog::open(Path::new("fixtures/fits_kinds.fits"), false, Some(&variable), 1).unwrap();
        assert!(catalogue.parts().is_none(), "a heap is read by one reader");
    }

    #[test]
    fn rows_decoded_in_blocks_are_the_rows_decoded_at_once() {
        let read = |hdu: &str, block_rows: Option<usize>| {
            let hdu = HduChoice::Name(hdu.into());
            let mut catalogue = FitsCatalog::open(Path::new("fixtures/fits_kinds.fits"), false, Some(&hdu), 4).unwrap();
            if let Some(rows) = block_rows {
                Arc::get_mut(&mut catalogue.table).unwrap().block_rows = rows;
            }
            let mut batches = Vec::new();
            while let Some(batch) = catalogue.next_batch() {
                batches.push(batch.unwrap());
            }
            batches
        };
        let whole = read("kinds", None);
        assert_eq!(whole.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [4, 1]);
        for rows in [1, 3] {
            // Every column kind (strings, logicals, scaled, nulls, vectors) across block edges,
            // and fixed-width columns beside variable-length arrays.
            assert_eq!(read("kinds", Some(rows)), whole, "blocks of {rows} rows");
            assert_eq!(read("variable", Some(rows)), read("variable", None), "blocks of {rows} rows");
        }
    }

    #[test]
    fn rows_missing_from_a_file_are_an_error_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("short.fits");
        std::fs::copy("fixtures/objects_2k.fits", &path).unwrap();
        let mut catalogue = FitsCatalog::open(&path, false, None, 1500).unwrap();
        // Cut short after the open's check, as a file shrinking under a reader would be.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(20_000).unwrap();
        let error = catalogue.next_batch().unwrap().unwrap_err().to_string();
        assert!(
            error.contains("short.fits") && error.ends_with("truncated: the file ends within rows 1 to 1500"),
            "{error}"
        );
    }

    #[test]
    fn variable_length_arrays_read_as_lists_in_any_chunking() {
        let variable = HduChoice::Name("variable".into());
        for batch_size in [1, 2, 3] {
            let mut catalogue =
                FitsCatalog::open(Path::new("fixtures/fits_kinds.fits"), false, Some(&variable), batch_size).unwrap();
            let mut counts = Vec::new();
            let mut spectra = Vec::new();
            let mut labels = Vec::new();
            while let Some(batch) = catalogue.next_batch() {
                let batch = batch.unwrap();
                for row in batch.column_by_name("counts").unwrap().as_list::<i32>().iter() {
                    counts.push(row.unwrap().as_primitive::<arrow::datatypes::Int32Type>().values().to_vec());
                }
                for row in batch.column_by_name("spectrum").unwrap().as_list::<i32>().iter() {
                    spectra.push(row.unwrap().as_primitive::<Float64Type>().values().to_vec());
                }
                labels.extend(
                    batch.column_by_name("label").unwrap().as_string::<i32>().iter().map(|t| t.unwrap().to_string()),
                );
            }
            assert_eq!(counts, [vec![1, 2, 3], vec![], vec![-5]], "batch size {batch_size}");
            assert_eq!(spectra.len(), 3);
            assert!(spectra[0][0] == 0.5 && spectra[0][1].is_nan() && spectra[1] == [1.25] && spectra[2].is_empty());
            assert_eq!(labels, ["ab", "", "hello"]);
        }
    }

    #[test]
    fn a_descriptor_pointing_outside_the_heap_is_refused() {
        let mut bytes = std::fs::read("fixtures/fits_kinds.fits").unwrap();
        // The VARIABLE table's first row starts at the last 2,880-byte block: ra, dec (16 bytes),
        // then the first row's `counts` descriptor (count, offset); make its count absurd.
        let row = bytes.len() - 2880;
        bytes[row + 16..row + 20].copy_from_slice(&1_000_000_000i32.to_be_bytes());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad_heap.fits");
        std::fs::write(&path, &bytes).unwrap();
        let mut catalogue = FitsCatalog::open(&path, false, Some(&HduChoice::Index(5)), 10).unwrap();
        let error = catalogue.next_batch().unwrap().unwrap_err().to_string();
        assert!(
            error.ends_with("row 1, column 'counts': its array descriptor (1000000000 elements at heap byte 0) points outside the heap"),
            "{error}"
        );
    }

    #[test]
    fn text_fields_are_trimmed_and_taken_as_lossy_utf8_only_where_they_are_not_utf8() {
        let strings = |fields: &[&[u8]]| {
            let mut texts = Texts::with_capacity(0, 0);
            fields.iter().for_each(|field| texts.push(field));
            texts.finish().iter().map(|s| s.unwrap().to_string()).collect::<Vec<_>>()
        };
        // Trailing blanks and everything from a NUL on are not part of the value.
        assert_eq!(strings(&[b"ab  ", b"c\0d ", b"    ", "é ".as_bytes()]), ["ab", "c", "", "é"]);
        // A byte that is not UTF-8 becomes U+FFFD, in its own value only.
        assert_eq!(strings(&[b"ok", b"x\xffy"]), ["ok", "x\u{fffd}y"]);
        // Halves of one character in two fields: UTF-8 all together, not value by value.
        assert_eq!(strings(&[b"a\xc3", b"\xa9b"]), ["a\u{fffd}", "\u{fffd}b"]);
    }

    #[test]
    fn rows_passed_through_are_the_files_bytes_beside_the_columns_decoded() {
        let path = Path::new("fixtures/fits_kinds.fits");
        let whole = kinds();
        let index = |name: &str| whole.schema().index_of(name).unwrap();
        let mut handle = FitsHandle::open(path, false).unwrap();
        handle.move_to(1).unwrap();
        let start = handle.data_start().unwrap() as usize;
        let file = std::fs::read(path).unwrap();
        let stored = |rows: &RecordBatch| rows.column(2).as_fixed_size_binary().value_data().to_vec();
        let mut catalogue = FitsCatalog::open(path, false, None, 2).unwrap();
        let schema = catalogue.pass_rows_through(&[index("dec"), index("ra")]).expect("fixed-width rows");
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, [whole.schema().field(index("ra")).name(), "dec", ROWS_COLUMN]);
        let header = &schema.field(2).metadata()[ROWS_KEY];
        assert!(header.contains("TFORM15 = 'I") && header.contains("NAXIS2  =                    5"), "{header}");
        assert!(catalogue.pass_rows_through(&[0]).is_none(), "once");
        let parts = catalogue.parts().expect("parts still");
        let mut batches = Vec::new();
        while let Some(batch) = catalogue.next_batch() {
            batches.push(batch.unwrap());
        }
        let rows = arrow::compute::concat_batches(&schema, &batches).unwrap();
        assert_eq!(batches.len(), 3);
        assert_eq!(rows.column(0).to_data(), whole.column(index("ra")).to_data());
        assert_eq!(rows.column(1).to_data(), whole.column(index("dec")).to_data());
        let DataType::FixedSizeBinary(row_bytes) = *schema.field(2).data_type() else { panic!("not rows") };
        let row_bytes = row_bytes as usize;
        assert_eq!(stored(&rows), file[start..start + 5 * row_bytes], "the rows as the file stores them");
        let part = parts.open(0).unwrap().next_batch().unwrap().unwrap();
        assert_eq!(part.schema(), schema, "a part's batches pass the rows through too");
        assert_eq!(stored(&part), file[start..start + 2 * row_bytes]);

        let mut started = FitsCatalog::open(path, false, None, 2).unwrap();
        started.next_batch().unwrap().unwrap();
        assert!(started.pass_rows_through(&[0]).is_none(), "not after a batch was read");
        let variable = HduChoice::Name("variable".into());
        let mut heap = FitsCatalog::open(path, false, Some(&variable), 2).unwrap();
        assert!(heap.pass_rows_through(&[0, 1]).is_none(), "a variable-length array's elements are not in its row");
    }
}
