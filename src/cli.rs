//! The command line: argument definitions (clap) and their translation into library calls.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::file_plan::plan_out_dir;
use crate::job::{DEFAULT_BATCH_SIZE, ProgressReport};
use crate::output::{DEFAULT_ROW_GROUP_SIZE, OutputCompression, OutputFormat, ParquetOutputOptions};
use crate::pipeline::default_threads;
use crate::star_mask::{MagnitudeRule, PowerLaw};
use crate::synthetic::{Catalogue, Sky, TableSchema, write_catalogue};
use crate::{
    Angle, ContaminantSpec, CutOptions, FileTask, KernelChoice, OnInvalid, PipelineOptions, RowRadius, Selection,
    StreamJob, stream_file, stream_file_with_progress,
};

#[derive(Debug, Parser)]
#[command(
    name = "angcut",
    version,
    about = "Remove catalogue objects near contaminants on the sky, streaming Parquet."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size difference between the variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Copy IN to OUT without the objects closer than MAXSEP to any contaminant.
    #[command(after_help = STREAM_EXAMPLES, override_usage = STREAM_USAGE)]
    Stream(StreamArgs),
    /// Write a deterministic synthetic catalogue (for tests and benchmarks).
    Gen(GenArgs),
}

const STREAM_USAGE: &str =
    "angcut stream [OPTIONS] -c FILE <--maxsep ANGLE|--radius-col COL|--radius-from-mag COL> IN OUT
       angcut stream [OPTIONS] -c FILE <--maxsep ANGLE|...> --out-dir DIR IN...";

const STREAM_EXAMPLES: &str = "Examples:
  angcut stream galaxies.parquet clean.parquet --contaminants stars.parquet --maxsep 30arcsec
  angcut stream in.parquet out.parquet -c hip.parquet --maxsep 2.5arcmin --ra RAJ2000 --dec DEJ2000
  angcut stream in.parquet out.parquet -c stars.parquet --maxsep 1deg --on-invalid keep --threads 1
  angcut stream in.parquet out.parquet -c mask.parquet --radius-col r_arcsec
  angcut stream in.parquet near.parquet -c stars.parquet --maxsep 1arcmin --invert --nearest-columns --contaminant-id hip
  angcut stream in.parquet flagged.parquet -c stars.parquet --maxsep 1arcmin --flag-column near_star
  angcut stream in.parquet clean.parquet -c stars.parquet --maxsep 1arcmin --rejected removed.parquet
  angcut stream in.parquet - -c bright.csv --maxsep 1arcmin | angcut stream - clean.parquet -c artefacts.parquet --maxsep 5arcsec
  angcut stream in.parquet out.parquet -c hip.parquet --radius-from-mag hpmag --max-radius 0.5deg
  angcut stream tile1.parquet tile2.parquet survey_hats/dataset --out-dir clean -c stars.parquet --maxsep 30arcsec
  angcut stream in.parquet out.parquet -c hsc_stars.parquet --radius-from-mag g --mag-radius 200,0.25,7 --mag-radius 10,0.1,0";

