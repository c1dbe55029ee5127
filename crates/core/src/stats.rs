//! The run's summary ([`summary_record`]): written as JSON by `--stats-json FILE`, for workflow
//! bookkeeping, and returned as a dict by Python's `angcut.stream`, one shape for both.
//!
//! Written by hand rather than with serde: a dozen flat fields do not need a dependency.

use std::fmt::Write as _;
use std::path::Path;

use crate::contaminants::{ContaminantSpec, RowRadius};
use crate::job::{StreamJob, Summary};
use crate::mask::area::{Area, AreaReport, SKY_DEG2};

/// One value of the summary: what JSON and Python both can hold.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// JSON `null`, Python `None`.
    Null,
    /// A count.
    Int(u64),
    /// JSON `true`/`false`, Python `bool`.
    Bool(bool),
    /// A number (written shortest; not finite is `null`).
    Number(f64),
    /// A duration in seconds (written with 6 decimals).
    Seconds(f64),
    /// A string (a path, a name).
    Text(String),
    /// A list of values.
    List(Vec<Value>),
    /// Named values, in order.
    Record(Vec<(&'static str, Value)>),
}

/// The summary of a run of `job`: the one shape that `--stats-json` writes and Python's
/// `angcut.stream` returns.
pub fn summary_record(job: &StreamJob, summary: &Summary) -> Value {
    use Value::{Int, Null, Record, Seconds, Text};
    let rejected = |counts: &crate::pipeline::Counts| if summary.rejected_output { Int(counts.rejected) } else { Null };
    let path = |p: &Path| Text(p.to_string_lossy().into_owned());
    let files = summary
        .files
        .iter()
        .map(|file| {
            let f = &file.counts;
            Record(vec![
                ("input", path(&file.task.input)),
                ("output", path(&file.task.output)),
                ("rejected_output", file.task.rejected.as_deref().map_or(Null, path)),
                ("rows_read", Int(f.read)),
                ("rows_removed", Int(f.removed)),
                ("rows_invalid", Int(f.invalid)),
                ("rows_written", Int(f.written)),
                ("rows_rejected", rejected(f)),
                ("row_groups", row_groups(file.row_groups.as_ref())),
                ("seconds", Seconds(file.seconds)),
            ])
        })
        .collect();
    let c = &summary.counts;
    Record(vec![
        ("angcut_version", Text(env!("CARGO_PKG_VERSION").into())),
        ("files", Value::List(files)),
        ("contaminant_file", job.contaminants.as_ref().map_or(Null, |c| path(&c.path))),
        ("mask_file", job.mask_file().map_or(Null, |spec| path(&spec.path))),
        ("contaminants", Int(summary.contaminants as u64)),
        // A mask's radii are its layers' own.
        ("radius", if job.mask_cut().is_some() { Null } else { radius(job.contaminants.as_ref(), summary) }),
        ("kernel", Text(summary.kernel.to_string())),
        ("layers", layers(job, summary)),
        ("rows_read", Int(c.read)),
        ("rows_removed", Int(c.removed)),
        ("rows_invalid", Int(c.invalid)),
        ("rows_written", Int(c.written)),
        ("rows_rejected", rejected(c)),
        ("row_groups", row_groups(summary.row_groups.as_ref())),
        ("seconds", Seconds(summary.seconds)),
    ])
}

/// What became of Parquet row groups copied from a Parquet input: how many were copied as stored
/// and how many filtered, and how many of the filtered ones' column chunks were decoded again;
/// null when nothing was copied so.
fn row_groups(counts: Option<&crate::io::write::RowGroupCounts>) -> Value {
    match counts {
        Some(c) => Value::Record(vec![
            ("copied", Value::Int(c.copied)),
            ("filtered", Value::Int(c.filtered)),
            ("reencoded_chunks", Value::Int(c.reencoded_chunks)),
            ("reencoded_because", c.reencoded_because.as_deref().map_or(Value::Null, |why| Value::Text(why.into()))),
        ]),
        None => Value::Null,
    }
}

/// The summary of `job` as one JSON object.
///
/// ```
/// use angcut::{SearchRadius, StreamOptions, stream_file};
/// use angcut::stats::summary_json;
/// # let dir = tempfile::tempdir().unwrap();
/// # let out = dir.path().join("kept.parquet");
/// let mut options = StreamOptions::new("fixtures/objects.parquet", &out, "fixtures/hip2_bright.parquet");
/// options.maxsep = Some(SearchRadius::parse("30arcsec").unwrap());
/// let job = options.plan().unwrap();
/// let json = summary_json(&job, &stream_file(&job).unwrap());
/// assert!(json.contains(r#""rows_read": 20000"#));
/// assert!(json.contains(r#""files": [
///     {"input": "fixtures/objects.parquet", "output": "#));
/// assert!(json.contains(r#""radius": {"kind": "uniform", "arcsec": 30"#));
/// ```
pub fn summary_json(job: &StreamJob, summary: &Summary) -> String {
    record_json(&summary_record(job, summary))
}

/// A randoms run's summary (`angcut randoms --stats-json`): the stream's, and how the points were
/// drawn (seed, rows, the area they were drawn in, whether a footprint bounded it).
pub fn randoms_json(job: &crate::randoms::RandomsJob, summary: &crate::randoms::RandomsSummary) -> String {
    use Value::{Bool, Int, Number, Record};
    let mut record = summary_record(job.stream_job(), &summary.summary);
    if let Record(fields) = &mut record {
        fields.push((
            "randoms",
            Record(vec![
                ("seed", Int(summary.seed)),
                ("rows", Int(summary.summary.counts.read)),
                ("area_deg2", Number(summary.area_deg2)),
                ("footprint", Bool(summary.footprint)),
            ]),
        ));
    }
    record_json(&record)
}

/// The areas of a mask's layers (`angcut area --json`): the order, then per layer its name,
/// bit, whether it is exact, its area and the cumulative area in deg² (lower, best, upper) and
/// as a fraction of the sky, then the union's.
pub fn area_record(report: &AreaReport) -> Value {
    use Value::{Bool, Int, List, Number, Record, Text};
    let area = |a: &Area| {
        Record(vec![
            ("lower_deg2", Number(a.lower)),
            ("best_deg2", Number(a.best)),
            ("upper_deg2", Number(a.upper)),
            ("sky_fraction", Number(a.best / SKY_DEG2)),
        ])
    };
    // Inside the footprint: the same, and the share of the footprint.
    let in_footprint = |a: &Area| {
        let share = report.footprint_deg2.filter(|f| *f > 0.0).map_or(0.0, |f| a.best / f);
        Record(vec![
            ("lower_deg2", Number(a.lower)),
            ("best_deg2", Number(a.best)),
            ("upper_deg2", Number(a.upper)),
            ("footprint_fraction", Number(share)),
        ])
    };
    let layers = report
        .layers
        .iter()
        .enumerate()
        .map(|(bit, l)| {
            let mut fields = vec![
                ("name", Text(l.name.clone())),
                ("bit", Int(bit as u64)),
                ("exact", Bool(l.exact)),
                ("area", area(&l.area)),
                ("cumulative", area(&l.cumulative)),
            ];
            if let (Some(a), Some(c)) = (&l.in_footprint, &l.cumulative_in_footprint) {
                fields.extend([("in_footprint", in_footprint(a)), ("cumulative_in_footprint", in_footprint(c))]);
            }
            Record(fields)
        })
        .collect();
    let mut fields =
        vec![("order", Int(u64::from(report.order))), ("layers", List(layers)), ("union", area(&report.union))];
    if let (Some(f), Some(u)) = (report.footprint_deg2, &report.union_in_footprint) {
        fields.extend([("footprint_deg2", Number(f)), ("union_in_footprint", in_footprint(u))]);
    }
    Record(fields)
}

/// A record as JSON: one field a line, a list one item a line, anything deeper on its line.
pub fn record_json(record: &Value) -> String {
    let Value::Record(fields) = record else {
        return format!("{}\n", inline(record));
    };
    // One field a line, a list one item a line, anything deeper on the item's line.
    let mut json = String::from("{\n");
    for (k, (name, value)) in fields.iter().enumerate() {
        let value = match value {
            Value::List(items) => {
                let items: Vec<String> = items.iter().map(|item| format!("    {}", inline(item))).collect();
                format!("[\n{}\n  ]", items.join(",\n"))
            }
            value => inline(value),
        };
        let comma = if k + 1 < fields.len() { "," } else { "" };
        let _ = writeln!(json, "  {}: {value}{comma}", quoted(name));
    }
    json.push_str("}\n");
    json
}

/// `value` as JSON on one line.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Int(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(x) => number(*x),
        Value::Seconds(s) => format!("{s:.6}"),
        Value::Text(text) => quoted(text),
        Value::List(items) => format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Value::Record(fields) => {
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{}: {}", quoted(k), inline(v))).collect();
            format!("{{{}}}", fields.join(", "))
        }
    }
}

