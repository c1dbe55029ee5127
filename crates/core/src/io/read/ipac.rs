//! IPAC tables (IRSA's ASCII format, `.tbl`): `\` lines (keywords and comments), then up to four
//! header lines between `|` bars (names, types, units, null values), then fixed-width rows whose
//! values lie between the bars' columns. No Rust crate reads the format, and it is simple, so it
//! is read here, a line at a time into Arrow batches: memory is one batch, whatever the file.
//!
//! Types: `int`/`integer`/`long` (or `i`, `l`) to int64; `double`/`real`/`float` (or `d`, `r`,
//! `f`) to float64; `char`/`date` (or `c`) and undeclared types to text. A value equal to its
//! column's null value (`null` unless the fourth line says otherwise), or blank, is null. Units
//! go to each field's metadata (`unit`), as the other readers do.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::BatchSource;
use crate::error::Error;

/// One column: its name, type, the bytes of a row it spans, its null value.
#[derive(Debug, Clone, PartialEq)]
struct Column {
    name: String,
    data_type: DataType,
    span: std::ops::Range<usize>,
    null: String,
}

/// An IPAC table being read.
pub(super) struct IpacSource {
    path: PathBuf,
    schema: SchemaRef,
    columns: Vec<Column>,
    /// Where each bar of the header stands: a row must be blank there.
    bars: Vec<usize>,
    lines: Box<dyn BufRead + Send>,
    /// The line last read, counted from 1 as an editor shows it.
    line: u64,
    batch_size: usize,
    done: bool,
}

/// Opens the IPAC table read from `bytes` (`path` names it in messages).
pub(super) fn open_ipac(
    path: &Path,
    mut bytes: Box<dyn BufRead + Send>,
    batch_size: usize,
) -> Result<IpacSource, Error> {
    let fault = |line: u64, message: String| Error::TextRow { path: path.to_path_buf(), line, message };
    let mut line_number = 0u64;
    let mut header: Vec<(u64, String)> = Vec::new();
    let mut text = String::new();
    // The `\` lines, then the `|` lines; the first line of neither kind ends the header (it is
    // read again as the first row, so the header is read a byte past, never a row lost).
    loop {
        let buffer = bytes.fill_buf().map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let starts_header = matches!(buffer.first(), Some(b'\\' | b'|'));
        if buffer.is_empty() || (!starts_header && !header.is_empty()) {
            break;
        }
        text.clear();
        bytes.read_line(&mut text).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        line_number += 1;
        let line = text.trim_end_matches(['\n', '\r']);
        if line.starts_with('|') {
            header.push((line_number, line.to_string()));
        } else if !line.starts_with('\\') && !line.trim().is_empty() {
            return Err(fault(line_number, "an IPAC table's header lines start with '\\' or '|'".into()));
        }
    }
    let Some((names_line, names)) = header.first() else {
        return Err(fault(line_number.max(1), "no '|' header line: not an IPAC table".into()));
    };
    if header.len() > 4 {
        return Err(fault(header[4].0, "more than four '|' header lines (names, types, units, nulls)".into()));
    }
    let bars: Vec<usize> = names.bytes().enumerate().filter(|(_, b)| *b == b'|').map(|(i, _)| i).collect();
    if bars.len() < 2 || !names.trim_end().ends_with('|') {
        return Err(fault(*names_line, "the names line must be bars and names: |  ra  |  dec  |".into()));
    }
    for (line, text) in &header[1..] {
        let theirs: Vec<usize> = text.bytes().enumerate().filter(|(_, b)| *b == b'|').map(|(i, _)| i).collect();
        if theirs != bars {
            return Err(fault(*line, "its '|' bars are not where the names line has them".into()));
        }
    }
    let cell = |text: &str, k: usize| text.get(bars[k] + 1..bars[k + 1]).unwrap_or("").trim().to_string();
    let mut columns = Vec::with_capacity(bars.len() - 1);
    let mut fields = Vec::with_capacity(bars.len() - 1);
    for k in 0..bars.len() - 1 {
        let name = cell(names, k);
        if name.is_empty() {
            return Err(fault(*names_line, format!("column {} has no name", k + 1)));
        }
        let declared = header.get(1).map(|(_, t)| cell(t, k)).unwrap_or_default();
        let data_type = match declared.to_ascii_lowercase().as_str() {
            "int" | "integer" | "long" | "i" | "l" => DataType::Int64,
            "double" | "real" | "float" | "d" | "r" | "f" => DataType::Float64,
            "" | "char" | "c" | "date" | "string" => DataType::Utf8,
            other => {
                let line = header[1].0;
                return Err(fault(
                    line,
                    format!("column '{name}': type '{other}' is none of int, long, double, real, float, char, date"),
                ));
            }
        };
        let unit = header.get(2).map(|(_, t)| cell(t, k)).filter(|u| !u.is_empty());
        let null = header.get(3).map(|(_, t)| cell(t, k)).filter(|n| !n.is_empty()).unwrap_or_else(|| "null".into());
        let metadata: HashMap<String, String> = unit.into_iter().map(|u| ("unit".to_string(), u)).collect();
        fields.push(Field::new(&name, data_type.clone(), true).with_metadata(metadata));
        columns.push(Column { name, data_type, span: bars[k] + 1..bars[k + 1], null });
    }
    // As for CSV: a wide table's batches are shorter, so that its builders stay bounded.
    let batch_size = batch_size.min(super::csv::TEXT_BATCH_VALUES / columns.len()).max(1);
    Ok(IpacSource {
        path: path.to_path_buf(),
        schema: Arc::new(Schema::new(fields)),
        columns,
        bars,
        lines: bytes,
        line: line_number,
        batch_size,
        done: false,
    })
}

