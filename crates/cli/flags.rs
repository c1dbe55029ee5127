//! The command line's flags, parsed in two steps (ripgrep's way): clap reads the raw flags
//! ([`Cli`]), then [`parse`] turns them into what to do ([`Args`]): for `angcut stream`, the
//! core's [`StreamOptions`], which the core checks into a plan. Parsing lives here; every rule
//! about how options combine lives in the core's plan, once for every front door.

use std::path::PathBuf;

use angcut::columns::{DEFAULT_DEC_NAMES, DEFAULT_RA_NAMES};
use angcut::io::formats::{formats_read, parquet_globs, written_extensions, written_names};
use angcut::io::read::HduChoice;
use angcut::io::write::{DEFAULT_ROW_GROUP_SIZE, OutputCompression, OutputFormat};
use angcut::mask::pixels::DEPTH_MAX;
use angcut::mask::products::ProductPaths;
use angcut::randoms::{RandomCount, RandomsOptions};
use angcut::star_mask::PowerLaw;
use angcut::synthetic::{Catalogue, Sky, TableSchema};
use angcut::{Angle, DEFAULT_BATCH_SIZE, KernelChoice, OnInvalid, SearchRadius, Spelling, StreamOptions};
use clap::{Args as ClapArgs, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "angcut",
    version = env!("ANGCUT_VERSION"),
    about = "Remove catalogue objects near contaminants or inside survey masks, streaming Parquet, Arrow, FITS, VOTable and text tables."
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
    /// Draw random points uniform on the sky (or a mask's footprint), masked exactly as the data are.
    #[command(after_help = RANDOMS_EXAMPLES)]
    Randoms(RandomsArgs),
    /// Report how much sky each layer of a mask covers, their union, and the cumulative area.
    Area(AreaArgs),
    /// Write a deterministic synthetic catalogue (for tests and benchmarks).
    Gen(GenArgs),
    /// Print the formats angcut knows, as a Markdown table: how each is told, what it is read
    /// as, its names, whether it is written and streamed.
    Formats,
    /// Print a shell completion script to standard output: `angcut completions bash > ~/.local/share/bash-completion/completions/angcut`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to standard output: `angcut man | man -l -`, or `angcut man stream`.
    Man {
        /// The subcommand whose page to print (stream, randoms, area, gen, formats) [default: angcut's own].
        subcommand: Option<String>,
    },
}

#[derive(Debug, ClapArgs)]
pub struct AreaArgs {
    /// The mask file (TOML), as --masks of `angcut stream` takes it.
    #[arg(long, value_name = "FILE")]
    pub masks: PathBuf,
    /// The HEALPix order shape layers are covered at [default: cells ~64 times smaller than the smallest radius, semi-axis or half-side, at most 19]; pixel layers are exact at their own.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=i64::from(DEPTH_MAX)))]
    pub order: Option<u8>,
    /// The survey's epoch that stars with proper motions are moved to [default: the mask file's epoch].
    #[arg(long, value_name = "YEAR")]
    pub epoch: Option<f64>,
    /// Write the report as JSON on standard output instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the mask as a MOC (FITS, for mocpy and Aladin): the union of the cells each layer's best area counts.
    #[arg(long, value_name = "OUT")]
    pub moc: Option<PathBuf>,
    /// Also write the mask as a HealSparse wide mask (bit i = layer i), at the finest order of its cells.
    #[arg(long, value_name = "OUT")]
    pub healsparse: Option<PathBuf>,
    /// Also draw the mask's layers on the sky (all-sky, or the footprint's box) with the areas as the legend, as a PNG.
    #[arg(long, value_name = "OUT")]
    pub png: Option<PathBuf>,
}

const STREAM_USAGE: &str =
    "angcut stream [OPTIONS] -c FILE <--maxsep ANGLE|--radius-col COL|--radius-from-mag COL> IN OUT
       angcut stream [OPTIONS] -c FILE <--maxsep ANGLE|...> --out-dir DIR IN...
       angcut stream [OPTIONS] --masks masks.toml [--mask-bits COL] [--cut-layers NAME,...] IN OUT";

const RANDOMS_EXAMPLES: &str = "Examples:
  angcut randoms randoms.parquet --rows 10000000 --seed 42
  angcut randoms randoms.parquet --density 2500 --masks masks.toml --mask-bits maskbits
  angcut randoms randoms.fits --density 1000 --masks masks.toml --cut-layers star,footprint";

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
  angcut stream in.parquet out.parquet -c hsc_stars.parquet --radius-from-mag g --mag-radius 200,0.25,7 --mag-radius 10,0.1,0
  angcut stream in.parquet out.parquet --masks masks.toml --epoch 2016.0
  angcut stream in.parquet flagged.parquet --masks masks.toml --mask-bits maskbits --cut-layers star";

