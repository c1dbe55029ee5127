//! One validated plan for a run, built before any data flows: [`StreamOptions`] is what a user
//! asks for (the command line's flags, the Python keyword arguments, a library caller's fields),
//! [`StreamOptions::plan`] checks every rule that does not need the data and returns a
//! [`StreamJob`], which the job trusts without checking again.
//!
//! The rules about how options combine are checked here, once, for every front door: which paths
//! are inputs and outputs, what `-` may stand for, which output options apply. Three are kept by
//! the type they decide and called from here: how radius options combine
//! ([`crate::contaminants::RadiusOptions::model`]), which layers cut ([`MaskCut::choose`]) and which
//! rows each output gets ([`Selection::from_flags`]).

use std::path::{Path, PathBuf};

use crate::angle::Angle;
use crate::contaminants::{ContaminantSpec, OptionNames, RadiusNames, RadiusOptions};
use crate::cut::{CutOptions, MaskCut, OnInvalid, Selection};
use crate::error::Error;
use crate::io::identity::{InputIdentities, check_output_path, same_destination};
use crate::io::is_stdio;
use crate::io::paths::{FileTask, plan_out_dir};
use crate::io::read::HduChoice;
use crate::io::write::{OutputCompression, OutputFormat, OutputOptions};
use crate::kernel::KernelChoice;
use crate::mask::{Mask, MaskSpec, all_bits};
use crate::pipeline::PipelineOptions;
use crate::sky::SearchRadius;
use crate::spelling::Spelling;
use crate::star_mask::PowerLaw;

/// Rows per batch unless told otherwise (docs/performance.md, "What makes the floor fast", says how it was chosen).
pub const DEFAULT_BATCH_SIZE: usize = 65_536;

/// A run of `angcut stream`, planned and checked: made by [`StreamOptions::plan`], run by
/// [`crate::stream_file`]. Its rules were checked when it was made; the job trusts them.
#[derive(Debug, Clone)]
pub struct StreamJob {
    /// The inputs and where their rows go, cut one after the other against one contaminant index.
    pub(crate) files: Vec<FileTask>,
    /// Create the outputs' missing parent directories (what `--out-dir` does); without it a
    /// missing directory is an error. Directories created by a failed run are removed again.
    pub(crate) create_dirs: bool,
    /// The contaminant file, its columns, and the radius model; `None` when the contaminants are
    /// given already indexed ([`crate::stream_with_index`]).
    pub(crate) contaminants: Option<ContaminantSpec>,
    /// Object coordinate columns; `None` finds them by their usual names.
    pub(crate) ra: Option<String>,
    pub(crate) dec: Option<String>,
    /// The table HDU of FITS inputs; `None` reads each one's first binary table.
    pub(crate) hdu: Option<HduChoice>,
    pub(crate) kernel: KernelChoice,
    pub(crate) batch_size: usize,
    pub(crate) pipeline: PipelineOptions,
    /// How a mask's layers cut, instead of `contaminants`; with the mask file to read, or `None`
    /// for a mask given already read ([`crate::stream_with_mask`]).
    pub(crate) masks: Option<(Option<MaskSpec>, MaskCut)>,
    /// Which rows go to the outputs, and what columns are added; `cut.rejected` is set exactly
    /// when the files have rejected outputs.
    pub(crate) cut: CutOptions,
    /// How every output is written, resolved per output ([`OutputOptions::resolve`]).
    pub(crate) outputs: OutputOptions,
}

impl StreamJob {
    /// How messages name the options this job was asked with.
    pub(crate) fn spelling(&self) -> Spelling {
        self.outputs.spelling
    }

    /// The inputs, in the order they are cut, and their outputs.
    pub fn files(&self) -> &[FileTask] {
        &self.files
    }

    /// The contaminant file and how its radii are found; `None` for a set given already indexed,
    /// or a mask.
    pub fn contaminants(&self) -> Option<&ContaminantSpec> {
        self.contaminants.as_ref()
    }

    /// The mask file and its layers, for a job that reads one.
    pub fn mask_file(&self) -> Option<&MaskSpec> {
        self.masks.as_ref().and_then(|(spec, _)| spec.as_ref())
    }

    /// How the layers cut, for a job against a mask (read from a file or given).
    pub fn mask_cut(&self) -> Option<&MaskCut> {
        self.masks.as_ref().map(|(_, how)| how)
    }
}

