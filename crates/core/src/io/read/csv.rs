//! Text catalogues: CSV and TSV with a header line (column types inferred), and ECSV (types
//! declared in its header, see `ecsv`), each plain or gzip-compressed. `#` comment lines are
//! skipped anywhere, header names trimmed, and a column with no value in the rows looked at is
//! read as float64 (so a header-only file is an empty catalogue, not one whose `ra` has no type).
//!
//! Arrow's CSV reader does the parsing. Its messages count rows, not the file's lines (from 0,
//! without the header and comments), so when it fails the batch it failed in is read again with
//! the `csv` crate, which knows each record's line, to say which line and column hold what.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::{BatchSource, ecsv, next_guarded};
use crate::error::Error;

/// Rows looked at to infer the columns' types of a CSV or TSV file.
const INFER_ROWS: usize = 10_000;

/// Values in one batch of a text catalogue, at most: Arrow's CSV reader reserves room for a
/// batch's every row in every column before reading, so a wide file's batches are made shorter
/// (a 1,002-column file of one row reserved 1.1 GB at 65,536 rows a batch). 4M values cost
/// ~70 MB; a narrow file keeps the batch size asked for.
pub(super) const TEXT_BATCH_VALUES: usize = 1 << 22;

/// How a text catalogue's bytes are laid out.
#[derive(Debug, Clone, Copy)]
pub(super) struct TextLayout {
    /// `,`, tab, or (ECSV) space.
    pub delimiter: u8,
    /// Whether the file is gzip-compressed.
    pub gzip: bool,
}

/// A CSV or TSV file with a header line, its columns' types inferred from the first rows.
pub(super) fn open_csv(path: &Path, layout: TextLayout, batch_size: usize) -> Result<TextSource, Error> {
    let arrow_error = |source| Error::Arrow { path: path.to_path_buf(), source };
    let format =
        arrow::csv::reader::Format::default().with_header(true).with_delimiter(layout.delimiter).with_comment(b'#');
    let (inferred, _) = match format.infer_schema(open_bytes(path, layout.gzip)?, Some(INFER_ROWS)) {
        Ok(inferred) => inferred,
        Err(error) => {
            // Rows of the wrong length, or not UTF-8: found and named by their line.
            let width = header_width(path, layout).unwrap_or(0);
            let text = Schema::new(
                (0..width).map(|i| Field::new(format!("column {}", i + 1), DataType::Utf8, true)).collect::<Vec<_>>(),
            );
            return Err(locate_fault(path, layout, &text, 0, INFER_ROWS).unwrap_or_else(|| arrow_error(error)));
        }
    };
    let fields: Vec<Field> = inferred
        .fields()
        .iter()
        .map(|f| {
            let data_type = if f.data_type() == &DataType::Null { DataType::Float64 } else { f.data_type().clone() };
            Field::new(f.name().trim(), data_type, true)
        })
        .collect();
    TextSource::open(path, Arc::new(Schema::new(fields)), layout, batch_size)
}

/// The file's records as the `csv` crate reads them (header first, `#` comments skipped, rows of
/// any length): what [`header_width`] and [`locate_fault`] read to find a fault's line.
fn records(path: &Path, layout: TextLayout) -> Option<csv::Reader<Box<dyn BufRead + Send>>> {
    let bytes = open_bytes(path, layout.gzip).ok()?;
    Some(csv::ReaderBuilder::new().delimiter(layout.delimiter).comment(Some(b'#')).flexible(true).from_reader(bytes))
}

/// The number of names on the header line of a CSV or TSV file.
fn header_width(path: &Path, layout: TextLayout) -> Option<usize> {
    records(path, layout)?.byte_headers().ok().map(csv::ByteRecord::len)
}

/// An ECSV file, read with the types, units and delimiter its header declares.
pub(super) fn open_ecsv(path: &Path, gzip: bool, batch_size: usize) -> Result<TextSource, Error> {
    let header = ecsv::read_header(path, open_bytes(path, gzip)?)?;
    TextSource::open(path, Arc::new(header.schema), TextLayout { delimiter: header.delimiter, gzip }, batch_size)
}

/// The bytes of `path` from its start, decompressed if `gzip`.
pub(super) fn open_bytes(path: &Path, gzip: bool) -> Result<Box<dyn BufRead + Send>, Error> {
    let file = File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let file = BufReader::with_capacity(1 << 20, file);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(1 << 20, flate2::bufread::MultiGzDecoder::new(file)))
    } else {
        Box::new(file)
    })
}

/// The batches of a text catalogue.
pub(super) struct TextSource {
    path: PathBuf,
    schema: SchemaRef,
    layout: TextLayout,
    reader: arrow::csv::reader::BufReader<Box<dyn BufRead + Send>>,
    batch_size: usize,
    /// Data rows delivered so far: a failing batch starts here.
    rows_read: u64,
    failed: bool,
}

