//! The run's summary as JSON (`--stats-json FILE`), for workflow bookkeeping.
//!
//! Written by hand rather than with serde: a dozen flat fields do not need a dependency.

use std::fmt::Write as _;
use std::path::Path;

use crate::contaminants::{ContaminantSpec, RowRadius};
use crate::job::{StreamJob, Summary};

/// The summary of `job` as one JSON object.
///
/// ```
/// use angcut::{Angle, StreamJob, stream_file};
/// use angcut::stats::summary_json;
/// # let dir = tempfile::tempdir().unwrap();
/// # let out = dir.path().join("kept.parquet");
/// let job = StreamJob::new("fixtures/objects.parquet", &out, "fixtures/hip2_bright.parquet", Angle::from_arcsec(30.0));
/// let json = summary_json(&job, &stream_file(&job).unwrap());
/// assert!(json.contains(r#""rows_read": 20000"#));
/// assert!(json.contains(r#""files": [
///     {"input": "fixtures/objects.parquet", "output": "#));
/// assert!(json.contains(r#""radius": {"kind": "uniform", "arcsec": 30"#));
/// ```
pub fn summary_json(job: &StreamJob, summary: &Summary) -> String {
    let c = &summary.counts;
    let rejected = |counts: &crate::pipeline::Counts| {
        if summary.rejected_output { counts.rejected.to_string() } else { "null".into() }
    };
    let files = summary
        .files
        .iter()
        .map(|file| {
            let f = &file.counts;
            format!(
                "    {{\"input\": {}, \"output\": {}, \"rejected_output\": {}, \"rows_read\": {}, \"rows_removed\": {}, \"rows_invalid\": {}, \"rows_written\": {}, \"rows_rejected\": {}, \"seconds\": {:.6}}}",
                path(&file.task.input),
                path(&file.task.output),
                file.task.rejected.as_deref().map_or("null".into(), path),
                f.read,
                f.removed,
                f.invalid,
                f.written,
                rejected(f),
                file.seconds
            )
        })
        .collect::<Vec<_>>();
    let mut json = String::from("{\n");
    let mut field = |name: &str, value: String| {
        let _ = writeln!(json, "  \"{name}\": {value},");
    };
    field("angcut_version", quoted(env!("CARGO_PKG_VERSION")));
    field("files", format!("[\n{}\n  ]", files.join(",\n")));
    field("contaminant_file", path(&job.contaminants.path));
    field("contaminants", summary.contaminants.to_string());
    field("radius", radius(&job.contaminants, summary));
    field("kernel", quoted(&summary.kernel.to_string()));
    field("rows_read", c.read.to_string());
    field("rows_removed", c.removed.to_string());
    field("rows_invalid", c.invalid.to_string());
    field("rows_written", c.written.to_string());
    field("rows_rejected", rejected(c));
    field("seconds", format!("{:.6}", summary.seconds));
    // The last field has no trailing comma.
    json.truncate(json.trim_end_matches([',', '\n']).len());
    json.push_str("\n}\n");
    json
}

fn radius(spec: &ContaminantSpec, summary: &Summary) -> String {
    let arcsec = |a: Option<crate::Angle>| a.map_or("null".to_string(), |a| number(a.arcsec()));
    match &spec.row_radius {
        // Contaminants given already indexed ([`crate::stream_with_index`]): no rule to tell.
        None if spec.maxsep.is_none() => {
            format!("{{\"kind\": \"given\", \"largest_arcsec\": {}}}", arcsec(summary.largest_radius))
        }
        None => format!("{{\"kind\": \"uniform\", \"arcsec\": {}}}", arcsec(spec.maxsep)),
        Some(row) => {
            let (kind, column, rule) = match row {
                RowRadius::Column { name, .. } => ("column", name, "null".to_string()),
                RowRadius::Magnitude { name, rule } => ("magnitude", name, quoted(&rule.to_string())),
            };
            format!(
                "{{\"kind\": \"{kind}\", \"column\": {}, \"rule\": {rule}, \"fill_arcsec\": {}, \"largest_arcsec\": {}}}",
                quoted(column),
                arcsec(spec.maxsep),
                arcsec(summary.largest_radius)
            )
        }
    }
}

/// A finite number as JSON (JSON has no NaN or infinity).
fn number(value: f64) -> String {
    if value.is_finite() { format!("{value}") } else { "null".into() }
}

fn path(p: &Path) -> String {
    quoted(&p.to_string_lossy())
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