/// Each layer of a mask: its name, bit, file, shapes and the rows inside it; `null` without one.
fn layers(job: &StreamJob, summary: &Summary) -> Value {
    use Value::{Int, Null, Record, Text};
    let Some(how) = job.mask_cut() else { return Null };
    let layers = summary
        .layers
        .iter()
        .enumerate()
        .map(|(bit, done)| {
            Record(vec![
                ("name", Text(done.name.clone())),
                ("bit", Int(bit as u64)),
                ("file", done.file.as_deref().map_or(Null, |p| Text(p.to_string_lossy().into_owned()))),
                ("cuts", Value::Bool(how.cut & (1 << bit) != 0)),
                ("contaminants", Int(done.contaminants as u64)),
                ("skipped", Int(done.skipped)),
                ("rows_inside", Int(done.rows)),
                ("pixels", done.pixels.clone().map_or(Null, Text)),
            ])
        })
        .collect();
    Value::List(layers)
}

fn radius(spec: Option<&ContaminantSpec>, summary: &Summary) -> Value {
    use Value::{Null, Number, Record, Text};
    let arcsec = |a: Option<crate::Angle>| a.map_or(Null, |a| Number(a.arcsec_rounded()));
    let maxsep = spec.and_then(|spec| spec.maxsep).map(|r| r.angle());
    // Contaminants given already indexed ([`crate::stream_with_index`]): no rule to tell.
    let Some(spec) = spec else {
        return Record(vec![("kind", Text("given".into())), ("largest_arcsec", arcsec(summary.largest_radius))]);
    };
    match &spec.row_radius {
        None => Record(vec![("kind", Text("uniform".into())), ("arcsec", arcsec(maxsep))]),
        Some(row) => {
            let (kind, column, rule) = match row {
                RowRadius::Column { name, .. } => ("column", name, Null),
                RowRadius::Magnitude { name, rule } => ("magnitude", name, Text(rule.to_string())),
            };
            Record(vec![
                ("kind", Text(kind.into())),
                ("column", Text(column.clone())),
                ("rule", rule),
                ("fill_arcsec", arcsec(maxsep)),
                ("largest_arcsec", arcsec(summary.largest_radius)),
            ])
        }
    }
}

/// A finite number as JSON (JSON has no NaN or infinity).
fn number(value: f64) -> String {
    if value.is_finite() { format!("{value}") } else { "null".into() }
}

/// `text` as a JSON string literal.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(quoted("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
        assert_eq!(number(f64::NAN), "null");
        assert_eq!(number(30.0), "30");
    }
}
