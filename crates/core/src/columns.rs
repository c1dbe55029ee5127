//! Schema handling: finding the coordinate columns by name, reading positions from them, and
//! telling how two inputs' columns differ.

use std::path::Path;

use arrow::array::{Array, AsArray, Float64Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Schema};

use crate::error::Error;
use crate::sky::{UnitVector, unit_vector};

/// Names tried, in any case, when no RA column is named.
/// Besides the plain names: `alpha_j2000` (SExtractor), `ra_icrs` (Gaia through VizieR), `radeg`
/// (VizieR's computed positions). A table with two of them (VizieR gives both `RA_ICRS` and
/// `RAJ2000`) must say which with `--ra`: they can differ by the proper motion since the epoch.
pub const DEFAULT_RA_NAMES: &[&str] = &["ra", "ra_deg", "raj2000", "alpha_j2000", "ra_icrs", "radeg"];
/// Names tried, in any case, when no Dec column is named.
pub const DEFAULT_DEC_NAMES: &[&str] =
    &["dec", "dec_deg", "dej2000", "decj2000", "delta_j2000", "de_icrs", "dec_icrs", "dedeg"];

/// Which coordinate a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    /// Right ascension.
    Ra,
    /// Declination.
    Dec,
}

/// Why a position cannot be placed on the sphere.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Invalid {
    /// The coordinate is null.
    Null(Axis),
    /// The coordinate is NaN.
    NaN(Axis),
    /// The coordinate is infinite.
    Infinite(Axis),
    /// The declination lies outside [-90, 90] degrees.
    DecOutOfRange(f64),
}

impl Invalid {
    /// The coordinate at fault.
    pub fn axis(self) -> Axis {
        match self {
            Invalid::Null(axis) | Invalid::NaN(axis) | Invalid::Infinite(axis) => axis,
            Invalid::DecOutOfRange(_) => Axis::Dec,
        }
    }

    /// What is wrong, in words for a message ("the value is NaN").
    pub fn describe(self) -> String {
        match self {
            Invalid::Null(_) => "the value is null".to_string(),
            Invalid::NaN(_) => "the value is NaN".to_string(),
            Invalid::Infinite(_) => "the value is infinite".to_string(),
            Invalid::DecOutOfRange(dec) => format!("declination {dec} is outside [-90, 90]"),
        }
    }
}

/// Checks one position and turns it into a unit vector. Any finite RA is fine (it wraps).
#[inline]
pub fn position(ra: Option<f64>, dec: Option<f64>) -> Result<UnitVector, Invalid> {
    checked(ra, dec).map(|(ra, dec)| unit_vector(ra, dec))
}

/// Checks one position ([`position`] without the vector): its (RA, Dec) in degrees.
#[inline]
pub fn checked(ra: Option<f64>, dec: Option<f64>) -> Result<(f64, f64), Invalid> {
    let ra = ra.ok_or(Invalid::Null(Axis::Ra))?;
    let dec = dec.ok_or(Invalid::Null(Axis::Dec))?;
    for (value, axis) in [(ra, Axis::Ra), (dec, Axis::Dec)] {
        if value.is_nan() {
            return Err(Invalid::NaN(axis));
        }
        if value.is_infinite() {
            return Err(Invalid::Infinite(axis));
        }
    }
    if !(-90.0..=90.0).contains(&dec) {
        return Err(Invalid::DecOutOfRange(dec));
    }
    Ok((ra, dec))
}

/// The two coordinate columns of a catalogue, by index in its schema and by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinateColumns {
    /// The RA column's index in the schema.
    pub ra: usize,
    /// The Dec column's index in the schema.
    pub dec: usize,
    /// The RA column's name, for messages.
    pub ra_name: String,
    /// The Dec column's name, for messages.
    pub dec_name: String,
}