#[derive(Debug, Args)]
pub struct StreamArgs {
    /// IN OUT: the object catalogue to cut (Parquet or Arrow IPC file or stream, by content; '-' reads an Arrow IPC stream from stdin) and where to write the kept objects (replaced only when the run succeeds; format from the name: .parquet, .arrow/.feather/.ipc, .arrows, or --output-format; '-' writes an Arrow IPC stream to stdout). With --out-dir: any number of INs, files or directories of *.parquet files.
    #[arg(value_name = "PATHS", required = true)]
    pub paths: Vec<PathBuf>,
    /// Cut every IN (a directory: every *.parquet file below it, partition folders included) into DIR under the same relative name. The contaminant index is built once; the outputs appear only when all inputs succeeded.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// The contaminant positions: Parquet, Arrow IPC, or CSV with a header.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub contaminants: PathBuf,
    /// Remove objects strictly closer than this to any contaminant: 30arcsec, 2.5arcmin, 1deg, 0.1rad, 500mas; a bare number is degrees. 0 < ANGLE <= 180deg. With --radius-col or --radius-from-mag, the radius of contaminants whose value is null or NaN.
    #[arg(
        long,
        value_name = "ANGLE",
        value_parser = parse_maxsep,
        allow_hyphen_values = true,
        required_unless_present_any = ["radius_col", "radius_from_mag"]
    )]
    pub maxsep: Option<Angle>,
    /// Each contaminant's own radius, from this column (in --radius-unit).
    #[arg(long, value_name = "COL", conflicts_with = "radius_from_mag")]
    pub radius_col: Option<String>,
    /// The unit of --radius-col: arcsec, arcmin, deg, mas or rad.
    #[arg(long, value_name = "UNIT", default_value = "arcsec", value_parser = parse_unit, requires = "radius_col")]
    pub radius_unit: Angle,
    /// Each contaminant's own radius, from this magnitude column by the --mag-radius rule.
    #[arg(long, value_name = "COL")]
    pub radius_from_mag: Option<String>,
    /// The rule for --radius-from-mag: radius = A arcsec * 10^(B * (C - mag)), given as A,B,C; repeat to add terms (HSC's form has two). [default: legacy = 1630 arcsec * 1.396^(-mag), the Legacy Surveys' mask]
    #[arg(long, value_name = "A,B,C", value_parser = parse_power_law, requires = "radius_from_mag")]
    pub mag_radius: Vec<PowerLaw>,
    /// Per-contaminant radii below this are raised to it.
    #[arg(long, value_name = "ANGLE", value_parser = parse_maxsep)]
    pub min_radius: Option<Angle>,
    /// Per-contaminant radii above this are lowered to it.
    #[arg(long, value_name = "ANGLE", value_parser = parse_maxsep)]
    pub max_radius: Option<Angle>,
    /// Write only the objects near a contaminant (the ones the cut would remove).
    #[arg(long, conflicts_with = "flag_column")]
    pub invert: bool,
    /// Also write the objects OUT does not get to FILE, in the same pass (with --out-dir: a directory, mirrored like DIR).
    #[arg(long, value_name = "FILE", conflicts_with = "flag_column")]
    pub rejected: Option<PathBuf>,
    /// Keep every object and add a boolean column NAME: true = near a contaminant, null = no valid position.
    #[arg(long, value_name = "NAME")]
    pub flag_column: Option<String>,
    /// Add nearest_sep_arcsec and nearest_row (or nearest_COL with --contaminant-id): the nearest contaminant whose radius covers the object, null where none does.
    #[arg(long)]
    pub nearest_columns: bool,
    /// The contaminant column that names the nearest contaminant in --nearest-columns [default: its row number].
    #[arg(long, value_name = "COL", requires = "nearest_columns")]
    pub contaminant_id: Option<String>,
    /// Object RA column, degrees [default: ra, ra_deg or raj2000, any case].
    #[arg(long, value_name = "COL")]
    pub ra: Option<String>,
    /// Object Dec column, degrees [default: dec, dec_deg, dej2000 or decj2000, any case].
    #[arg(long, value_name = "COL")]
    pub dec: Option<String>,
    /// Contaminant RA column [default: as for --ra].
    #[arg(long, value_name = "COL")]
    pub contaminant_ra: Option<String>,
    /// Contaminant Dec column [default: as for --dec].
    #[arg(long, value_name = "COL")]
    pub contaminant_dec: Option<String>,
    /// naive (brute force), kdtree, grid, or auto (naive up to 256 contaminants, kdtree up to 2,048, grid above).
    #[arg(long, default_value = "auto", value_parser = parse_kernel)]
    pub kernel: KernelChoice,
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub threads: Option<usize>,
    /// Rows per record batch.
    #[arg(long, value_name = "ROWS", default_value_t = DEFAULT_BATCH_SIZE, value_parser = parse_positive)]
    pub batch_size: usize,
    /// Objects with a null, NaN or infinite coordinate, or |dec| > 90: error, keep or drop.
    #[arg(long, default_value = "error", value_parser = parse_on_invalid)]
    pub on_invalid: OnInvalid,
    /// Output compression: zstd (level 1), zstd(N), snappy, lz4, gzip(N), brotli(N), none.
    #[arg(long, default_value = "zstd", value_parser = parse_compression)]
    pub compression: OutputCompression,
    /// Output format: parquet, arrow (IPC file) or arrow-stream [default: from OUT's name, Parquet unless .arrow/.feather/.ipc/.arrows; arrow-stream for '-'].
    #[arg(long, value_name = "FORMAT", value_parser = parse_output_format)]
    pub output_format: Option<OutputFormat>,
    /// Write the run's summary (files, rows read/removed/invalid/written, seconds, kernel, contaminants, radius) to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Print nothing on success (errors are still reported), and no progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Rows per output row group.
    #[arg(long, value_name = "ROWS", default_value_t = DEFAULT_ROW_GROUP_SIZE, value_parser = parse_positive)]
    pub row_group_size: usize,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Where to write the catalogue (Parquet).
    pub output: PathBuf,
    /// How many rows.
    #[arg(long, value_name = "N")]
    pub rows: u64,
    /// The seed: the same seed gives the same catalogue.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// narrow (id, ra, dec) or wide (23 survey-like columns; same positions as narrow).
    #[arg(long, default_value = "narrow", value_parser = parse_table_schema)]
    pub schema: TableSchema,
    /// Put 85% of the points in 12 dense patches instead of spreading them uniformly.
    #[arg(long)]
    pub clustered: bool,
}