/// Everything a user can ask of `angcut stream`, unchecked. Each field is one option of the
/// command line (named in its doc); `None`, `false` and empty mean the option was not given.
///
/// ```
/// use angcut::{SearchRadius, StreamOptions, stream_file};
/// # let dir = tempfile::tempdir().unwrap();
/// # let out = dir.path().join("kept.parquet");
/// let mut options = StreamOptions::new("fixtures/objects.parquet", &out, "fixtures/hip2_bright.parquet");
/// options.maxsep = Some(SearchRadius::parse("30arcmin").unwrap());
/// let summary = stream_file(&options.plan().unwrap()).unwrap();
/// assert_eq!(summary.counts.read, 20_000);
///
/// options.invert = true;
/// options.flag_column = Some("near_star".into());
/// assert!(options.plan().unwrap_err().to_string().contains("--flag-column cannot be used with --invert"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamOptions {
    /// `IN OUT`, or with `out_dir` any number of INs (files, or directories of `*.parquet`).
    pub paths: Vec<PathBuf>,
    /// `--out-dir`: cut every IN into this directory under the same relative name.
    pub out_dir: Option<PathBuf>,
    /// `--contaminants`: the contaminant file. `None` only for [`StreamOptions::plan_with_given_set`]
    /// or with `masks`.
    pub contaminants: Option<PathBuf>,
    /// `--masks`: a mask file (TOML) of contaminant layers, instead of `contaminants`.
    pub masks: Option<PathBuf>,
    /// `--mask-bits`: add a column of this name holding each object's layer bits; every row is
    /// then kept unless `cut_layers` names layers that cut.
    pub mask_bits: Option<String>,
    /// `--cut-layers`: the layers whose objects are cut (every layer without `mask_bits`).
    pub cut_layers: Vec<String>,
    /// `--epoch`: the survey's epoch (a Julian year) that proper motions move stars to,
    /// overriding the mask file's `epoch`.
    pub epoch: Option<f64>,
    /// `--maxsep`: the radius of every contaminant, or of those without their own.
    pub maxsep: Option<SearchRadius>,
    /// `--radius-col`: each contaminant's radius from this column, in `radius_unit`.
    pub radius_col: Option<String>,
    /// `--radius-unit`: the unit of `radius_col`, as an angle of one unit (arcsec if `None`).
    pub radius_unit: Option<Angle>,
    /// `--radius-from-mag`: each contaminant's radius from this magnitude column.
    pub radius_from_mag: Option<String>,
    /// `--mag-radius`: the terms of the magnitude rule (the Legacy Surveys' if empty).
    pub mag_radius: Vec<PowerLaw>,
    /// `--min-radius`, `--max-radius`: clamps of per-contaminant radii.
    pub min_radius: Option<SearchRadius>,
    /// See `min_radius`.
    pub max_radius: Option<SearchRadius>,
    /// `--invert`: write only the objects near a contaminant.
    pub invert: bool,
    /// `--rejected`: also write the objects OUT does not get here (a directory with `out_dir`).
    pub rejected: Option<PathBuf>,
    /// `--flag-column`: keep every object and add this boolean column.
    pub flag_column: Option<String>,
    /// `--nearest-columns`: add the nearest covering contaminant's separation and identity.
    pub nearest_columns: bool,
    /// `--contaminant-id`: the contaminant column that names the nearest contaminant.
    pub contaminant_id: Option<String>,
    /// `--ra`, `--dec`: the objects' coordinate columns (found by name if `None`).
    pub ra: Option<String>,
    /// See `ra`.
    pub dec: Option<String>,
    /// `--hdu`: the HDU of FITS inputs that holds the table (the first binary table if `None`).
    pub hdu: Option<HduChoice>,
    /// `--contaminant-hdu`: the same for a FITS contaminant file.
    pub contaminant_hdu: Option<HduChoice>,
    /// `--contaminant-ra`, `--contaminant-dec`: the contaminants' coordinate columns.
    pub contaminant_ra: Option<String>,
    /// See `contaminant_ra`.
    pub contaminant_dec: Option<String>,
    /// `--kernel`.
    pub kernel: KernelChoice,
    /// `--threads`: worker threads (all cores if `None`).
    pub threads: Option<usize>,
    /// `--batch-size`: rows per record batch ([`DEFAULT_BATCH_SIZE`] if `None`).
    pub batch_size: Option<usize>,
    /// `--on-invalid`.
    pub on_invalid: OnInvalid,
    /// `--compression`, `--output-format`, `--row-group-size`.
    pub compression: Option<OutputCompression>,
    /// See `compression`.
    pub output_format: Option<OutputFormat>,
    /// See `compression`.
    pub row_group_size: Option<usize>,
    /// `--rewrite`: encode every column of a Parquet output again, instead of copying the input's
    /// row groups that the cut leaves whole.
    pub rewrite: bool,
    /// How messages name these options: as the command line's flags (the default) or as
    /// Python's keywords.
    pub spelling: Spelling,
}

