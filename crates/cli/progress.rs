//! The progress line `angcut stream` keeps on stderr while it runs, when stderr is a terminal.

use std::io::Write;
use std::time::{Duration, Instant};

use angcut::job::ProgressReport;

/// Redraws at most this often, so a fast run does not spend its time on the terminal.
const EVERY: Duration = Duration::from_millis(250);

/// One line, rewritten in place: rows and MB done (of the totals, when known), rate and time left.
pub struct ProgressLine {
    started: Instant,
    drawn: Option<Instant>,
}

impl Default for ProgressLine {
    fn default() -> ProgressLine {
        ProgressLine::new()
    }
}

impl ProgressLine {
    pub fn new() -> ProgressLine {
        ProgressLine { started: Instant::now(), drawn: None }
    }

    /// Redraws the line if enough time has passed since the last time.
    pub fn update(&mut self, report: &ProgressReport) {
        let now = Instant::now();
        if self.drawn.is_some_and(|last| now - last < EVERY) {
            return;
        }
        self.drawn = Some(now);
        let line = describe(report, now.duration_since(self.started).as_secs_f64());
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r{line}\x1b[K");
        let _ = stderr.flush();
    }

    /// Clears the line, so the summary (or an error) starts on a clean one.
    pub fn clear(&self) {
        if self.drawn.is_some() {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[K");
            let _ = stderr.flush();
        }
    }
}

/// "1,234,567 / 20,000,000 rows (6%), 52 / 840 MB, 2.1M rows/s, 9 s left", with "file 2/7: "
/// before it when there are several inputs; without a row total, rows, MB of input and rate.
/// MB done are estimated from the rows done, as row groups hold similar numbers of rows.
fn describe(report: &ProgressReport, seconds: f64) -> String {
    let rows = report.counts.read;
    let rate = if seconds > 0.0 { rows as f64 / seconds } else { 0.0 };
    let rate_text =
        if rate >= 1e6 { format!("{:.1}M rows/s", rate / 1e6) } else { format!("{:.0}k rows/s", rate / 1e3) };
    let file = if report.files > 1 { format!("file {}/{}: ", report.file + 1, report.files) } else { String::new() };
    match report.rows_total {
        Some(total) if total > 0 => {
            let done = rows.min(total) as f64 / total as f64;
            let left = if rate > 0.0 { total.saturating_sub(rows) as f64 / rate } else { 0.0 };
            format!(
                "angcut: {file}{} / {} rows ({:.0}%), {}, {rate_text}, {left:.0} s left",
                grouped(rows),
                grouped(total),
                100.0 * done,
                sizes(done * report.bytes_total as f64, report.bytes_total as f64),
            )
        }
        _ => format!("angcut: {file}{} rows, {rate_text}", grouped(rows)),
    }
}

/// "52 / 840 MB": bytes done of the total, in the unit that shows the total in a few digits (a
/// small file would otherwise read "0 / 0 MB").
fn sizes(done: f64, total: f64) -> String {
    let (scale, unit) = match total {
        t if t >= 1e10 => (1e9, "GB"),
        t if t >= 1e7 => (1e6, "MB"),
        t if t >= 1e4 => (1e3, "kB"),
        _ => (1.0, "bytes"),
    };
    format!("{:.0} / {:.0} {unit}", done / scale, total / scale)
}

/// 1234567 as "1,234,567".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_rows_rate_and_time_left() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(1_234_567), "1,234,567");
        let report = |read: u64, rows_total: Option<u64>, file: usize, files: usize| ProgressReport {
            counts: angcut::pipeline::Counts { read, ..Default::default() },
            rows_total,
            bytes_total: 840_000_000,
            file,
            files,
        };
        assert_eq!(
            describe(&report(1_000_000, Some(20_000_000), 0, 1), 0.5),
            "angcut: 1,000,000 / 20,000,000 rows (5%), 42 / 840 MB, 2.0M rows/s, 10 s left"
        );
        assert_eq!(
            describe(&report(10_000_000, Some(20_000_000), 2, 7), 4.0),
            "angcut: file 3/7: 10,000,000 / 20,000,000 rows (50%), 420 / 840 MB, 2.5M rows/s, 4 s left"
        );
        assert_eq!(describe(&report(50_000, None, 0, 1), 1.0), "angcut: 50,000 rows, 50k rows/s");
        // Small and huge inputs in a unit that shows them.
        assert_eq!(sizes(120_000.0, 480_000.0), "120 / 480 kB");
        assert_eq!(sizes(100.0, 900.0), "100 / 900 bytes");
        assert_eq!(sizes(1.3e10, 2.6e10), "13 / 26 GB");
        assert_eq!(sizes(5e6, 9.9e6), "5000 / 9900 kB");
    }
}