fn parse_table_schema(text: &str) -> Result<TableSchema, String> {
    text.parse()
}

fn parse_maxsep(text: &str) -> Result<Angle, String> {
    Angle::parse_maxsep(text).map_err(|e| e.to_string())
}

/// A unit name as an angle of one unit: `arcsec` is 1 arcsec.
fn parse_unit(text: &str) -> Result<Angle, String> {
    let unit = text.trim();
    if unit.is_empty() || unit.chars().any(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!("'{text}' is not a unit: use arcsec, arcmin, deg, mas or rad"));
    }
    format!("1{unit}").parse::<Angle>().map_err(|e| e.to_string())
}

fn parse_output_format(text: &str) -> Result<OutputFormat, String> {
    text.parse()
}

fn parse_power_law(text: &str) -> Result<PowerLaw, String> {
    text.parse()
}

fn parse_kernel(text: &str) -> Result<KernelChoice, String> {
    text.parse()
}

fn parse_on_invalid(text: &str) -> Result<OnInvalid, String> {
    text.parse()
}

fn parse_compression(text: &str) -> Result<OutputCompression, String> {
    text.parse()
}

fn parse_positive(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{text}' is not a positive whole number")),
    }
}

/// Runs the parsed command; errors carry the library's context.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Stream(args) => stream(args),
        Command::Gen(args) => {
            let sky = if args.clustered { Sky::Clustered } else { Sky::Uniform };
            let catalogue = Catalogue { rows: args.rows, seed: args.seed, schema: args.schema, sky };
            write_catalogue(&args.output, &catalogue, &ParquetOutputOptions::default())?;
            Ok(())
        }
    }
}

/// What `angcut stream` arguments ask for: the job, and what to do with its summary.
#[derive(Debug)]
pub struct StreamRequest {
    pub job: StreamJob,
    /// Where to write the summary as JSON.
    pub stats_json: Option<PathBuf>,
    /// No progress line, no summary line.
    pub quiet: bool,
}