impl CoordinateColumns {
    /// Finds the coordinate columns in `schema` of the file `path`.
    ///
    /// A named column is matched exactly, else case-insensitively if that is unambiguous. With no
    /// name, the defaults ([`DEFAULT_RA_NAMES`], [`DEFAULT_DEC_NAMES`]) are tried in any case, and
    /// exactly one must match. `flags` names the options that set them, for the error message.
    pub fn resolve(
        schema: &Schema,
        path: &Path,
        ra: Option<&str>,
        dec: Option<&str>,
        flags: (&str, &str),
    ) -> Result<CoordinateColumns, Error> {
        let ra = find_column(schema, path, ra, DEFAULT_RA_NAMES, "RA", flags.0)?;
        let dec = find_column(schema, path, dec, DEFAULT_DEC_NAMES, "Dec", flags.1)?;
        if ra == dec {
            return Err(column_error(
                schema,
                path,
                format!("RA and Dec are both column '{}'", schema.field(ra).name()),
            ));
        }
        for index in [ra, dec] {
            let field = schema.field(index);
            if !is_coordinate_type(field.data_type()) {
                return Err(Error::ColumnType {
                    path: path.to_path_buf(),
                    column: field.name().clone(),
                    data_type: field.data_type().clone(),
                });
            }
        }
        Ok(CoordinateColumns {
            ra,
            dec,
            ra_name: schema.field(ra).name().clone(),
            dec_name: schema.field(dec).name().clone(),
        })
    }

    /// The name of the column holding `axis`.
    pub fn name(&self, axis: Axis) -> &str {
        match axis {
            Axis::Ra => &self.ra_name,
            Axis::Dec => &self.dec_name,
        }
    }

    /// The two columns of `batch` as float64 degrees.
    pub fn read(&self, batch: &RecordBatch, path: &Path) -> Result<(Float64Array, Float64Array), Error> {
        Ok((as_f64(batch.column(self.ra), path)?, as_f64(batch.column(self.dec), path)?))
    }
}

fn is_coordinate_type(data_type: &DataType) -> bool {
    data_type.is_integer()
        || data_type.is_floating()
        || matches!(data_type, DataType::Decimal128(..) | DataType::Decimal256(..))
}

/// A numeric column (float, integer or decimal) as float64; any other type is an error naming
/// the column.
pub fn read_f64(column: &dyn Array, path: &Path, name: &str) -> Result<Float64Array, Error> {
    if !is_coordinate_type(column.data_type()) {
        return Err(Error::ColumnType {
            path: path.to_path_buf(),
            column: name.to_string(),
            data_type: column.data_type().clone(),
        });
    }
    as_f64(column, path)
}

/// Finds the column `name` (exactly, or in another case if that is unambiguous) that the option
/// `flag` named.
pub fn find_named_column(schema: &Schema, path: &Path, name: &str, flag: &str) -> Result<usize, Error> {
    find_column(schema, path, Some(name), &[], "", flag)
}

fn as_f64(column: &dyn Array, path: &Path) -> Result<Float64Array, Error> {
    let cast = cast(column, &DataType::Float64).map_err(|source| Error::Arrow { path: path.to_path_buf(), source })?;
    // `cast` to Float64 always yields a Float64Array.
    Ok(cast.as_primitive::<Float64Type>().clone())
}

fn column_error(schema: &Schema, path: &Path, what: String) -> Error {
    Error::Column {
        path: path.to_path_buf(),
        what,
        available: schema.fields().iter().map(|f| f.name().clone()).collect(),
    }
}