#[derive(Debug, ClapArgs)]
pub struct StreamArgs {
    #[arg(value_names = ["IN", "OUT"], num_args = 1.., required = true, help = paths_help())]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_name = "DIR", help = out_dir_help())]
    pub out_dir: Option<PathBuf>,
    #[arg(long, short = 'c', value_name = "FILE", help = format!("The contaminant positions: {}, recognised by content.", formats_read()))]
    pub contaminants: Option<PathBuf>,
    #[command(flatten)]
    pub mask: MaskFlags,
    /// Remove objects strictly closer than this to any contaminant: 30arcsec, 2.5arcmin, 1deg, 0.1rad, 500mas; a bare number is degrees. 0 < ANGLE <= 180deg. With --radius-col or --radius-from-mag, the radius of contaminants whose value is null or NaN.
    #[arg(
        long,
        value_name = "ANGLE",
        value_parser = parse_maxsep,
        allow_hyphen_values = true
    )]
    pub maxsep: Option<RadiusFlag>,
    /// Each contaminant's own radius, from this column (in --radius-unit).
    #[arg(long, value_name = "COL")]
    pub radius_col: Option<String>,
    /// The unit of --radius-col: arcsec, arcmin, deg, mas or rad. [default: arcsec]
    #[arg(long, value_name = "UNIT", value_parser = parse_unit)]
    pub radius_unit: Option<Angle>,
    /// Each contaminant's own radius, from this magnitude column by the --mag-radius rule.
    #[arg(long, value_name = "COL")]
    pub radius_from_mag: Option<String>,
    /// The rule for --radius-from-mag: radius = A arcsec * 10^(B * (C - mag)), given as A,B,C; repeat to add terms (HSC's form has two). [default: legacy = 1630 arcsec * 1.396^(-mag), the Legacy Surveys' mask]
    #[arg(long, value_name = "A,B,C", value_parser = parse_power_law)]
    pub mag_radius: Vec<PowerLaw>,
    /// Per-contaminant radii below this are raised to it.
    #[arg(long, value_name = "ANGLE", value_parser = parse_maxsep)]
    pub min_radius: Option<RadiusFlag>,
    /// Per-contaminant radii above this are lowered to it.
    #[arg(long, value_name = "ANGLE", value_parser = parse_maxsep)]
    pub max_radius: Option<RadiusFlag>,
    #[command(flatten)]
    pub select: SelectFlags,
    /// Add nearest_sep_arcsec and nearest_row (or nearest_COL with --contaminant-id): the nearest contaminant whose radius covers the object, null where none does.
    #[arg(long)]
    pub nearest_columns: bool,
    /// Parquet in and out: encode every column again, instead of copying the row groups the cut leaves whole as the input stores them (--compression and --row-group-size imply it).
    #[arg(long)]
    pub rewrite: bool,
    /// The contaminant column that names the nearest contaminant in --nearest-columns [default: its row number].
    #[arg(long, value_name = "COL")]
    pub contaminant_id: Option<String>,
    #[arg(long, value_name = "COL", help = names_help("Object RA column, degrees", DEFAULT_RA_NAMES))]
    pub ra: Option<String>,
    #[arg(long, value_name = "COL", help = names_help("Object Dec column, degrees", DEFAULT_DEC_NAMES))]
    pub dec: Option<String>,
    /// The HDU of a FITS IN that holds the table: its number (0 is the primary HDU, 1 the first extension) or its EXTNAME; in a VOTable, the TABLE's number (1 is the first) or name [default: the first binary table; the first TABLE with data].
    #[arg(long, value_name = "N|EXTNAME", value_parser = parse_hdu)]
    pub hdu: Option<HduChoice>,
    /// The same for a FITS or VOTable contaminant file.
    #[arg(long, value_name = "N|EXTNAME", value_parser = parse_hdu)]
    pub contaminant_hdu: Option<HduChoice>,
    /// Contaminant RA column [default: as for --ra].
    #[arg(long, value_name = "COL")]
    pub contaminant_ra: Option<String>,
    /// Contaminant Dec column [default: as for --dec].
    #[arg(long, value_name = "COL")]
    pub contaminant_dec: Option<String>,
    /// naive (brute force), kdtree, grid, or auto (naive up to 256 contaminants, kdtree up to 2,048, grid above).
    #[arg(long, default_value = "auto", value_parser = parse_kernel)]
    pub kernel: KernelChoice,
    #[command(flatten)]
    pub run: RunFlags,
    /// Objects with a null, NaN or infinite coordinate, or |dec| > 90: error, keep or drop.
    #[arg(long, default_value = "error", value_parser = parse_on_invalid)]
    pub on_invalid: OnInvalid,
    #[command(flatten)]
    pub output: OutputFlags,
}

