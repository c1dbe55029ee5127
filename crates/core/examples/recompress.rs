//! What filtering a Parquet file's pages costs at the least: every data and dictionary page of
//! every column chunk compressed again with zstd, and decompressed, on all cores, with nothing
//! filtered, checked or written: what angcut's copy route does to each page that loses a row,
//! and nothing else. A cut whose removed rows touch every page pays this on top of the reading
//! and the queries a flag-only run does; `scripts/bench.sh` times it beside both.
//!
//! ```text
//! cargo run --release --example recompress -- FILE.parquet [compress|decompress] [LEVEL]
//! ```
//!
//! The pages are first decompressed (by the parquet crate, untimed) and held in memory (as much
//! memory as the file's data decompressed: a benchmark's tool, not angcut's way). Then, timed
//! apart: all of them compressed at zstd LEVEL (default 1, the level angcut's copy route
//! writes), then those compressed pages decompressed, as angcut's page codec does both (one
//! reused context per thread). Prints the seconds and sizes of each step, and on stderr
//! `elapsed_us=` of the step named (compress by default), which `scripts/bench.sh` records.

use std::cell::RefCell;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use parquet::column::page::PageReader;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::serialized_reader::SerializedPageReader;
use rayon::prelude::*;

thread_local! {
    /// Each thread's zstd contexts, made once, as angcut's page codec keeps them.
    static ZSTD: RefCell<Option<(zstd::bulk::Compressor<'static>, zstd::bulk::Decompressor<'static>)>> =
        const { RefCell::new(None) };
}

/// Runs `job` with this thread's zstd contexts (the compressor at `level`).
fn with_zstd<T>(
    level: i32,
    job: impl FnOnce(&mut zstd::bulk::Compressor<'static>, &mut zstd::bulk::Decompressor<'static>) -> std::io::Result<T>,
) -> std::io::Result<T> {
    ZSTD.with(|cell| {
        let mut slot = cell.borrow_mut();
        let (compressor, decompressor) = match slot.as_mut() {
            Some(contexts) => contexts,
            None => slot.insert((zstd::bulk::Compressor::new(level)?, zstd::bulk::Decompressor::new()?)),
        };
        job(compressor, decompressor)
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: recompress FILE.parquet [compress|decompress] [LEVEL]";
    let path = PathBuf::from(args.next().ok_or(usage)?);
    let timed_step = args.next().unwrap_or_else(|| "compress".into());
    if timed_step != "compress" && timed_step != "decompress" {
        return Err(usage.into());
    }
    let level: i32 = args.next().map_or(Ok(1), |level| level.parse()).map_err(|_| usage)?;
    let reader = SerializedFileReader::new(File::open(&path)?)?;
    let metadata = reader.metadata();
    let chunks: Vec<(usize, usize)> = (0..metadata.num_row_groups())
        .flat_map(|group| (0..metadata.row_group(group).num_columns()).map(move |column| (group, column)))
        .collect();
    let stored: i64 = chunks.iter().map(|&(g, c)| metadata.row_group(g).column(c).compressed_size()).sum();

    // Every page decompressed, a column chunk per task.
    let pages: Vec<Vec<u8>> = chunks
        .par_iter()
        .map(|&(group, column)| -> Result<Vec<Vec<u8>>, String> {
            // A descriptor of its own: readers of one `File` share its offset.
            let file = Arc::new(File::open(&path).map_err(|e| e.to_string())?);
            let chunk = metadata.row_group(group).column(column);
            let rows = metadata.row_group(group).num_rows() as usize;
            let mut reader = SerializedPageReader::new(file, chunk, rows, None).map_err(|e| e.to_string())?;
            let mut pages = Vec::new();
            while let Some(page) = reader.get_next_page().map_err(|e| e.to_string())? {
                pages.push(page.buffer().to_vec());
            }
            Ok(pages)
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    let decompressed: usize = pages.iter().map(Vec::len).sum();

    let start = Instant::now();
    let compressed: Vec<Vec<u8>> =
        pages.par_iter().map(|page| with_zstd(level, |c, _| c.compress(page))).collect::<Result<_, _>>()?;
    let compressing = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let back: usize = (compressed.par_iter().zip(&pages))
        .map(|(bytes, page)| with_zstd(level, |_, d| d.decompress(bytes, page.len())).map(|b| b.len()))
        .try_reduce(|| 0, |a, b| Ok(a + b))?;
    let decompressing = start.elapsed().as_secs_f64();
    if back != decompressed {
        return Err("pages decompressed to other sizes".into());
    }

    let step = if timed_step == "compress" { compressing } else { decompressing };
    eprintln!("elapsed_us={}", (step * 1e6) as u64);
    let mb = |bytes: usize| bytes as f64 / 1e6;
    println!(
        "{}: {} pages, {:.1} MB stored, {:.1} MB decompressed; on {} threads, zstd level {level}: \
         compressed in {compressing:.3} s to {:.1} MB, decompressed in {decompressing:.3} s",
        path.display(),
        pages.len(),
        stored as f64 / 1e6,
        mb(decompressed),
        rayon::current_num_threads(),
        mb(compressed.iter().map(Vec::len).sum()),
    );
    Ok(())
}