fn find_column(
    schema: &Schema,
    path: &Path,
    requested: Option<&str>,
    defaults: &[&str],
    role: &str,
    flag: &str,
) -> Result<usize, Error> {
    let fields = schema.fields();
    if let Some(name) = requested {
        if let Some(exact) = fields.iter().position(|f| f.name() == name) {
            return Ok(exact);
        }
        let folded: Vec<usize> = (0..fields.len()).filter(|&i| fields[i].name().eq_ignore_ascii_case(name)).collect();
        return match folded.as_slice() {
            [one] => Ok(*one),
            [] => Err(column_error(schema, path, format!("no column '{name}' (given by {flag})"))),
            _ => Err(column_error(
                schema,
                path,
                format!("'{name}' (given by {flag}) matches several columns when case is ignored; give the exact name"),
            )),
        };
    }
    let matches: Vec<usize> =
        (0..fields.len()).filter(|&i| defaults.iter().any(|d| fields[i].name().eq_ignore_ascii_case(d))).collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(column_error(
            schema,
            path,
            format!("no {role} column found (looked for {} in any case); name it with {flag}", defaults.join(", ")),
        )),
        several => Err(column_error(
            schema,
            path,
            format!(
                "several columns could be {role} ({}); choose one with {flag}",
                several.iter().map(|&i| fields[i].name().as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// How `other` differs from `first` in its columns (names, order and types; nullability and
/// metadata may differ), said in words; `None` if it does not.
pub fn schema_difference(first: &Schema, other: &Schema) -> Option<String> {
    for (i, field) in other.fields().iter().enumerate() {
        match first.fields().get(i) {
            Some(expected) if expected.name() == field.name() => {
                if expected.data_type() != field.data_type() {
                    return Some(format!(
                        "column '{}' is {} here but {} there",
                        field.name(),
                        field.data_type(),
                        expected.data_type()
                    ));
                }
            }
            expected => {
                let moved = first.index_of(field.name()).is_ok();
                let expected = expected.map_or("no column".to_string(), |e| format!("'{}'", e.name()));
                return Some(if moved {
                    format!(
                        "column {} is '{}' here but {expected} there (columns in another order)",
                        i + 1,
                        field.name()
                    )
                } else {
                    format!("column '{}' is not there (column {} there is {expected})", field.name(), i + 1)
                });
            }
        }
    }
    let missing = first.fields().iter().skip(other.fields().len()).map(|f| f.name().as_str()).collect::<Vec<_>>();
    (!missing.is_empty()).then(|| format!("columns {} are missing here", missing.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;

    #[test]
    fn schema_differences_are_said_in_words() {
        let a = schema(&["ra", "dec", "mag"]);
        assert_eq!(schema_difference(&a, &a), None);
        let nullable = Schema::new(vec![
            Field::new("ra", DataType::Float64, false),
            Field::new("dec", DataType::Float64, false),
            Field::new("mag", DataType::Float64, false),
        ]);
        assert_eq!(schema_difference(&a, &nullable), None, "nullability may differ");
        let typed = Schema::new(vec![
            Field::new("ra", DataType::Float64, true),
            Field::new("dec", DataType::Float64, true),
            Field::new("mag", DataType::Float32, true),
        ]);
        assert_eq!(schema_difference(&a, &typed).unwrap(), "column 'mag' is Float32 here but Float64 there");
        assert_eq!(schema_difference(&a, &schema(&["ra", "dec"])).unwrap(), "columns mag are missing here");
        assert_eq!(
            schema_difference(&a, &schema(&["ra", "dec", "mag", "flux"])).unwrap(),
            "column 'flux' is not there (column 4 there is no column)"
        );
        assert_eq!(
            schema_difference(&a, &schema(&["dec", "ra", "mag"])).unwrap(),
            "column 1 is 'dec' here but 'ra' there (columns in another order)"
        );
    }

    fn schema(names: &[&str]) -> Schema {
        Schema::new(names.iter().map(|n| Field::new(*n, DataType::Float64, true)).collect::<Vec<_>>())
    }

    fn resolve(names: &[&str], ra: Option<&str>, dec: Option<&str>) -> Result<(String, String), String> {
        CoordinateColumns::resolve(&schema(names), Path::new("cat.parquet"), ra, dec, ("--ra", "--dec"))
            .map(|c| (c.ra_name, c.dec_name))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn finds_default_names_in_any_case() {
        let pair = |a: &str, b: &str| Ok((a.to_string(), b.to_string()));
        assert_eq!(resolve(&["id", "RA", "Dec"], None, None), pair("RA", "Dec"));
        assert_eq!(resolve(&["ra_deg", "dec_deg", "mag"], None, None), pair("ra_deg", "dec_deg"));
        assert_eq!(resolve(&["RAJ2000", "DEJ2000"], None, None), pair("RAJ2000", "DEJ2000"));
        assert_eq!(resolve(&["alpha", "delta"], Some("alpha"), Some("DELTA")), pair("alpha", "delta"));
        // SExtractor, Gaia through VizieR, VizieR's computed positions.
        assert_eq!(resolve(&["ALPHA_J2000", "DELTA_J2000", "FLUX"], None, None), pair("ALPHA_J2000", "DELTA_J2000"));
        assert_eq!(resolve(&["Source", "RA_ICRS", "DE_ICRS"], None, None), pair("RA_ICRS", "DE_ICRS"));
        assert_eq!(resolve(&["_RAJ2000", "RAdeg", "DEdeg"], None, None), pair("RAdeg", "DEdeg"));
        // VizieR's Gaia tables hold positions at two epochs: which one is the user's to say.
        let err = resolve(&["RA_ICRS", "DE_ICRS", "RAJ2000", "DEJ2000"], None, None).unwrap_err();
        assert!(err.contains("several columns could be RA (RA_ICRS, RAJ2000); choose one with --ra"), "{err}");
    }

    #[test]
    fn missing_or_ambiguous_columns_list_what_exists() {
        let err = resolve(&["id", "alpha", "delta"], None, None).unwrap_err();
        assert!(err.contains("cat.parquet") && err.contains("no RA column") && err.contains("--ra"), "{err}");
        assert!(err.contains("available columns: id, alpha, delta"), "{err}");
        let err = resolve(&["ra", "RA_deg", "dec"], None, None).unwrap_err();
        assert!(err.contains("several columns could be RA (ra, RA_deg)"), "{err}");
        let err = resolve(&["ra", "dec"], Some("alpha"), None).unwrap_err();
        assert!(err.contains("no column 'alpha' (given by --ra)"), "{err}");
        let err = resolve(&["Ra", "RA", "dec"], Some("rA"), None).unwrap_err();
        assert!(err.contains("several columns"), "{err}");
        let err = resolve(&["ra", "dec"], Some("ra"), Some("ra")).unwrap_err();
        assert!(err.contains("both column 'ra'"), "{err}");
    }

    #[test]
    fn non_numeric_coordinates_are_refused() {
        let schema =
            Schema::new(vec![Field::new("ra", DataType::Utf8, true), Field::new("dec", DataType::Float32, true)]);
        let err =
            CoordinateColumns::resolve(&schema, Path::new("x.parquet"), None, None, ("--ra", "--dec")).unwrap_err();
        assert!(matches!(err, Error::ColumnType { ref column, .. } if column == "ra"), "{err}");
    }

    #[test]
    fn positions_are_checked() {
        assert!(position(Some(400.0), Some(-90.0)).is_ok());
        assert_eq!(position(None, Some(0.0)), Err(Invalid::Null(Axis::Ra)));
        assert_eq!(position(Some(1.0), None), Err(Invalid::Null(Axis::Dec)));
        assert_eq!(position(Some(f64::NAN), Some(0.0)), Err(Invalid::NaN(Axis::Ra)));
        assert_eq!(position(Some(0.0), Some(f64::INFINITY)), Err(Invalid::Infinite(Axis::Dec)));
        assert_eq!(position(Some(0.0), Some(90.5)), Err(Invalid::DecOutOfRange(90.5)));
        assert_eq!(Invalid::DecOutOfRange(90.5).describe(), "declination 90.5 is outside [-90, 90]");
    }
}