impl StreamOptions {
    /// `IN OUT` against the contaminant file `contaminants`, every other option unset.
    pub fn new(input: impl Into<PathBuf>, output: impl Into<PathBuf>, contaminants: impl Into<PathBuf>) -> Self {
        StreamOptions {
            paths: vec![input.into(), output.into()],
            contaminants: Some(contaminants.into()),
            ..StreamOptions::default()
        }
    }

    /// The job these options describe, reading its contaminants from `contaminants`; any
    /// combination that cannot work is a usage error ([`Error::is_usage`]) naming the options.
    pub fn plan(&self) -> Result<StreamJob, Error> {
        if let Some(masks) = &self.masks {
            return self.mask_job(masks);
        }
        let mask_options: Vec<&str> =
            self.contaminant_options().into_iter().filter(|o| MASK_OPTIONS.contains(o)).collect();
        if !mask_options.is_empty() {
            return Err(Error::Usage(format!(
                "{} describe the layers of {}, which is not given",
                self.spelling.options(&mask_options),
                self.spelling.option("masks")
            )));
        }
        let Some(path) = &self.contaminants else {
            let o = |field| self.spelling.option(field);
            return Err(Error::Usage(format!(
                "no contaminants given: {} FILE (or {} FILE) is required",
                o("contaminants"),
                o("masks")
            )));
        };
        let contaminants = self.contaminant_spec(path)?;
        self.job(Some(contaminants))
    }

    /// The job against the layers of the mask file `path`.
    fn mask_job(&self, path: &Path) -> Result<StreamJob, Error> {
        let single: Vec<&str> = self
            .contaminant_options()
            .into_iter()
            .filter(|o| !MASK_OPTIONS.contains(o) && !["masks", "kernel"].contains(o))
            .collect();
        if !single.is_empty() {
            return Err(Error::Usage(format!(
                "{} gives every layer its file, columns and radii: drop {} (a layer of the mask file takes them)",
                self.spelling.option("masks"),
                self.spelling.options(&single)
            )));
        }
        let spec = MaskSpec::read(path, self.epoch, self.spelling)?;
        let cut = self.mask_cut(|names| spec.bits_of(names, self.spelling), spec.all_bits())?;
        let mut job = self.job(None)?;
        job.masks = Some((Some(spec), cut));
        check_paths(&job)?;
        Ok(job)
    }

    /// The job these options describe, against a mask already read ([`crate::stream_with_mask`]):
    /// the mask has its layers, epoch and kernel, so only `mask_bits` and `cut_layers` of the
    /// contaminant options may be given.
    pub fn plan_with_given_mask(&self, mask: &Mask) -> Result<StreamJob, Error> {
        let named: Vec<&str> =
            self.contaminant_options().into_iter().filter(|o| !["mask_bits", "cut_layers"].contains(o)).collect();
        if !named.is_empty() {
            return Err(Error::OptionsForGivenMask(named));
        }
        let cut = self.mask_cut(|names| mask.bits_of(names, self.spelling), all_bits(mask.layers().len()))?;
        let mut job = self.job(None)?;
        job.masks = Some((None, cut));
        check_paths(&job)?;
        Ok(job)
    }

