//! Arbitrary bytes as a catalogue file: recognised by content (Parquet, Arrow IPC file or stream,
//! FITS, gzipped FITS, CSV, ECSV, IPAC), its batches read, its coordinate columns found and read, and the same bytes as a
//! contaminant file with a radius column. Every failure must be an `Err` naming the file: a panic
//! that escapes angcut's containment is a finding.
#![no_main]

use std::path::Path;
use std::sync::Once;

use angcut::columns::CoordinateColumns;
use angcut::io::read::open_catalogue;
use angcut::{Angle, ContaminantSet, ContaminantSpec, RowRadius, SearchRadius};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // angcut contains the decoders' panics with catch_unwind and reports them as corrupt files;
    // libFuzzer's hook would abort on them first, so use a silent one (an escaped panic still
    // unwinds out of this function and is reported by libfuzzer-sys).
    static SILENT_HOOK: Once = Once::new();
    SILENT_HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("input.parquet");
    std::fs::write(&path, data).expect("write the input");
    read_as_catalogue(&path);
    read_as_contaminants(&path);
});

fn read_as_catalogue(path: &Path) {
    let Ok(mut catalogue) = open_catalogue(path, 1_024, None) else {
        return;
    };
    let schema = catalogue.source.schema();
    let columns = CoordinateColumns::resolve(&schema, path, None, None, ("--ra", "--dec")).ok();
    let mut rows = 0u64;
    while let Some(batch) = catalogue.source.next_batch() {
        let Ok(batch) = batch else {
            return;
        };
        rows += batch.num_rows() as u64;
        if let Some(columns) = &columns {
            let _ = columns.read(&batch, path);
        }
        if rows > 10_000_000 {
            return;
        }
    }
}

fn read_as_contaminants(path: &Path) {
    let mut spec = ContaminantSpec::uniform(path, SearchRadius::parse("30arcsec").expect("a radius"));
    let _ = ContaminantSet::read(&spec);
    spec.row_radius = Some(RowRadius::Column { name: "r".into(), unit: Angle::from_arcsec(1.0), min: None, max: None });
    let _ = ContaminantSet::read(&spec);
}