impl TextSource {
    fn open(path: &Path, schema: SchemaRef, layout: TextLayout, batch_size: usize) -> Result<TextSource, Error> {
        let batch_size = batch_size.min(TEXT_BATCH_VALUES / schema.fields().len().max(1)).max(1);
        let reader = arrow::csv::ReaderBuilder::new(schema.clone())
            .with_header(true)
            .with_delimiter(layout.delimiter)
            .with_comment(b'#')
            .with_batch_size(batch_size)
            .build_buffered(open_bytes(path, layout.gzip)?)
            .map_err(|source| Error::Arrow { path: path.to_path_buf(), source })?;
        Ok(TextSource { path: path.to_path_buf(), schema, layout, reader, batch_size, rows_read: 0, failed: false })
    }
}

impl BatchSource for TextSource {
    fn path(&self) -> &Path {
        &self.path
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        if self.failed {
            return None;
        }
        match next_guarded(&mut self.reader, &self.path)? {
            Ok(batch) => {
                self.rows_read += batch.num_rows() as u64;
                Some(Ok(batch))
            }
            Err(error) => {
                self.failed = true;
                let found = locate_fault(&self.path, self.layout, &self.schema, self.rows_read, self.batch_size);
                Some(Err(found.unwrap_or(error)))
            }
        }
    }
}

/// The first record among data rows `first .. first + count` (counted from 0 after the header)
/// that the reader could not take, as an error naming its line and column; `None` if none is
/// found (the reader's own message then stands).
fn locate_fault(path: &Path, layout: TextLayout, schema: &Schema, first: u64, count: usize) -> Option<Error> {
    let mut records = records(path, layout)?;
    let mut record = csv::ByteRecord::new();
    for _ in 0..first {
        if !records.read_byte_record(&mut record).ok()? {
            return None;
        }
    }
    for _ in 0..=count {
        let line = match records.read_byte_record(&mut record) {
            Ok(false) => return None,
            Ok(true) => record.position().map_or(0, csv::Position::line),
            Err(error) => {
                let line = error.position().map_or(0, csv::Position::line);
                return Some(Error::TextRow { path: path.to_path_buf(), line, message: error.to_string() });
            }
        };
        if let Some(message) = record_fault(&record, schema) {
            return Some(Error::TextRow { path: path.to_path_buf(), line, message });
        }
    }
    None
}

/// What is wrong with one record for `schema`, if anything: its field count, or a value that is
/// not UTF-8 or not of its column's type. An empty field is a null, valid in any column.
fn record_fault(record: &csv::ByteRecord, schema: &Schema) -> Option<String> {
    let fields = schema.fields();
    if record.len() != fields.len() {
        return Some(format!("{} fields, where the header has {}", record.len(), fields.len()));
    }
    for (bytes, field) in record.iter().zip(fields) {
        let Ok(value) = std::str::from_utf8(bytes) else {
            return Some(format!("column '{}': the value is not UTF-8 text", field.name()));
        };
        if !value.is_empty() && !parses_as(value, field.data_type()) {
            return Some(format!("column '{}': '{value}' is not a value of type {}", field.name(), field.data_type()));
        }
    }
    None
}