/// The mask options, shared by `angcut stream` and `angcut randoms`.
#[derive(Debug, ClapArgs)]
pub struct MaskFlags {
    /// A mask file (TOML) of layers instead of --contaminants: each [[layer]] has a name and a file, either a catalogue with its circles (radius, radius_col, radius_from_mag) or ellipses (shape = "ellipse") and optionally proper motions, a DS9 region file, or a pixel map (HealSparse, HEALPix FITS, MOC; with bits, below, above, outside); layer i is bit i. See docs/masks.md.
    #[arg(long, value_name = "FILE")]
    pub masks: Option<PathBuf>,
    /// With --masks: keep every row and add an unsigned integer column NAME (uint8 up to 8 layers, uint16, uint32, uint64) holding the bits of the layers each object lies in; null = no valid position. Only --cut-layers then cut.
    #[arg(long, value_name = "NAME")]
    pub mask_bits: Option<String>,
    /// With --masks: the layers whose objects are cut (or kept by --invert, flagged by --flag-column) [default: every layer, or none with --mask-bits].
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub cut_layers: Vec<String>,
    /// With --masks: the survey's epoch (Julian year, e.g. 2016.0) that stars with proper motions are moved to [default: the mask file's epoch].
    #[arg(long, value_name = "YEAR", allow_hyphen_values = true)]
    pub epoch: Option<f64>,
}

/// Which rows the output gets, shared by `angcut stream` and `angcut randoms`.
#[derive(Debug, ClapArgs)]
pub struct SelectFlags {
    /// Write only the objects near a contaminant (the ones the cut would remove).
    #[arg(long)]
    pub invert: bool,
    /// Also write the objects OUT does not get to FILE, in the same pass (with --out-dir: a directory, mirrored like DIR).
    #[arg(long, value_name = "FILE")]
    pub rejected: Option<PathBuf>,
    /// Keep every object and add a boolean column NAME: true = near a contaminant, null = no valid position.
    #[arg(long, value_name = "NAME")]
    pub flag_column: Option<String>,
}

/// How the run goes and what it reports, shared by `angcut stream` and `angcut randoms`.
#[derive(Debug, ClapArgs)]
pub struct RunFlags {
    /// Worker threads [default: all cores].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub threads: Option<usize>,
    /// Rows per record batch.
    #[arg(long, value_name = "ROWS", default_value_t = DEFAULT_BATCH_SIZE, value_parser = parse_count)]
    pub batch_size: usize,
    /// Write the run's summary (files, rows read/removed/invalid/written, seconds, kernel, contaminants, radius) to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<PathBuf>,
    /// Print nothing on success (errors are still reported), and no progress line.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// How the output is written, shared by `angcut stream` and `angcut randoms`.
#[derive(Debug, ClapArgs)]
pub struct OutputFlags {
    /// Output compression: zstd (level 1), zstd(N), snappy, lz4, gzip(N), brotli(N), none; Arrow IPC output takes none, lz4 and zstd(N). [default: zstd for Parquet, none for Arrow IPC]
    #[arg(long, value_parser = parse_compression)]
    pub compression: Option<OutputCompression>,
    #[arg(long, value_name = "FORMAT", value_parser = parse_output_format, help = format!(
        "Output format: {} [default: from OUT's name: {}; arrow-stream for '-']",
        written_names(),
        written_extensions()
    ))]
    pub output_format: Option<OutputFormat>,
    #[arg(long, value_name = "ROWS", value_parser = parse_count, help = format!("Rows per output row group (Parquet output only) [default: {DEFAULT_ROW_GROUP_SIZE}]"))]
    pub row_group_size: Option<usize>,
}

#[derive(Debug, ClapArgs)]
pub struct RandomsArgs {
    /// Where to write the randoms: any output `angcut stream` writes, its format from the name as for `angcut stream` or --output-format; '-' writes an Arrow IPC stream to stdout.
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// Draw exactly N points.
    #[arg(long, value_name = "N", required_unless_present = "density", conflicts_with = "density")]
    pub rows: Option<u64>,
    /// Draw this many points per square degree of the footprint (the whole sky without one), rounded.
    #[arg(long, value_name = "PER_DEG2")]
    pub density: Option<f64>,
    /// The seed: the same seed draws the same points, whatever the threads and batch size.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub mask: MaskFlags,
    #[command(flatten)]
    pub select: SelectFlags,
    /// naive (brute force), kdtree, grid, or auto: how the mask's shapes are indexed.
    #[arg(long, default_value = "auto", value_parser = parse_kernel)]
    pub kernel: KernelChoice,
    #[command(flatten)]
    pub run: RunFlags,
    #[command(flatten)]
    pub output_flags: OutputFlags,
}

