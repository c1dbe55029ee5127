//! The header of astropy's Enhanced CSV (ECSV 1.0, astropy APE 6): after `# %ECSV 1.0`, a YAML
//! document in `# ` comment lines declares every column's name, `datatype`, `unit` and
//! `description`, and the delimiter (a space unless `delimiter: ','`); then comes a line of
//! column names and the rows. The YAML is parsed by `yaml-rust2` (a maintained YAML 1.2 parser:
//! astropy writes flow mappings and `!!omap` tags, more than a hand-written reader should take
//! on); the rows are read as CSV with these types.
//!
//! Types: `bool`, `int8`..`uint64`, `float32`, `float64` as themselves; `float16` as float32
//! (exactly); `float128` as float64 (rounded: angcut computes in double precision anyway);
//! `string` as text, also when a `subtype` says it holds JSON arrays (kept as their JSON text,
//! the subtype in the field's metadata under `ecsv:subtype`). Complex columns are refused by name.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use arrow::datatypes::{DataType, Field, Schema};
use yaml_rust2::{Yaml, YamlLoader};

use crate::error::Error;
use crate::io::{DESCRIPTION_KEY, UNIT_KEY};

/// The field metadata key of an ECSV column's description.
/// The field metadata key of an ECSV string column's `subtype` (JSON arrays).
const SUBTYPE_KEY: &str = "ecsv:subtype";

/// What an ECSV header declares.
pub(super) struct EcsvHeader {
    /// The columns, in order, with their units and descriptions as field metadata.
    pub schema: Schema,
    /// The byte between values.
    pub delimiter: u8,
}