    /// How a mask of layers cuts: `--cut-layers` named by `bits_of`, else every layer (`all`)
    /// unless `--mask-bits` asks for the bits alone.
    fn mask_cut(&self, bits_of: impl Fn(&[String]) -> Result<u64, Error>, all: u64) -> Result<MaskCut, Error> {
        let named = if self.cut_layers.is_empty() { None } else { Some(bits_of(&self.cut_layers)?) };
        let uses = [
            ("invert", self.invert),
            ("flag_column", self.flag_column.is_some()),
            ("rejected", self.rejected.is_some()),
            ("nearest_columns", self.nearest_columns),
        ];
        MaskCut::choose(named, all, self.mask_bits.clone(), &uses, self.spelling)
    }

    /// The job these options describe, for contaminants already read and indexed
    /// ([`crate::stream_with_index`]): the set says everything the contaminant options would,
    /// so none of them may be given.
    pub fn plan_with_given_set(&self) -> Result<StreamJob, Error> {
        let named = self.contaminant_options();
        if !named.is_empty() {
            return Err(Error::OptionsForGivenSet(named));
        }
        self.job(None)
    }

    /// The contaminant options that are set (by field name, in name order): what a contaminant
    /// file needs and a set given already indexed has said already.
    pub fn contaminant_options(&self) -> Vec<&'static str> {
        let mut set: Vec<&str> = [
            ("contaminants", self.contaminants.is_some()),
            ("maxsep", self.maxsep.is_some()),
            ("radius_col", self.radius_col.is_some()),
            ("radius_unit", self.radius_unit.is_some()),
            ("radius_from_mag", self.radius_from_mag.is_some()),
            ("mag_radius", !self.mag_radius.is_empty()),
            ("min_radius", self.min_radius.is_some()),
            ("max_radius", self.max_radius.is_some()),
            ("contaminant_ra", self.contaminant_ra.is_some()),
            ("contaminant_dec", self.contaminant_dec.is_some()),
            ("contaminant_hdu", self.contaminant_hdu.is_some()),
            ("contaminant_id", self.contaminant_id.is_some()),
            ("kernel", self.kernel != KernelChoice::Auto),
            ("masks", self.masks.is_some()),
            ("mask_bits", self.mask_bits.is_some()),
            ("cut_layers", !self.cut_layers.is_empty()),
            ("epoch", self.epoch.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, given)| given.then_some(name))
        .collect();
        set.sort_unstable();
        set
    }

    /// The contaminant file's columns and radius model.
    fn contaminant_spec(&self, path: &Path) -> Result<ContaminantSpec, Error> {
        let radius = RadiusOptions {
            maxsep: self.maxsep,
            radius_col: self.radius_col.clone(),
            radius_unit: self.radius_unit,
            radius_from_mag: self.radius_from_mag.clone(),
            mag_radius: self.mag_radius.clone(),
            min_radius: self.min_radius,
            max_radius: self.max_radius,
        };
        let (maxsep, row_radius) = radius.model(&RadiusNames::of_stream(self.spelling)).map_err(Error::Usage)?;
        Ok(ContaminantSpec {
            path: path.to_path_buf(),
            ra: self.contaminant_ra.clone(),
            dec: self.contaminant_dec.clone(),
            maxsep,
            row_radius,
            id_column: self.contaminant_id.clone(),
            hdu: self.contaminant_hdu.clone(),
            names: OptionNames::of_stream(self.spelling),
            motion: None,
            ellipse: None,
        })
    }

    fn job(&self, contaminants: Option<ContaminantSpec>) -> Result<StreamJob, Error> {
        let usage = |text: String| Err(Error::Usage(text));
        let o = |field| self.spelling.option(field);
        if self.contaminant_id.is_some() && !self.nearest_columns {
            let (id, nearest) = (o("contaminant_id"), o("nearest_columns"));
            return usage(format!("{id} names the contaminant in {nearest}, which is not given"));
        }
        if self.rejected.is_some() && self.flag_column.is_some() {
            let (rejected, flag) = (o("rejected"), o("flag_column"));
            return usage(format!("{rejected} cannot be used with {flag}: every row is kept, none is rejected"));
        }
        let selection = Selection::from_flags(self.invert, self.flag_column.clone(), self.spelling)?;
        let batch_size = self.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
        if batch_size == 0 {
            return usage(format!("{} must be at least 1", o("batch_size")));
        }
        if self.threads == Some(0) {
            return usage(format!("{} must be at least 1", o("threads")));
        }
        let (files, create_dirs) = self.file_tasks()?;
        let outputs = OutputOptions {
            format: self.output_format,
            compression: self.compression,
            row_group_size: self.row_group_size,
            rewrite: self.rewrite,
            spelling: self.spelling,
        };
        let job = StreamJob {
            files,
            create_dirs,
            contaminants,
            masks: None,
            ra: self.ra.clone(),
            dec: self.dec.clone(),
            hdu: self.hdu.clone(),
            kernel: self.kernel,
            batch_size,
            pipeline: PipelineOptions {
                threads: self.threads.unwrap_or_else(crate::pipeline::default_threads),
                max_in_flight: None,
            },
            cut: CutOptions {
                on_invalid: self.on_invalid,
                selection,
                nearest_columns: self.nearest_columns,
                rejected: self.rejected.is_some(),
                spelling: self.spelling,
            },
            outputs,
        };
        check_paths(&job)?;
        Ok(job)
    }

    /// The inputs and outputs that `paths`, `out_dir` and `rejected` name; whether the outputs'
    /// directories are to be created.
    fn file_tasks(&self) -> Result<(Vec<FileTask>, bool), Error> {
        let usage = Error::Usage;
        let o = |field| self.spelling.option(field);
        let rejected = self.rejected.as_deref();
        if let Some(out_dir) = &self.out_dir {
            if rejected.is_some_and(|r| same_destination(r, out_dir)) {
                let (rejected, out_dir) = (o("rejected"), o("out_dir"));
                return Err(usage(format!("{rejected} and {out_dir} must be different directories")));
            }
            return Ok((plan_out_dir(&self.paths, out_dir, rejected, self.spelling)?, true));
        }
        match self.paths.as_slice() {
            [input, output] => {
                if input.is_dir() {
                    return Err(usage(format!(
                        "{} is a directory: to cut every *.parquet file in it, give {} DIR instead of OUT",
                        input.display(),
                        o("out_dir")
                    )));
                }
                let task = FileTask {
                    input: input.clone(),
                    output: output.clone(),
                    rejected: rejected.map(Path::to_path_buf),
                };
                Ok((vec![task], false))
            }
            [] => Err(usage(format!("no input given: give IN OUT, or IN... {} DIR", o("out_dir")))),
            [only] => Err(usage(format!("missing OUT after {}: give IN OUT, or {} DIR", only.display(), o("out_dir")))),
            paths => Err(usage(format!(
                "{} paths given: several inputs need {} DIR (without it, give exactly IN OUT)",
                paths.len(),
                o("out_dir")
            ))),
        }
    }
}