#[derive(Debug, ClapArgs)]
pub struct GenArgs {
    /// Where to write the catalogue (Parquet).
    pub output: PathBuf,
    /// How many rows.
    #[arg(long, value_name = "N")]
    pub rows: u64,
    /// The seed: the same seed gives the same catalogue.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// narrow (id, ra, dec), wide (23 survey-like columns; same positions as narrow), stars (mag, pmra, pmdec) or galaxies (d25 arcsec, ba, pa): the mask layers of scripts/bench_masks.sh.
    #[arg(long, default_value = "narrow", value_parser = parse_table_schema)]
    pub schema: TableSchema,
    /// Put 85% of the points in 12 dense patches instead of spreading them uniformly.
    #[arg(long)]
    pub clustered: bool,
}

/// `angcut stream`'s IN OUT help, from the tables of what is read and written (so it cannot
/// fall behind a new format).
fn paths_help() -> String {
    format!(
        "IN OUT: the object catalogue to cut ({}, recognised by content; '-' reads any of them from stdin) and where to write the kept objects (replaced only when the run succeeds; format from the name: {}, or --output-format (any other name is refused); '-' writes an Arrow IPC stream to stdout). With --out-dir: any number of INs, files or directories of Parquet files ({}).",
        formats_read(),
        written_extensions(),
        parquet_globs()
    )
}

fn out_dir_help() -> String {
    format!(
        "Cut every IN (a directory: every Parquet file below it, {}, partition folders included) into DIR under the same relative name. The contaminant index is built once; the outputs appear only when all inputs succeeded.",
        parquet_globs()
    )
}

fn parse_table_schema(text: &str) -> Result<TableSchema, String> {
    text.parse()
}

/// A radius flag's value, with the text it was written as (to warn of a bare number).
#[derive(Debug, Clone)]
pub struct RadiusFlag {
    radius: SearchRadius,
    text: String,
}

fn parse_maxsep(text: &str) -> Result<RadiusFlag, String> {
    let radius = SearchRadius::parse(text).map_err(|e| e.to_string())?;
    Ok(RadiusFlag { radius, text: text.to_string() })
}

fn parse_unit(text: &str) -> Result<Angle, String> {
    Angle::parse_unit(text).map_err(|e| e.to_string())
}

fn parse_output_format(text: &str) -> Result<OutputFormat, String> {
    text.parse()
}

fn parse_power_law(text: &str) -> Result<PowerLaw, String> {
    text.parse()
}

fn parse_hdu(text: &str) -> Result<HduChoice, String> {
    text.parse()
}

fn parse_kernel(text: &str) -> Result<KernelChoice, String> {
    text.parse()
}

fn parse_on_invalid(text: &str) -> Result<OnInvalid, String> {
    text.parse()
}

/// A coordinate flag's help: what it names, and the names tried without it (from the core's list).
fn names_help(what: &str, defaults: &[&str]) -> String {
    format!("{what} [default: {}, in any case; exactly one may be present]", defaults.join(", "))
}

/// A count of threads or rows; whether it may be 0 is the plan's to say.
fn parse_count(text: &str) -> Result<usize, String> {
    text.trim().parse::<usize>().map_err(|_| format!("'{text}' is not a positive whole number"))
}

fn parse_compression(text: &str) -> Result<OutputCompression, String> {
    text.parse()
}

/// What the command line asks for, its flags parsed.
#[derive(Debug)]
pub enum Args {
    /// `angcut stream`: the options for the core's plan, and what to do with the summary.
    Stream {
        options: Box<StreamOptions>,
        /// Where to write the summary as JSON.
        stats_json: Option<PathBuf>,
        /// No progress line, no summary line.
        quiet: bool,
        /// What the flags say that their user probably did not mean, to print before running.
        warnings: Vec<String>,
    },
    /// `angcut randoms`: the options for the core's plan, and what to do with the summary.
    Randoms {
        options: Box<RandomsOptions>,
        /// Where to write the summary as JSON.
        stats_json: Option<PathBuf>,
        /// No progress line, no summary line.
        quiet: bool,
    },
    /// `angcut gen`: a synthetic catalogue to write.
    Gen { output: PathBuf, catalogue: Catalogue },
    /// `angcut completions`: the shell to print a completion script for.
    Completions(clap_complete::Shell),
    /// `angcut man`: the page to print (angcut's own, or a subcommand's).
    Man(Option<String>),
    /// `angcut formats`: the formats table.
    Formats,
    /// `angcut area`: the mask file, the order, the epoch, whether to write JSON, and where to
    /// write the mask as pixels.
    Area { masks: PathBuf, order: Option<u8>, epoch: Option<f64>, json: bool, products: ProductPaths },
}