/// Whether Arrow's CSV reader takes `value` in a column of `data_type` (for the types a text
/// catalogue's columns have; any other type is taken as valid here).
fn parses_as(value: &str, data_type: &DataType) -> bool {
    match data_type {
        DataType::Boolean => value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false"),
        DataType::Int8 => value.parse::<i8>().is_ok(),
        DataType::Int16 => value.parse::<i16>().is_ok(),
        DataType::Int32 => value.parse::<i32>().is_ok(),
        DataType::Int64 => value.parse::<i64>().is_ok(),
        DataType::UInt8 => value.parse::<u8>().is_ok(),
        DataType::UInt16 => value.parse::<u16>().is_ok(),
        DataType::UInt32 => value.parse::<u32>().is_ok(),
        DataType::UInt64 => value.parse::<u64>().is_ok(),
        DataType::Float16 | DataType::Float32 | DataType::Float64 => value.parse::<f64>().is_ok(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn read_all(source: &mut TextSource) -> Result<Vec<RecordBatch>, Error> {
        std::iter::from_fn(|| source.next_batch()).collect()
    }

    const CSV: TextLayout = TextLayout { delimiter: b',', gzip: false };

    /// A wide file is read in shorter batches, so that what the reader reserves stays near
    /// TEXT_BATCH_VALUES values whatever the width; a narrow one keeps the batch size asked for.
    #[test]
    fn wide_files_are_read_in_batches_of_bounded_values() {
        let dir = tempfile::tempdir().unwrap();
        let width = 1_002;
        let header: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
        let row = vec!["1.5"; width].join(",");
        let text = format!("{}\n{}", header.join(","), format!("{row}\n").repeat(5_000));
        let path = write(&dir, "wide.csv", &text);
        let layout = TextLayout { delimiter: b',', gzip: false };
        let batches = read_all(&mut open_csv(&path, layout, 65_536).unwrap()).unwrap();
        let longest = batches.iter().map(RecordBatch::num_rows).max().unwrap();
        assert_eq!(longest, TEXT_BATCH_VALUES / width);
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 5_000);
        let narrow = write(&dir, "narrow.csv", &format!("ra,dec\n{}", "1,2\n".repeat(5_000)));
        assert_eq!(read_all(&mut open_csv(&narrow, layout, 65_536).unwrap()).unwrap()[0].num_rows(), 5_000);
    }

    #[test]
    fn a_bad_value_is_reported_at_its_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        // Line 1 a comment, 2 the header, 3.. rows; line 9 holds the bad value, in the second
        // batch of 3 rows.
        let text = "# made by hand\nra,dec\n1,2\n3,4\n# a note\n5,6\n7,8\n9,10\n11,x\n";
        let path = write(&dir, "bad.csv", text);
        let mut source = TextSource::open(
            &path,
            Arc::new(Schema::new(vec![
                Field::new("ra", DataType::Float64, true),
                Field::new("dec", DataType::Float64, true),
            ])),
            CSV,
            3,
        )
        .unwrap();
        let error = read_all(&mut source).unwrap_err().to_string();
        assert!(error.ends_with("bad.csv: line 9: column 'dec': 'x' is not a value of type Float64"), "{error}");
        assert!(source.next_batch().is_none(), "nothing after the failure");
    }

    #[test]
    fn a_short_row_is_reported_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        // Found while the types are inferred, before any batch.
        let path = write(&dir, "short.csv", "ra,dec,name\n# a comment\n1,2,a\n3,4\n");
        let error = open_csv(&path, CSV, 100).err().unwrap().to_string();
        assert!(error.ends_with("short.csv: line 4: 2 fields, where the header has 3"), "{error}");
    }

    #[test]
    fn gzipped_csv_reads_as_the_plain_file() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let text = "# stars\n ra , dec ,hip\n10.5,-3.25,7\n200,45,\n";
        let plain = write(&dir, "stars.csv", text);
        let gz = dir.path().join("stars.csv.gz");
        let mut encoder = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
        let plain = read_all(&mut open_csv(&plain, CSV, 100).unwrap()).unwrap();
        let zipped = read_all(&mut open_csv(&gz, TextLayout { gzip: true, ..CSV }, 100).unwrap()).unwrap();
        assert_eq!(plain, zipped);
        let names: Vec<_> = plain[0].schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["ra", "dec", "hip"]);
        assert_eq!(plain[0].num_rows(), 2);
        assert_eq!(plain[0].column(2).null_count(), 1);
    }

    #[test]
    fn ecsv_written_by_astropy_reads_with_its_types_units_and_nulls() {
        use arrow::array::{Array, AsArray};
        use arrow::datatypes::{Float32Type, Int32Type, UInt64Type};
        let mut source = open_ecsv(Path::new("fixtures/ecsv_kinds.ecsv"), false, 100).unwrap();
        let batches = read_all(&mut source).unwrap();
        let batch = &batches[0];
        assert_eq!(batch.num_rows(), 5);
        let column = |name: &str| batch.column_by_name(name).unwrap();
        let u64s: Vec<u64> = column("u64").as_primitive::<UInt64Type>().values().to_vec();
        assert_eq!(u64s, [0, 1, 1 << 63, (1 << 63) + 5, u64::MAX]);
        let f16 = column("f16").as_primitive::<Float32Type>();
        assert_eq!(f16.values().to_vec(), [0.5, -2.0, 1024.0, 0.0, 1.5]);
        let f32 = column("f32").as_primitive::<Float32Type>();
        assert!(f32.value(2).is_nan() && f32.is_valid(2), "nan is a value");
        assert!(f32.is_null(4), "a masked value is null");
        let nullable = column("nullable").as_primitive::<Int32Type>();
        assert_eq!(nullable.iter().collect::<Vec<_>>(), [Some(5), None, Some(7), None, Some(9)]);
        let names = column("name").as_string::<i32>();
        assert_eq!(
            names.iter().collect::<Vec<_>>(),
            [Some("alpha"), Some("b"), None, Some("with sp"), Some("12345678")]
        );
        assert_eq!(column("vec").as_string::<i32>().value(4), "[12,13,14]");
        let flags = column("flag").as_boolean();
        assert_eq!(flags.iter().collect::<Vec<_>>(), [Some(true), Some(false), Some(true), Some(false), Some(true)]);
        let schema = source.schema();
        assert_eq!(schema.field_with_name("ra").unwrap().metadata().get("unit").map(String::as_str), Some("deg"));
        assert_eq!(schema.field_with_name("i8").unwrap().data_type(), &DataType::Int8);
    }

    #[test]
    fn value_checks_follow_the_column_type() {
        assert!(parses_as("-12", &DataType::Int8));
        assert!(!parses_as("300", &DataType::Int8));
        assert!(!parses_as("-1", &DataType::UInt64));
        assert!(parses_as("TRUE", &DataType::Boolean));
        assert!(!parses_as("yes", &DataType::Boolean));
        assert!(parses_as("1.5e-3", &DataType::Float32));
        assert!(parses_as("nan", &DataType::Float64));
        assert!(!parses_as("1,5", &DataType::Float64));
        assert!(parses_as("anything", &DataType::Utf8));
    }
}