/// The options that describe a mask (by field name), given only with `masks`.
const MASK_OPTIONS: [&str; 3] = ["mask_bits", "cut_layers", "epoch"];

/// Refuses a job that would overwrite an input, write one file twice, read stdin twice or write
/// to an output in a format it cannot take; the contaminant file counts as an input if the job
/// reads it.
fn check_paths(job: &StreamJob) -> Result<(), Error> {
    if job.files.iter().any(|t| is_stdio(&t.input)) {
        if job.files.len() > 1 {
            return Err(Error::Usage("stdin ('-') cannot be one of several inputs".into()));
        }
        if job.contaminants.as_ref().is_some_and(|c| is_stdio(&c.path)) {
            return Err(Error::Usage("IN and the contaminants cannot both be read from stdin ('-')".into()));
        }
    }
    let layer_files: Vec<&Path> =
        job.mask_file().iter().flat_map(|spec| spec.layers.iter().map(|l| l.path())).collect();
    if let Some(stdin) = layer_files.iter().find(|p| is_stdio(p)) {
        return Err(Error::Usage(format!("a mask layer's file cannot be stdin ('{}')", stdin.display())));
    }
    if job.files.len() > 1 && job.files.iter().any(|t| is_stdio(&t.output)) {
        return Err(Error::Usage("several inputs cannot all be written to stdout ('-')".into()));
    }
    let contaminant_file = job.contaminants.as_ref().map(|c| c.path.as_path());
    let inputs = InputIdentities::of(
        job.files.iter().map(|t| t.input.as_path()).chain(contaminant_file).chain(layer_files.iter().copied()),
    );
    for task in &job.files {
        for output in std::iter::once(&task.output).chain(&task.rejected) {
            // Whether the path can be an output at all comes before what format its name implies.
            if !is_stdio(output) {
                check_output_path(output, &inputs, job.create_dirs)?;
            }
            job.outputs.resolve(output)?;
        }
        if let Some(rejected) = &task.rejected
            && same_destination(rejected, &task.output)
        {
            return Err(Error::Usage(format!(
                "the rejected output {} is the same file as OUT; give it another name",
                rejected.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contaminants::RowRadius;

    fn options() -> StreamOptions {
        let mut options =
            StreamOptions::new("fixtures/objects.parquet", "kept.parquet", "fixtures/hip2_bright.parquet");
        options.maxsep = Some(SearchRadius::parse("30arcsec").unwrap());
        options
    }

    fn refused(options: &StreamOptions) -> String {
        let error = options.plan().expect_err("the plan should be refused");
        assert!(error.is_usage(), "{error}");
        error.to_string()
    }

    #[test]
    fn combinations_that_cannot_work_are_refused_by_name() {
        let mut o = options();
        o.flag_column = Some("near".into());
        o.rejected = Some("r.parquet".into());
        assert!(refused(&o).contains("--rejected cannot be used with --flag-column"));

        let mut o = options();
        o.radius_col = Some("r".into());
        o.radius_from_mag = Some("mag".into());
        assert!(refused(&o).contains("--radius-col cannot be used with --radius-from-mag"));

        let mut o = options();
        o.radius_unit = Some(Angle::from_degrees(1.0));
        assert!(refused(&o).contains("--radius-unit"));

        let mut o = options();
        o.mag_radius = vec![PowerLaw::legacy_surveys()];
        assert!(refused(&o).contains("--mag-radius"));

        let mut o = options();
        o.maxsep = None;
        assert!(refused(&o).contains("--maxsep is required"));

        let mut o = options();
        o.contaminant_id = Some("hip".into());
        assert!(refused(&o).contains("--contaminant-id"));

        let mut o = options();
        o.batch_size = Some(0);
        assert!(refused(&o).contains("--batch-size must be at least 1"));

        let mut o = options();
        o.paths.push("third.parquet".into());
        assert!(refused(&o).contains("3 paths given"));
    }

    /// Every refusal of a bad combination, spelled for each front door: the command line's
    /// flags, or Python's keywords without a flag in sight.
    #[test]
    fn refusals_name_the_options_as_the_caller_spells_them() {
        type Change = fn(&mut StreamOptions);
        let cases: [(Change, &str, &str); 13] = [
            (
                |o| (o.flag_column, o.rejected) = (Some("near".into()), Some("r.parquet".into())),
                "--rejected cannot be used with --flag-column",
                "rejected= cannot be used with flag_column=",
            ),
            (
                |o| (o.flag_column, o.invert) = (Some("near".into()), true),
                "--flag-column cannot be used with --invert",
                "flag_column= cannot be used with invert=",
            ),
            (
                |o| (o.radius_col, o.radius_from_mag) = (Some("r".into()), Some("m".into())),
                "--radius-col cannot be used with --radius-from-mag",
                "radius_col= cannot be used with radius_from_mag=",
            ),
            (|o| o.maxsep = None, "--maxsep is required", "maxsep= is required"),
            (|o| o.contaminant_id = Some("hip".into()), "--contaminant-id names", "contaminant_id= names"),
            (|o| o.batch_size = Some(0), "--batch-size must be", "batch_size= must be"),
            (|o| o.threads = Some(0), "--threads must be", "threads= must be"),
            (|o| o.paths.push("third.parquet".into()), "need --out-dir DIR", "need out_dir= DIR"),
            (
                |o| (o.paths, o.out_dir) = (vec!["-".into()], Some("cut".into())),
                "without --out-dir",
                "without out_dir=",
            ),
            (
                |o| o.mask_bits = Some("bits".into()),
                "--mask-bits describe the layers of --masks",
                "mask_bits= describe the layers of masks=",
            ),
            (
                |o| (o.paths[1], o.row_group_size) = ("kept.arrow".into(), Some(10)),
                "--row-group-size applies to Parquet output",
                "row_group_size= applies to Parquet output",
            ),
            (|o| o.paths[1] = "kept.txt".into(), "or give --output-format", "or give output_format="),
            (
                |o| (o.contaminants, o.masks) = (None, Some("fixtures/masks.toml".into())),
                "--masks gives every layer",
                "masks= gives every layer",
            ),
        ];
        for (change, command_line, python) in cases {
            let mut o = options();
            change(&mut o);
            let message = refused(&o);
            assert!(message.contains(command_line), "{message}");
            o.spelling = Spelling::Python;
            let message = refused(&o);
            assert!(message.contains(python) && !message.contains("--"), "{message}");
        }
    }

    #[test]
    fn output_options_that_do_not_apply_are_refused_not_ignored() {
        let mut o = options();
        o.paths[1] = "kept.arrow".into();
        o.compression = Some("snappy".parse().unwrap());
        assert!(refused(&o).contains("--compression snappy does not apply to kept.arrow"));
        o.compression = Some("zstd".parse().unwrap());
        assert!(o.plan().is_ok());
        o.row_group_size = Some(1000);
        assert!(refused(&o).contains("--row-group-size applies to Parquet output"));

        // --output-format applies to the rejected output too.
        let mut o = options();
        o.output_format = Some(OutputFormat::IpcFile);
        o.rejected = Some("removed.parquet".into());
        o.compression = Some("gzip".parse().unwrap());
        assert!(refused(&o).contains("does not apply to kept.parquet"));
    }

    #[test]
    fn a_given_set_takes_no_contaminant_options() {
        let mut o = options();
        o.contaminants = None;
        o.radius_col = Some("r".into());
        let error = o.plan_with_given_set().unwrap_err().to_string();
        assert!(error.contains("drop maxsep, radius_col"), "{error}");
        o.maxsep = None;
        o.radius_col = None;
        let job = o.plan_with_given_set().unwrap();
        assert!(job.contaminants.is_none());
        assert!(refused(&o).contains("--contaminants FILE (or --masks FILE) is required"));
        o.masks = Some("fixtures/masks.toml".into());
        let error = o.plan_with_given_set().unwrap_err().to_string();
        assert!(error.contains("drop masks"), "{error}");
    }

    #[test]
    fn a_mask_replaces_the_contaminant_options_and_decides_which_layers_cut() {
        let mut o = options();
        o.contaminants = None;
        o.masks = Some("fixtures/masks.toml".into());
        assert!(refused(&o).contains("drop --maxsep"));
        o.maxsep = None;
        let (spec, how) = o.plan().unwrap().masks.unwrap();
        let spec = spec.unwrap();
        assert_eq!((spec.layers.len(), how.cut, how.bits_column), (3, 0b111, None));
        o.mask_bits = Some("maskbits".into());
        assert_eq!(o.plan().unwrap().masks.unwrap().1.cut, 0, "with mask bits, no layer cuts unless named");
        o.invert = true;
        assert!(refused(&o).contains("--invert works on the layers that cut"));
        o.cut_layers = vec!["galaxy".into()];
        assert_eq!(o.plan().unwrap().masks.unwrap().1.cut, 0b10);
        o.epoch = Some(f64::NAN);
        assert!(refused(&o).contains("--epoch NaN is not an epoch"));
        o.epoch = Some(1e308);
        assert!(
            refused(&o).contains("--epoch 1e308 is not an epoch: give a Julian year from 1000 to 3000"),
            "{}",
            refused(&o)
        );

        let mut o = options();
        o.cut_layers = vec!["star".into()];
        o.epoch = Some(2016.0);
        assert!(refused(&o).contains("--cut-layers, --epoch describe the layers of --masks"));
    }

    #[test]
    fn the_plan_holds_what_was_asked() {
        let mut o = options();
        o.invert = true;
        o.radius_from_mag = Some("hpmag".into());
        o.max_radius = Some(SearchRadius::parse("0.5deg").unwrap());
        o.threads = Some(3);
        let job = o.plan().unwrap();
        assert_eq!(job.cut.selection, Selection::Near);
        assert_eq!(job.batch_size, DEFAULT_BATCH_SIZE);
        assert_eq!(job.pipeline.threads, 3);
        let spec = job.contaminants.unwrap();
        let Some(RowRadius::Magnitude { rule, .. }) = spec.row_radius else { panic!("a magnitude rule") };
        assert_eq!(rule.terms, vec![PowerLaw::legacy_surveys()]);
        assert_eq!(rule.max, Some(Angle::from_degrees(0.5)));
    }
}