/// Reads the header of the ECSV file `path` from `input` (positioned at its start), up to and
/// including the line of column names, which must list the declared columns in order.
pub(super) fn read_header(path: &Path, input: impl BufRead) -> Result<EcsvHeader, Error> {
    let fault = |line: u64, message: String| Error::TextRow { path: path.to_path_buf(), line, message };
    let mut yaml = String::new();
    let mut names_line = None;
    let mut number = 0;
    for line in input.lines() {
        let line = line.map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        number += 1;
        if number == 1 {
            if !line.starts_with("# %ECSV ") {
                return Err(fault(1, "not an ECSV file: it does not start with '# %ECSV'".into()));
            }
            continue;
        }
        match line.strip_prefix('#') {
            Some(text) => {
                yaml.push_str(text.strip_prefix(' ').unwrap_or(text));
                yaml.push('\n');
            }
            None if line.trim().is_empty() => {}
            None => {
                names_line = Some(line);
                break;
            }
        }
    }
    let header_end = number;
    // yaml-rust2 counts lines from 1; line `n` of `used` stands at line `lines[n - 1] + 2` of
    // the file (its YAML starts after `# %ECSV`).
    let (used, lines) = used_sections(&yaml);
    let file_line = |yaml_line: usize| lines.get(yaml_line.saturating_sub(1)).map_or(2, |&l| l as u64 + 2);
    if let Some(line) = first_alias(&used) {
        return Err(fault(
            file_line(line),
            "the ECSV header uses a YAML alias (*name), which angcut does not expand: aliases can make a few bytes of header stand for gigabytes".into(),
        ));
    }
    let documents = YamlLoader::load_from_str(&used).map_err(|error| {
        fault(file_line(error.marker().line()), format!("the ECSV header is not valid YAML: {error}"))
    })?;
    let document = documents.first().ok_or_else(|| fault(2, "the ECSV header is empty".into()))?;

    let delimiter = match scalar_text(&document["delimiter"]).as_deref() {
        None | Some(" ") => b' ',
        Some(",") => b',',
        Some(other) => return Err(fault(2, format!("ECSV delimiter '{other}': ECSV allows only a space or a comma"))),
    };
    let columns = document["datatype"]
        .as_vec()
        .ok_or_else(|| fault(2, "the ECSV header has no 'datatype' list of columns".into()))?;
    let fields = columns.iter().enumerate().map(|(i, column)| declared_field(column, i)).collect::<Result<Vec<_>, _>>();
    let fields = fields.map_err(|message| fault(2, message))?;

    let names_line =
        names_line.ok_or_else(|| fault(header_end, "the ECSV file ends before its line of column names".into()))?;
    let mut names =
        csv::ReaderBuilder::new().delimiter(delimiter).has_headers(false).from_reader(names_line.as_bytes());
    let names: Vec<String> = match names.records().next() {
        Some(Ok(record)) => record.iter().map(str::to_string).collect(),
        _ => Vec::new(),
    };
    let declared: Vec<&String> = fields.iter().map(Field::name).collect();
    if names.iter().collect::<Vec<_>>() != declared {
        return Err(fault(
            header_end,
            format!(
                "the column names ({}) are not those the ECSV header declares ({})",
                names.join(", "),
                declared.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(EcsvHeader { schema: Schema::new(fields), delimiter })
}

/// The header's top-level sections that angcut reads (`delimiter`, `datatype`), and for each of
/// their lines its line in `yaml`. The rest (`meta`, `schema`: whatever a writer put there, such
/// as the Gaia archive's query as a block scalar astropy's YAML reader takes and yaml-rust2 does
/// not) is never parsed, so it cannot stop a read.
fn used_sections(yaml: &str) -> (String, Vec<usize>) {
    let (mut used, mut lines, mut keep) = (String::new(), Vec::new(), false);
    for (number, line) in yaml.lines().enumerate() {
        // A section starts at a key in the first column; list items and indented lines continue it.
        if line.starts_with(|c: char| !c.is_whitespace() && c != '-' && c != '#') || line.starts_with("---") {
            let key = line.split(':').next().unwrap_or("").trim();
            keep = matches!(key, "delimiter" | "datatype");
        }
        if keep {
            used.push_str(line);
            used.push('\n');
            lines.push(number);
        }
    }
    (used, lines)
}

/// The line (in `yaml`) of its first alias, if it has one.
fn first_alias(yaml: &str) -> Option<usize> {
    let mut parser = yaml_rust2::parser::Parser::new_from_str(yaml);
    loop {
        match parser.next_token() {
            Ok((yaml_rust2::Event::Alias(_), mark)) => return Some(mark.line()),
            Ok((yaml_rust2::Event::StreamEnd, _)) | Err(_) => return None, // a YAML error is the loader's to report
            Ok(_) => {}
        }
    }
}

/// The Arrow field of the `index`th entry of the header's `datatype` list, or what is wrong with it.
fn declared_field(column: &Yaml, index: usize) -> Result<Field, String> {
    let name = scalar_text(&column["name"]).ok_or_else(|| format!("ECSV column {} has no name", index + 1))?;
    let datatype = scalar_text(&column["datatype"]).ok_or_else(|| format!("ECSV column '{name}' has no datatype"))?;
    let data_type = match datatype.as_str() {
        "bool" => DataType::Boolean,
        "int8" => DataType::Int8,
        "int16" => DataType::Int16,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "uint8" => DataType::UInt8,
        "uint16" => DataType::UInt16,
        "uint32" => DataType::UInt32,
        "uint64" => DataType::UInt64,
        "float16" | "float32" => DataType::Float32,
        "float64" | "float128" => DataType::Float64,
        "string" => DataType::Utf8,
        complex if complex.starts_with("complex") => {
            return Err(format!("ECSV column '{name}' is {complex}: complex columns are not read"));
        }
        other => return Err(format!("ECSV column '{name}' has datatype '{other}', which ECSV 1.0 does not define")),
    };
    let mut metadata = HashMap::new();
    for (key, yaml_key) in [(UNIT_KEY, "unit"), (DESCRIPTION_KEY, "description"), (SUBTYPE_KEY, "subtype")] {
        if let Some(value) = scalar_text(&column[yaml_key]) {
            metadata.insert(key.to_string(), value);
        }
    }
    Ok(Field::new(name, data_type, true).with_metadata(metadata))
}

/// A YAML scalar as the text it was written as (`name: 1` is the name "1"); `None` for a
/// missing key, a null or a collection.
fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(text) | Yaml::Real(text) => Some(text.clone()),
        Yaml::Integer(number) => Some(number.to_string()),
        Yaml::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As astropy 6 writes a table with units, a description, a masked value and `meta`.
    const ASTROPY: &str = "# %ECSV 1.1
# ---
# datatype:
# - {name: ra, unit: deg, datatype: float64, description: Right ascension}
# - {name: dec, unit: deg, datatype: float64}
# - {name: mag, datatype: float32}
# - {name: id, datatype: uint32}
# - {name: name, datatype: string}
# - {name: vec, datatype: string, subtype: 'int64[2]'}
# meta: !!omap
# - {survey: test}
# schema: astropy-2.0
ra dec mag id name vec
10.5 -3.25 12.5 7 \"HD 1\" [1,2]
";

    #[test]
    fn declared_types_units_and_delimiter_are_read() {
        let header = read_header(Path::new("t.ecsv"), ASTROPY.as_bytes()).unwrap();
        assert_eq!(header.delimiter, b' ');
        let types: Vec<(&str, &DataType)> =
            header.schema.fields().iter().map(|f| (f.name().as_str(), f.data_type())).collect();
        assert_eq!(
            types,
            [
                ("ra", &DataType::Float64),
                ("dec", &DataType::Float64),
                ("mag", &DataType::Float32),
                ("id", &DataType::UInt32),
                ("name", &DataType::Utf8),
                ("vec", &DataType::Utf8),
            ]
        );
        let meta = |name: &str, key: &str| header.schema.field_with_name(name).unwrap().metadata().get(key).cloned();
        assert_eq!(meta("ra", UNIT_KEY).as_deref(), Some("deg"));
        assert_eq!(meta("ra", DESCRIPTION_KEY).as_deref(), Some("Right ascension"));
        assert_eq!(meta("mag", UNIT_KEY), None);
        assert_eq!(meta("vec", SUBTYPE_KEY).as_deref(), Some("int64[2]"));
    }

    #[test]
    fn comma_delimiter_and_numeric_names() {
        let text = "# %ECSV 1.0\n# ---\n# delimiter: ','\n# datatype:\n# - {name: 1, datatype: bool}\n1\nTrue\n";
        let header = read_header(Path::new("t.ecsv"), text.as_bytes()).unwrap();
        assert_eq!(header.delimiter, b',');
        assert_eq!(header.schema.field(0).name(), "1");
    }

    #[test]
    fn faults_name_the_line_and_the_column() {
        let fault = |text: &str| read_header(Path::new("t.ecsv"), text.as_bytes()).err().unwrap().to_string();
        let head = "# %ECSV 1.0\n# ---\n# datatype:\n";
        assert_eq!(
            fault(&format!("{head}# - {{name: z, datatype: complex128}}\nz\n")),
            "t.ecsv: line 2: ECSV column 'z' is complex128: complex columns are not read"
        );
        assert_eq!(
            fault(&format!("{head}# - {{name: a, datatype: float64}}\n# - {{name: b, datatype: float64}}\nb a\n")),
            "t.ecsv: line 6: the column names (b, a) are not those the ECSV header declares (a, b)"
        );
        assert!(fault(&format!("{head}# - {{name: a}}\na\n")).ends_with("ECSV column 'a' has no datatype"));
        assert!(
            fault(&format!("{head}# - {{name: a, datatype: float64}}\n"))
                .contains("ends before its line of column names")
        );
        assert!(fault("# %ECSV 1.0\n# ---\n# delimiter: ';'\n").contains("ECSV delimiter ';'"));
        assert!(fault("# %ECSV 1.0\n# ---\n# datatype: [\n").contains("not valid YAML"));
    }

    /// The Gaia archive's ECSV: its query, a literal block on the line after its key, at the
    /// key's indent (astropy reads it; yaml-rust2 would not), in `meta`, which angcut does not use.
    #[test]
    fn metadata_angcut_does_not_use_never_stops_a_read() {
        let text = "# %ECSV 1.0\n# ---\n# delimiter: ','\n# datatype:\n# - {name: source_id, datatype: int64}\n\
                    # - {name: ra, datatype: float64, unit: deg}\n# meta: !!omap\n# - QUERY:\n#   |\n\
                    #     SELECT TOP 10 source_id, ra\n#     FROM gaiadr3.gaia_source\n# - {name: \"&x [*x, *x]\"}\n\
                    # schema: astropy-2.0\nsource_id,ra\n1,2.5\n";
        let header = read_header(Path::new("gaia.ecsv"), text.as_bytes()).unwrap();
        assert_eq!(header.schema.fields().len(), 2);
        assert_eq!(header.delimiter, b',');
    }

    /// Found by fuzzing: nested aliases expanded without limit (482 bytes took 2 GB); refused now,
    /// at once, naming the line.
    #[test]
    fn aliases_are_refused_before_they_expand() {
        let mut text = String::from(
            "# %ECSV 1.0\n# ---\n# datatype:\n# - {name: a, datatype: float64}\n# delimiter:\n#   - &a [x, x, x, x, x, x, x, x]\n",
        );
        for k in 0..9 {
            let (this, prev) = (format!("b{k}"), if k == 0 { "a".to_string() } else { format!("b{}", k - 1) });
            text.push_str(&format!(
                "#   - &{this} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        text.push_str("a\n1\n");
        let started = std::time::Instant::now();
        let error = read_header(Path::new("t.ecsv"), text.as_bytes()).err().unwrap().to_string();
        assert!(error.contains("t.ecsv: line 7: the ECSV header uses a YAML alias"), "{error}");
        assert!(started.elapsed().as_secs() < 5);
        // An anchor or star inside a quoted string is text, not an alias.
        let quoted =
            "# %ECSV 1.0\n# ---\n# datatype:\n# - {name: a, datatype: float64, description: 'flux * 2 &b'}\na\n";
        assert!(read_header(Path::new("t.ecsv"), quoted.as_bytes()).is_ok());
    }
}