/// A column's values as they are read.
enum Builder {
    Int(Int64Builder),
    Float(Float64Builder),
    Text(StringBuilder),
}

impl IpacSource {
    /// The next batch of rows, or `None` at the end.
    fn read_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        let mut builders: Vec<Builder> = self
            .columns
            .iter()
            .map(|c| match c.data_type {
                DataType::Int64 => Builder::Int(Int64Builder::with_capacity(self.batch_size)),
                DataType::Float64 => Builder::Float(Float64Builder::with_capacity(self.batch_size)),
                _ => Builder::Text(StringBuilder::new()),
            })
            .collect();
        let mut rows = 0;
        let mut text = String::new();
        while rows < self.batch_size {
            text.clear();
            let read =
                self.lines.read_line(&mut text).map_err(|source| Error::Io { path: self.path.clone(), source })?;
            if read == 0 {
                self.done = true;
                break;
            }
            self.line += 1;
            let row = text.trim_end_matches(['\n', '\r']);
            if row.trim().is_empty() || row.starts_with('\\') {
                continue;
            }
            let fault = |message: String| Error::TextRow { path: self.path.clone(), line: self.line, message };
            let bytes = row.as_bytes();
            if let Some(&bar) = self.bars.iter().find(|&&bar| bytes.get(bar).is_some_and(|b| *b != b' ')) {
                return Err(fault(format!("a value crosses the header's bar at character {}", bar + 1)));
            }
            let last = self.bars[self.bars.len() - 1];
            if bytes.get(last..).is_some_and(|rest| !rest.iter().all(u8::is_ascii_whitespace)) {
                return Err(fault("the row goes on past the header's last bar".into()));
            }
            for (column, builder) in self.columns.iter().zip(&mut builders) {
                let value =
                    row.get(column.span.clone()).or_else(|| row.get(column.span.start.min(row.len())..)).unwrap_or("");
                let value = value.trim();
                let null = value.is_empty() || value == column.null;
                let bad = |kind: &str| fault(format!("column '{}': '{value}' is not {kind}", column.name));
                match builder {
                    Builder::Int(b) if null => b.append_null(),
                    Builder::Int(b) => {
                        b.append_value(value.trim_start_matches('+').parse().map_err(|_| bad("an integer"))?)
                    }
                    Builder::Float(b) if null => b.append_null(),
                    Builder::Float(b) => b.append_value(value.parse().map_err(|_| bad("a number"))?),
                    Builder::Text(b) if null => b.append_null(),
                    Builder::Text(b) => b.append_value(value),
                }
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        let arrays: Vec<ArrayRef> = builders
            .into_iter()
            .map(|b| match b {
                Builder::Int(mut b) => Arc::new(b.finish()) as ArrayRef,
                Builder::Float(mut b) => Arc::new(b.finish()) as ArrayRef,
                Builder::Text(mut b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect();
        RecordBatch::try_new(self.schema.clone(), arrays)
            .map(Some)
            .map_err(|source| Error::Arrow { path: self.path.clone(), source })
    }
}

impl BatchSource for IpacSource {
    fn path(&self) -> &Path {
        &self.path
    }

    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Option<Result<RecordBatch, Error>> {
        if self.done {
            return None;
        }
        match self.read_batch() {
            Ok(batch) => batch.map(Ok),
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Float64Array, Int64Array, StringArray};

    fn read(text: &str, batch_size: usize) -> Result<(SchemaRef, Vec<RecordBatch>), Error> {
        let bytes: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        let mut source = open_ipac(Path::new("t.tbl"), bytes, batch_size)?;
        let mut batches = Vec::new();
        while let Some(batch) = source.next_batch() {
            batches.push(batch?);
        }
        Ok((source.schema(), batches))
    }

    /// A table as IRSA's services write it: keywords, comments, four header lines, a null.
    const IRSA: &str = concat!(
        "\\fixlen = T\n",
        "\\RowsRetrieved =                 3\n",
        "\\ORIGIN  = 'IPAC Infrared Science Archive (IRSA), Caltech/JPL'\n",
        "\\ a comment\n",
        "|   designation  |     ra     |     dec    | nobs |   w1mpro  |\n",
        "|      char      |   double   |   double   | int  |   double  |\n",
        "|                |    deg     |    deg     |      |    mag    |\n",
        "|      null      |    null    |    null    |  -1  |    null   |\n",
        " J000000.00+0000  359.9999999  -89.9999999     12      15.123  \n",
        " J101010.10+1010   10.0000000   20.5000000     -1        null  \n",
        "\n",
        " J202020.20-2020  200.5        -20.25          +3              \n",
    );

    #[test]
    fn an_irsa_table_reads_with_its_types_units_and_nulls() {
        let (schema, batches) = read(IRSA, 2).unwrap();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["designation", "ra", "dec", "nobs", "w1mpro"]);
        assert_eq!(schema.field(1).metadata().get("unit").map(String::as_str), Some("deg"));
        assert_eq!(schema.field(3).data_type(), &DataType::Int64);
        assert_eq!(batches.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), [2, 1]);
        let all = arrow::compute::concat_batches(&schema, &batches).unwrap();
        let ra = all.column(1).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(ra.values().to_vec(), [359.9999999, 10.0, 200.5]);
        let nobs = all.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!((nobs.value(0), nobs.is_null(1), nobs.value(2)), (12, true, 3), "-1 is this column's null");
        let mag = all.column(4).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!((mag.value(0), mag.is_null(1), mag.is_null(2)), (15.123, true, true));
        let id = all.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(id.value(2), "J202020.20-2020");
    }

    #[test]
    fn faults_are_named_by_line_and_column() {
        let message = |text: &str| read(text, 10).unwrap_err().to_string();
        let bad_number = IRSA.replace("15.123", "15.1x3");
        assert_eq!(message(&bad_number), "t.tbl: line 9: column 'w1mpro': '15.1x3' is not a number");
        let crossing = IRSA.replace(" J101010.10+1010   10.0", " J101010.10+10100010.0");
        assert!(
            message(&crossing).starts_with("t.tbl: line 10: a value crosses the header's bar at character 18"),
            "{}",
            message(&crossing)
        );
        let moved = IRSA.replace("|      char      |", "|      char     | ");
        assert!(message(&moved).contains("line 6: its '|' bars are not where the names line has them"));
        let bad_type = IRSA.replace("|   double   |   double   |", "|   double   |   quad     |");
        assert!(message(&bad_type).contains("column 'dec': type 'quad' is none of"));
        assert!(message("ra,dec\n1,2\n").contains("line 1: an IPAC table's header lines start with"));
    }

    /// Text that is not ASCII (a name with an accent) cannot split a character: a value that
    /// would is reported, never a panic.
    #[test]
    fn non_ascii_rows_are_read_or_refused_without_panic() {
        let table = "|  name  |  ra  |\n|  char  | double |\n";
        let table = table.replace("| double |", "|double|");
        let accented = format!("{table} Gödel     1.5\n");
        let result = read(&accented, 10);
        assert!(result.is_ok() || result.unwrap_err().to_string().contains("line 3"));
        let (_, batches) = read(&format!("{table} Godel    1.5\n"), 10).unwrap();
        assert_eq!(batches[0].num_rows(), 1);
    }

    /// Only names: every column is text (the type line is optional); a header-only table is empty.
    #[test]
    fn a_header_without_types_or_rows_reads() {
        let (schema, batches) = read("|  ra  |  dec  |\n", 10).unwrap();
        assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
        assert!(batches.is_empty());
    }
}