impl StreamArgs {
    /// The job these arguments describe; a combination clap cannot refuse on its own (a clamp
    /// without per-contaminant radii, paths that do not fit together) is a usage error.
    pub fn into_request(self) -> Result<StreamRequest, crate::Error> {
        let args = self;
        let row_radius = match (args.radius_col, args.radius_from_mag) {
            (Some(name), _) => {
                Some(RowRadius::Column { name, unit: args.radius_unit, min: args.min_radius, max: args.max_radius })
            }
            (None, Some(name)) => {
                let terms = if args.mag_radius.is_empty() { vec![PowerLaw::legacy_surveys()] } else { args.mag_radius };
                let rule = MagnitudeRule { terms, min: args.min_radius, max: args.max_radius };
                Some(RowRadius::Magnitude { name, rule })
            }
            (None, None) if args.min_radius.is_some() || args.max_radius.is_some() => {
                return Err(crate::Error::Usage(
                "--min-radius and --max-radius clamp --radius-col or --radius-from-mag radii; with one --maxsep for all, change --maxsep".into(),
            ));
            }
            (None, None) => None,
        };
        let contaminants = ContaminantSpec {
            path: args.contaminants,
            ra: args.contaminant_ra,
            dec: args.contaminant_dec,
            maxsep: args.maxsep,
            row_radius,
            id_column: args.contaminant_id,
        };
        let (files, create_dirs) = file_tasks(args.paths, args.out_dir.as_deref(), args.rejected.as_deref())?;
        let job = StreamJob {
            files,
            create_dirs,
            contaminants,
            ra: args.ra,
            dec: args.dec,
            kernel: args.kernel,
            batch_size: args.batch_size,
            pipeline: PipelineOptions { threads: args.threads.unwrap_or_else(default_threads), max_in_flight: None },
            cut: CutOptions {
                on_invalid: args.on_invalid,
                selection: match (args.invert, &args.flag_column) {
                    (_, Some(_)) => Selection::All,
                    (true, None) => Selection::Near,
                    (false, None) => Selection::Far,
                },
                flag_column: args.flag_column,
                nearest_columns: args.nearest_columns,
                rejected: args.rejected.is_some(),
            },
            output_format: args.output_format,
            output_options: ParquetOutputOptions { compression: args.compression, row_group_size: args.row_group_size },
        };
        Ok(StreamRequest { job, stats_json: args.stats_json, quiet: args.quiet })
    }
}

fn stream(args: StreamArgs) -> anyhow::Result<()> {
    let StreamRequest { job, stats_json, quiet } = args.into_request()?;
    // The library's errors already name the file, column and row.
    // A progress line only for a person watching: not when stderr goes to a file or a pipe.
    let summary = if !quiet && std::io::stderr().is_terminal() {
        let mut line = crate::progress::ProgressLine::new();
        let result = stream_file_with_progress(&job, Some(&mut |report: &ProgressReport| line.update(report)));
        line.clear();
        result?
    } else {
        stream_file(&job)?
    };
    if let Some(path) = &stats_json {
        std::fs::write(path, crate::stats::summary_json(&job, &summary))
            .map_err(|source| crate::Error::Io { path: path.clone(), source })?;
    }
    if !quiet {
        eprintln!("{}", summary.line());
    }
    Ok(())
}

/// The inputs and outputs the positional PATHS and --out-dir name; whether the outputs' directories
/// are to be created.
fn file_tasks(
    paths: Vec<PathBuf>,
    out_dir: Option<&Path>,
    rejected: Option<&Path>,
) -> Result<(Vec<FileTask>, bool), crate::Error> {
    let usage = crate::Error::Usage;
    if let Some(out_dir) = out_dir {
        if rejected.is_some_and(|r| crate::output::same_destination(r, out_dir)) {
            return Err(usage("--rejected and --out-dir must be different directories".into()));
        }
        return Ok((plan_out_dir(&paths, out_dir, rejected)?, true));
    }
    match <[PathBuf; 2]>::try_from(paths) {
        Ok([input, output]) => {
            if input.is_dir() {
                return Err(usage(format!(
                    "{} is a directory: to cut every *.parquet file in it, give --out-dir DIR instead of OUT",
                    input.display()
                )));
            }
            Ok((vec![FileTask { input, output, rejected: rejected.map(Path::to_path_buf) }], false))
        }
        Err(paths) if paths.len() == 1 => {
            Err(usage(format!("missing OUT after {}: give IN OUT, or --out-dir DIR", paths[0].display())))
        }
        Err(paths) => Err(usage(format!(
            "{} paths given: several inputs need --out-dir DIR (without it, give exactly IN OUT)",
            paths.len()
        ))),
    }
}

/// On SIGINT or SIGTERM, removes the output being written and exits with 128 + the signal number
/// (130, 143), as shells expect: an interrupted run leaves neither OUT nor a partial file.
pub fn stop_cleanly_on_signals() {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        use signal_hook::iterator::Signals;
        match Signals::new([SIGINT, SIGTERM]) {
            Ok(mut signals) => {
                std::thread::spawn(move || {
                    if let Some(signal) = signals.forever().next() {
                        crate::output::remove_partial_outputs();
                        eprintln!("angcut: interrupted by signal {signal}; no output written");
                        std::process::exit(128 + signal);
                    }
                });
            }
            Err(error) => eprintln!("angcut: warning: cannot watch for interruptions ({error})"),
        }
    }
}
