//! The progress line `angcut stream` keeps on stderr while it runs, when stderr is a terminal.

use std::io::Write;
use std::time::{Duration, Instant};

use angcut::pipeline::Counts;

/// Redraws at most this often, so a fast run does not spend its time on the terminal.
const EVERY: Duration = Duration::from_millis(250);

/// One line, rewritten in place: rows done (of the total, when known), rate and time left.
pub struct ProgressLine {
    started: Instant,
    drawn: Option<Instant>,
}

impl ProgressLine {
    pub fn new() -> ProgressLine {
        ProgressLine { started: Instant::now(), drawn: None }
    }

    /// Redraws the line if enough time has passed since the last time.
    pub fn update(&mut self, counts: &Counts, total: Option<u64>) {
        let now = Instant::now();
        if self.drawn.is_some_and(|last| now - last < EVERY) {
            return;
        }
        self.drawn = Some(now);
        let line = describe(counts.read, total, now.duration_since(self.started).as_secs_f64());
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

/// "1,234,567 / 20,000,000 rows (6%), 2.1M rows/s, 9 s left"; without a total, rows and rate.
fn describe(rows: u64, total: Option<u64>, seconds: f64) -> String {
    let rate = if seconds > 0.0 { rows as f64 / seconds } else { 0.0 };
    let rate_text =
        if rate >= 1e6 { format!("{:.1}M rows/s", rate / 1e6) } else { format!("{:.0}k rows/s", rate / 1e3) };
    match total {
        Some(total) if total > 0 => {
            let left = if rate > 0.0 { total.saturating_sub(rows) as f64 / rate } else { 0.0 };
            format!(
                "angcut: {} / {} rows ({:.0}%), {rate_text}, {:.0} s left",
                grouped(rows),
                grouped(total),
                100.0 * rows as f64 / total as f64,
                left
            )
        }
        _ => format!("angcut: {} rows, {rate_text}", grouped(rows)),
    }
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
        assert_eq!(
            describe(1_000_000, Some(20_000_000), 0.5),
            "angcut: 1,000,000 / 20,000,000 rows (5%), 2.0M rows/s, 10 s left"
        );
        assert_eq!(describe(50_000, None, 1.0), "angcut: 50,000 rows, 50k rows/s");
    }
}