/// Parses the command line; a usage error exits here with clap's message and code 2.
pub fn parse() -> Args {
    match Cli::parse().command {
        Command::Stream(args) => args.into_args(),
        Command::Randoms(args) => args.into_args(),
        Command::Completions { shell } => Args::Completions(shell),
        Command::Man { subcommand } => Args::Man(subcommand),
        Command::Formats => Args::Formats,
        Command::Area(args) => Args::Area {
            masks: args.masks,
            order: args.order,
            epoch: args.epoch,
            json: args.json,
            products: ProductPaths {
                moc: args.moc,
                healsparse: args.healsparse,
                png: args.png,
                spelling: Spelling::CommandLine,
            },
        },
        Command::Gen(args) => {
            let sky = if args.clustered { Sky::Clustered } else { Sky::Uniform };
            let catalogue = Catalogue { rows: args.rows, seed: args.seed, schema: args.schema, sky };
            Args::Gen { output: args.output, catalogue }
        }
    }
}

impl StreamArgs {
    /// The flags as the core's options: one field each, nothing decided here.
    fn into_args(self) -> Args {
        let radii =
            [("--maxsep", &self.maxsep), ("--min-radius", &self.min_radius), ("--max-radius", &self.max_radius)];
        let warnings = radii
            .iter()
            .filter_map(|(flag, value)| value.as_ref().and_then(|v| angcut::angle::unitless_warning(flag, &v.text)))
            .collect();
        let radius = |flag: Option<RadiusFlag>| flag.map(|f| f.radius);
        let shared = shared_options(self.mask, self.select, self.kernel, &self.run, self.output);
        let options = StreamOptions {
            paths: self.paths,
            out_dir: self.out_dir,
            contaminants: self.contaminants,
            maxsep: radius(self.maxsep),
            radius_col: self.radius_col,
            radius_unit: self.radius_unit,
            radius_from_mag: self.radius_from_mag,
            mag_radius: self.mag_radius,
            min_radius: radius(self.min_radius),
            max_radius: radius(self.max_radius),
            nearest_columns: self.nearest_columns,
            rewrite: self.rewrite,
            contaminant_id: self.contaminant_id,
            ra: self.ra,
            dec: self.dec,
            hdu: self.hdu,
            contaminant_hdu: self.contaminant_hdu,
            contaminant_ra: self.contaminant_ra,
            contaminant_dec: self.contaminant_dec,
            on_invalid: self.on_invalid,
            ..shared
        };
        Args::Stream { options: Box::new(options), stats_json: self.run.stats_json, quiet: self.run.quiet, warnings }
    }
}

/// The core's options that `angcut stream` and `angcut randoms` share, from their shared flags.
fn shared_options(
    mask: MaskFlags,
    select: SelectFlags,
    kernel: KernelChoice,
    run: &RunFlags,
    output: OutputFlags,
) -> StreamOptions {
    StreamOptions {
        masks: mask.masks,
        mask_bits: mask.mask_bits,
        cut_layers: mask.cut_layers,
        epoch: mask.epoch,
        invert: select.invert,
        rejected: select.rejected,
        flag_column: select.flag_column,
        kernel,
        threads: run.threads,
        batch_size: Some(run.batch_size),
        compression: output.compression,
        output_format: output.output_format,
        row_group_size: output.row_group_size,
        ..StreamOptions::default()
    }
}

impl RandomsArgs {
    fn into_args(self) -> Args {
        let count = match (self.rows, self.density) {
            (Some(rows), _) => RandomCount::Rows(rows),
            // clap requires one of the two.
            (None, density) => RandomCount::Density(density.unwrap_or(0.0)),
        };
        let stream = shared_options(self.mask, self.select, self.kernel, &self.run, self.output_flags);
        let options = RandomsOptions { output: self.output, count, seed: self.seed, stream };
        Args::Randoms { options: Box::new(options), stats_json: self.run.stats_json, quiet: self.run.quiet }
    }
}
