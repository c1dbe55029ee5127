//! The mask file (`--masks masks.toml`): layers of contaminants, each with its file, columns,
//! shape and proper motions, checked into one [`ContaminantSpec`] per layer.
//!
//! Read with `toml` and `serde` (unknown keys refused by `deny_unknown_fields`); a parse error's
//! byte offset names the layer it falls in, so every message names the layer and the key.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::angle::Angle;
use crate::contaminants::{
    ContaminantSpec, EllipseSpec, MinorAxis, MotionSpec, OptionNames, RadiusNames, RadiusOptions, RefEpoch,
};
use crate::error::Error;
use crate::io::formats::is_region_file;
use crate::io::read::HduChoice;
use crate::mask::pixels::{PixelFormat, PixelRule};
use crate::motion::check_year;
use crate::sky::SearchRadius;
use crate::spelling::Spelling;
use crate::star_mask::PowerLaw;

/// The most layers a mask can have: one bit each in a 64-bit mask column.
pub const MAX_LAYERS: usize = 64;

/// A mask file, read and checked: its layers in file order (layer `i` is bit `i`).
#[derive(Debug, Clone, PartialEq)]
pub struct MaskSpec {
    /// The mask file.
    pub path: PathBuf,
    /// The layers, bit 0 first.
    pub layers: Vec<LayerSpec>,
    /// The epoch proper motions move stars to (`--epoch`, else the file's `epoch`).
    pub epoch: Option<f64>,
}

/// One layer of a mask: its name and what to read.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// The layer's name (unique in its file).
    pub name: String,
    /// Where its shapes come from.
    pub source: LayerSource,
}

/// Where a layer's shapes come from.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerSource {
    /// A catalogue: its contaminants as circles or ellipses, perhaps moving.
    Catalogue(Box<ContaminantSpec>),
    /// A DS9 region file (by its `.reg` name or its content), and the image whose WCS places
    /// its regions in pixels (a FITS file or a header as text), if it has any.
    Regions {
        /// The region file.
        path: PathBuf,
        /// The image (FITS, or a header as text) whose WCS places its `image`/`physical` regions.
        wcs: Option<PathBuf>,
    },
    /// A pixel map (HealSparse, HEALPix, MOC; by its content) and which of its cells it holds.
    Pixels(PathBuf, PixelRule),
}

impl LayerSpec {
    /// The layer's file.
    pub fn path(&self) -> &Path {
        match &self.source {
            LayerSource::Catalogue(spec) => &spec.path,
            LayerSource::Regions { path, .. } | LayerSource::Pixels(path, _) => path,
        }
    }

    /// The catalogue spec, for a catalogue layer.
    pub fn catalogue(&self) -> Option<&ContaminantSpec> {
        match &self.source {
            LayerSource::Catalogue(spec) => Some(spec),
            LayerSource::Regions { .. } | LayerSource::Pixels(..) => None,
        }
    }
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    epoch: Option<f64>,
    #[serde(default)]
    layer: Vec<LayerToml>,
}

/// One `[[layer]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerToml {
    name: String,
    file: PathBuf,
    shape: Option<String>,
    ra: Option<String>,
    dec: Option<String>,
    hdu: Option<toml::Value>,
    radius: Option<String>,
    radius_col: Option<String>,
    radius_unit: Option<String>,
    radius_from_mag: Option<String>,
    mag_radius: Option<MagRadius>,
    min_radius: Option<String>,
    max_radius: Option<String>,
    pm_ra: Option<String>,
    pm_dec: Option<String>,
    ref_epoch: Option<f64>,
    ref_epoch_col: Option<String>,
    major: Option<String>,
    minor: Option<String>,
    axis_ratio: Option<String>,
    axis_unit: Option<String>,
    axes: Option<String>,
    pa: Option<String>,
    bits: Option<Vec<i64>>,
    below: Option<f64>,
    above: Option<f64>,
    outside: Option<bool>,
    wcs: Option<PathBuf>,
}

/// `mag_radius = "legacy"`, `"A,B,C"`, or a list of such terms (the largest radius wins).
#[derive(Deserialize)]
#[serde(untagged)]
enum MagRadius {
    One(String),
    Terms(Vec<String>),
}

/// The keys of a layer as [`RadiusOptions::model`] names them in messages.
const LAYER_RADIUS_NAMES: RadiusNames = RadiusNames {
    maxsep: "radius",
    radius_col: "radius_col",
    radius_unit: "radius_unit",
    radius_from_mag: "radius_from_mag",
    mag_radius: "mag_radius",
    min_radius: "min_radius",
    max_radius: "max_radius",
};

/// The keys of a layer as a contaminant file's messages name them.
const LAYER_OPTION_NAMES: OptionNames = OptionNames {
    ra: "ra",
    dec: "dec",
    maxsep: "radius",
    radius_col: "radius_col",
    radius_from_mag: "radius_from_mag",
    clamps: "min_radius or max_radius",
    id_column: "id",
    hdu: "hdu",
};

impl MaskSpec {
    /// Reads and checks the mask file at `path`; `epoch` (`--epoch`) overrides the file's. Any
    /// mistake in the file is a usage error naming the file, the layer and the key; the caller's
    /// `epoch` is checked here too, and named as `spelling` spells the option.
    pub fn read(path: &Path, epoch: Option<f64>, spelling: Spelling) -> Result<MaskSpec, Error> {
        if PixelFormat::detect(path).is_some() {
            return Err(Error::Usage(format!(
                "{}: a pixel map, not a mask file: name it in a [[layer]] of a TOML mask file (file = \"...\")",
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Usage(format!("{}: cannot read the mask file: {source}", path.display())))?;
        MaskSpec::parse(&text, path, epoch, spelling)
    }

    /// [`MaskSpec::read`] of the text of a mask file at `path` (relative layer files are found
    /// beside it).
    ///
    /// ```
    /// use std::path::Path;
    /// use angcut::{Spelling, mask::MaskSpec};
    /// let text = r#"
    ///     epoch = 2016.0
    ///     [[layer]]
    ///     name = "star"
    ///     file = "hip2_bright.parquet"
    ///     radius_from_mag = "hpmag"
    ///     pm_ra = "pmra_mas_yr"
    ///     pm_dec = "pmdec_mas_yr"
    ///     ref_epoch = 1991.25
    /// "#;
    /// let spec = MaskSpec::parse(text, Path::new("fixtures/masks.toml"), None, Spelling::CommandLine).unwrap();
    /// assert_eq!(spec.layers[0].path(), Path::new("fixtures/hip2_bright.parquet"));
    /// let decl = text.replace("pm_dec", "pm_decl");
    /// let error = MaskSpec::parse(&decl, Path::new("m.toml"), None, Spelling::CommandLine).unwrap_err();
    /// assert!(error.to_string().contains("layer 'star': unknown key `pm_decl`"), "{error}");
    /// ```
    pub fn parse(text: &str, path: &Path, epoch: Option<f64>, spelling: Spelling) -> Result<MaskSpec, Error> {
        if let Some(epoch) = epoch {
            check_year(epoch)
                .map_err(|problem| Error::Usage(format!("{}{problem}", spelling.before_value("epoch"))))?;
        }
        let usage = |message: String| Error::Usage(format!("{}: {message}", path.display()));
        let file: FileToml = toml::from_str(text).map_err(|error| usage(describe(&error, text)))?;
        if file.layer.is_empty() {
            return Err(usage("no [[layer]]: a mask needs at least one layer".into()));
        }
        if file.layer.len() > MAX_LAYERS {
            return Err(usage(format!(
                "{} layers: a mask holds at most {MAX_LAYERS} (one bit each)",
                file.layer.len()
            )));
        }
        if let Some(epoch) = file.epoch {
            check_year(epoch).map_err(|problem| usage(format!("epoch = {problem}")))?;
        }
        let epoch = epoch.or(file.epoch);
        let folder = path.parent().unwrap_or(Path::new(""));
        let mut layers: Vec<LayerSpec> = Vec::with_capacity(file.layer.len());
        for layer in file.layer {
            let name = layer.name.clone();
            if layers.iter().any(|l| l.name == name) {
                return Err(usage(format!("two layers are named '{name}': give each its own name")));
            }
            let source =
                layer.source(folder, epoch, spelling).map_err(|message| usage(format!("layer '{name}': {message}")))?;
            layers.push(LayerSpec { name, source });
        }
        Ok(MaskSpec { path: path.to_path_buf(), layers, epoch })
    }

    /// The bits of the layers named in `names` (`--cut-layers`), or an error naming one that is
    /// not in the file (and the option, as `spelling` does).
    pub fn bits_of(&self, names: &[String], spelling: Spelling) -> Result<u64, Error> {
        let layers: Vec<&str> = self.layers.iter().map(|l| l.name.as_str()).collect();
        bits_of(names, &layers, &self.path.display().to_string(), spelling)
    }

    /// The bits of every layer.
    pub fn all_bits(&self) -> u64 {
        all_bits(self.layers.len())
    }
}

/// The bits of the layers called `names` among `layers` (bit `i` for `layers[i]`); a name that
/// is no layer of `mask` (what the message calls the mask) is a usage error, naming the option as
/// `spelling` does.
pub(crate) fn bits_of(names: &[String], layers: &[&str], mask: &str, spelling: Spelling) -> Result<u64, Error> {
    let mut bits = 0u64;
    for name in names {
        let Some(bit) = layers.iter().position(|l| l == name) else {
            return Err(Error::Usage(format!(
                "{} names '{name}', which is not a layer of {mask} (its layers: {})",
                spelling.option("cut_layers"),
                layers.join(", ")
            )));
        };
        bits |= 1 << bit;
    }
    Ok(bits)
}

/// The bits of all of `layers` layers.
pub fn all_bits(layers: usize) -> u64 {
    if layers >= 64 { u64::MAX } else { (1u64 << layers) - 1 }
}

/// A toml or serde error as one line, naming the layer its position falls in.
fn describe(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim().replace("unknown field", "unknown key");
    let Some(span) = error.span() else { return message };
    // The layer is the last `[[layer]]` header before the error; its name, if the text gives one.
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    // A missing key's span starts at its table's own header.
    let before = text.get(..span.start + "[[layer]]".len()).unwrap_or(before);
    let Some(header) = before.rfind("[[layer]]") else { return format!("line {line}: {message}") };
    let table = &text[header..];
    let table = table[9..].find("[[").map_or(table, |end| &table[..end + 9]);
    let name = table.lines().find_map(|l| {
        let (key, value) = l.split_once('=')?;
        (key.trim() == "name").then(|| value.trim().trim_matches('"').to_string())
    });
    let layer = before.matches("[[layer]]").count();
    match name {
        Some(name) => format!("line {line}: layer '{name}': {message}"),
        None => format!("line {line}: layer {layer}: {message}"),
    }
}

/// The message for key `key` naming `given`, a file not there (at `path`, beside the mask file).
fn no_such_file(key: &str, given: &Path, path: &Path) -> String {
    format!("{key} = \"{}\": there is no such file ({})", given.display(), path.display())
}

/// The keys of a pixel-map layer.
const PIXEL_KEYS: [&str; 4] = ["bits", "below", "above", "outside"];

/// The keys of a DS9 region layer.
const REGION_KEYS: [&str; 1] = ["wcs"];

/// The keys that describe an ellipse.
const ELLIPSE_KEYS: [&str; 6] = ["major", "minor", "axis_ratio", "axis_unit", "axes", "pa"];

impl LayerToml {
    /// The keys given among `among` (every key but `name` and `file` if empty), in file order.
    fn given(&self, among: &[&str]) -> Vec<&'static str> {
        let keys = [
            ("shape", self.shape.is_some()),
            ("ra", self.ra.is_some()),
            ("dec", self.dec.is_some()),
            ("hdu", self.hdu.is_some()),
            ("radius", self.radius.is_some()),
            ("radius_col", self.radius_col.is_some()),
            ("radius_unit", self.radius_unit.is_some()),
            ("radius_from_mag", self.radius_from_mag.is_some()),
            ("mag_radius", self.mag_radius.is_some()),
            ("min_radius", self.min_radius.is_some()),
            ("max_radius", self.max_radius.is_some()),
            ("pm_ra", self.pm_ra.is_some()),
            ("pm_dec", self.pm_dec.is_some()),
            ("ref_epoch", self.ref_epoch.is_some()),
            ("ref_epoch_col", self.ref_epoch_col.is_some()),
            ("major", self.major.is_some()),
            ("minor", self.minor.is_some()),
            ("axis_ratio", self.axis_ratio.is_some()),
            ("axis_unit", self.axis_unit.is_some()),
            ("axes", self.axes.is_some()),
            ("pa", self.pa.is_some()),
            ("bits", self.bits.is_some()),
            ("below", self.below.is_some()),
            ("above", self.above.is_some()),
            ("outside", self.outside.is_some()),
            ("wcs", self.wcs.is_some()),
        ];
        keys.into_iter()
            .filter(|(key, given)| *given && (among.is_empty() || among.contains(key)))
            .map(|(key, _)| key)
            .collect()
    }

    /// Where the layer's shapes come from: a region file takes no other key; a catalogue, its
    /// [`ContaminantSpec`]. A message names the key at fault.
    fn source(self, folder: &Path, epoch: Option<f64>, spelling: Spelling) -> Result<LayerSource, String> {
        if self.file.as_os_str().is_empty() {
            return Err("file = \"\" names no file".into());
        }
        let path = folder.join(&self.file);
        // A missing file that the layer's keys or its name say is a pixel map is said so here,
        // not taken for a catalogue that lacks its radius.
        let given = self.given(&[]);
        let pixel_keys = !given.is_empty() && given.iter().all(|key| PIXEL_KEYS.contains(key));
        let pixel_name = given.is_empty() && crate::io::formats::named_as_pixel_map(&self.file);
        if !path.exists() && (pixel_keys || pixel_name) {
            return Err(no_such_file("file", &self.file, &path));
        }
        if PixelFormat::detect(&path).is_some() {
            return self.pixel_rule(&path).map(|rule| LayerSource::Pixels(path, rule));
        }
        if let Some(key) = self.given(&PIXEL_KEYS).first() {
            return Err(format!(
                "{key} applies to pixel maps (HealSparse, HEALPix, MOC), and {} is none",
                self.file.display()
            ));
        }
        if !is_region_file(&path) {
            if let Some(key) = self.given(&REGION_KEYS).first() {
                return Err(format!("{key} applies to DS9 region files, and {} is none", self.file.display()));
            }
            return self.spec(path, epoch, spelling).map(|spec| LayerSource::Catalogue(Box::new(spec)));
        }
        match self.given(&[]).into_iter().find(|key| !REGION_KEYS.contains(key)) {
            Some(key) => Err(format!(
                "{key} does not apply to a DS9 region file ({}), whose shapes say it all (it takes wcs)",
                self.file.display()
            )),
            None => match &self.wcs {
                Some(wcs) if wcs.as_os_str().is_empty() => Err("wcs = \"\" names no file".into()),
                Some(wcs) if !folder.join(wcs).exists() => Err(no_such_file("wcs", wcs, &folder.join(wcs))),
                wcs => Ok(LayerSource::Regions { path, wcs: wcs.as_ref().map(|w| folder.join(w)) }),
            },
        }
    }

    /// Which cells of the pixel map at `path` the layer holds: only the pixel keys apply.
    fn pixel_rule(&self, path: &Path) -> Result<PixelRule, String> {
        if let Some(key) = self.given(&[]).iter().find(|k| !PIXEL_KEYS.contains(k)) {
            return Err(format!(
                "{key} does not apply to a pixel map ({}): it takes bits, below, above and outside",
                path.display()
            ));
        }
        let bits = match &self.bits {
            None => None,
            Some(bits) if bits.is_empty() => return Err("bits = []: name at least one bit".into()),
            Some(bits) => Some(
                bits.iter()
                    .map(|&b| u32::try_from(b).map_err(|_| format!("bits: {b} is not a bit number")))
                    .collect::<Result<Vec<u32>, String>>()?,
            ),
        };
        for (key, value) in [("below", self.below), ("above", self.above)] {
            if value.is_some_and(|v| !v.is_finite()) {
                return Err(format!("{key} = {}: give a finite value", value.unwrap_or_default()));
            }
        }
        if let (Some(below), Some(above)) = (self.below, self.above)
            && below > above
        {
            return Err(format!(
                "below = {below} and above = {above}: with both, the layer holds values outside below..above, so below must not exceed above"
            ));
        }
        if bits.is_some() && (self.below.is_some() || self.above.is_some()) {
            return Err("give bits, or below/above, not both".into());
        }
        Ok(PixelRule { bits, below: self.below, above: self.above, outside: self.outside.unwrap_or(false) })
    }

    /// The layer's [`ContaminantSpec`], reading the catalogue at `path`.
    fn spec(self, path: PathBuf, epoch: Option<f64>, spelling: Spelling) -> Result<ContaminantSpec, String> {
        let angle = |key: &str, text: &Option<String>| -> Result<Option<SearchRadius>, String> {
            text.as_deref().map(|t| SearchRadius::parse(t).map_err(|e| format!("{key} = \"{t}\": {e}"))).transpose()
        };
        let unit = |key: &str, text: &Option<String>| -> Result<Option<Angle>, String> {
            text.as_deref().map(|t| Angle::parse_unit(t).map_err(|e| format!("{key} = \"{t}\": {e}"))).transpose()
        };
        let mag_radius = match &self.mag_radius {
            None => Vec::new(),
            Some(MagRadius::One(term)) => vec![term.parse::<PowerLaw>().map_err(|e| format!("mag_radius: {e}"))?],
            Some(MagRadius::Terms(terms)) => terms
                .iter()
                .map(|t| t.parse::<PowerLaw>().map_err(|e| format!("mag_radius: {e}")))
                .collect::<Result<_, _>>()?,
        };
        let radius = RadiusOptions {
            maxsep: angle("radius", &self.radius)?,
            radius_col: self.radius_col.clone(),
            radius_unit: unit("radius_unit", &self.radius_unit)?,
            radius_from_mag: self.radius_from_mag.clone(),
            mag_radius,
            min_radius: angle("min_radius", &self.min_radius)?,
            max_radius: angle("max_radius", &self.max_radius)?,
        };
        let ellipse = match self.shape.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("circle") => {
                if let Some(key) = self.given(&ELLIPSE_KEYS).first() {
                    return Err(format!("{key} describes an ellipse: add shape = \"ellipse\""));
                }
                None
            }
            Some("ellipse") => Some(self.ellipse()?),
            Some(other) => return Err(format!("shape = \"{other}\" is not a shape: use \"circle\" or \"ellipse\"")),
        };
        let (maxsep, row_radius) = match &ellipse {
            None => radius.model(&LAYER_RADIUS_NAMES)?,
            Some(_) => {
                // An ellipse's size comes from its axes; `radius` only fills a missing major axis.
                if let Some(key) = self
                    .given(&["radius_col", "radius_unit", "radius_from_mag", "mag_radius", "min_radius", "max_radius"])
                    .first()
                {
                    return Err(format!(
                        "{key} sizes circles; an ellipse layer's size comes from major and minor (radius fills a missing major axis)"
                    ));
                }
                (radius.maxsep, None)
            }
        };
        let motion = match (self.pm_ra, self.pm_dec) {
            (None, None) => {
                if self.ref_epoch.is_some() || self.ref_epoch_col.is_some() {
                    return Err("ref_epoch gives the epoch of proper motions: add pm_ra and pm_dec".into());
                }
                None
            }
            (Some(pm_ra), Some(pm_dec)) => {
                let ref_epoch = match (self.ref_epoch, self.ref_epoch_col) {
                    (Some(year), None) => RefEpoch::Year(check_year(year).map_err(|p| format!("ref_epoch = {p}"))?),
                    (None, Some(column)) => RefEpoch::Column(column),
                    (Some(_), Some(_)) => return Err("give ref_epoch or ref_epoch_col, not both".into()),
                    (None, None) => return Err(
                        "pm_ra and pm_dec need the catalogue's epoch: ref_epoch = 1991.25 (Hipparcos) or ref_epoch_col"
                            .into(),
                    ),
                };
                let Some(epoch) = epoch else {
                    let option = spelling.option("epoch");
                    return Err(format!(
                        "proper motions need the survey's epoch: add epoch = 2016.0 at the top of the file, or give {option}"
                    ));
                };
                Some(MotionSpec { pm_ra, pm_dec, ref_epoch, epoch })
            }
            (Some(_), None) => return Err("pm_ra is given without pm_dec".into()),
            (None, Some(_)) => return Err("pm_dec is given without pm_ra".into()),
        };
        if self.file.as_os_str().is_empty() {
            return Err("file = \"\" names no file".into());
        }
        let hdu = match self.hdu {
            None => None,
            Some(toml::Value::Integer(n)) if n >= 0 => Some(HduChoice::Index(n as usize)),
            Some(toml::Value::String(name)) => Some(name.parse::<HduChoice>()?),
            Some(other) => return Err(format!("hdu = {other:?}: give the HDU's number or its EXTNAME")),
        };
        Ok(ContaminantSpec {
            path,
            ra: self.ra,
            dec: self.dec,
            maxsep,
            row_radius,
            id_column: None,
            hdu,
            names: LAYER_OPTION_NAMES,
            motion,
            ellipse,
        })
    }

    /// The ellipse keys of a `shape = "ellipse"` layer.
    fn ellipse(&self) -> Result<EllipseSpec, String> {
        let Some(major) = self.major.clone() else {
            return Err("shape = \"ellipse\" needs major (the column of the major axis)".into());
        };
        let minor = match (&self.minor, &self.axis_ratio) {
            (Some(_), Some(_)) => return Err("give minor or axis_ratio, not both".into()),
            (Some(column), None) => Some(MinorAxis::Column(column.clone())),
            (None, Some(column)) => Some(MinorAxis::Ratio(column.clone())),
            (None, None) => None,
        };
        let Some(axis_unit) = self.axis_unit.as_deref() else {
            return Err("axis_unit is required for an ellipse (arcsec, arcmin or deg)".into());
        };
        let unit = Angle::parse_unit(axis_unit).map_err(|e| format!("axis_unit = \"{axis_unit}\": {e}"))?;
        let diameters = match self.axes.as_deref() {
            Some("diameter") => true,
            Some("semi") => false,
            Some(other) => return Err(format!("axes = \"{other}\": use \"diameter\" (full lengths) or \"semi\" (semi-axes)")),
            None => return Err("axes is required for an ellipse: \"diameter\" if the columns hold full lengths, \"semi\" for semi-axes".into()),
        };
        Ok(EllipseSpec { major, minor, unit, diameters, pa: self.pa.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MaskSpec, String> {
        MaskSpec::parse(text, Path::new("masks/m.toml"), None, Spelling::CommandLine).map_err(|e| {
            assert!(e.is_usage(), "{e}");
            e.to_string()
        })
    }

    const STAR: &str = "[[layer]]\nname = \"star\"\nfile = \"stars.parquet\"\nradius = \"30arcsec\"\n";

    #[test]
    fn layers_take_bits_in_file_order_and_files_are_beside_the_mask() {
        let text = format!(
            "epoch = 2016.0\n{STAR}\n[[layer]]\nname = \"galaxy\"\nfile = \"../g.fits\"\nhdu = 2\nshape = \"ellipse\"\n\
             major = \"d25\"\naxis_ratio = \"ba\"\naxis_unit = \"arcmin\"\naxes = \"diameter\"\npa = \"pa\"\n"
        );
        let spec = parse(&text).unwrap();
        assert_eq!(spec.layers.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["star", "galaxy"]);
        assert_eq!(spec.layers[1].path(), Path::new("masks/../g.fits"));
        let galaxy = spec.layers[1].catalogue().unwrap();
        assert_eq!(galaxy.hdu, Some(HduChoice::Index(2)));
        let ellipse = galaxy.ellipse.clone().unwrap();
        assert_eq!(ellipse.minor, Some(MinorAxis::Ratio("ba".into())));
        assert!(ellipse.diameters && ellipse.unit == Angle::from_arcsec(60.0));
        assert_eq!(spec.bits_of(&["galaxy".into()], Spelling::CommandLine).unwrap(), 0b10);
        assert_eq!(spec.all_bits(), 0b11);
        let unknown = spec.bits_of(&["stars".into()], Spelling::Python).unwrap_err().to_string();
        assert!(
            unknown.starts_with("cut_layers= names 'stars'") && unknown.contains("its layers: star, galaxy"),
            "{unknown}"
        );
    }

    #[test]
    fn mistakes_name_the_layer_and_the_key() {
        let cases = [
            (
                format!("{STAR}radius_col = \"r\"\nradius_from_mag = \"hp\"\n"),
                "layer 'star': radius_col cannot be used with",
            ),
            (STAR.replace("radius = \"30arcsec\"", "radius = \"30 parsec\""), "layer 'star': radius = \"30 parsec\""),
            (STAR.replace("radius = \"30arcsec\"\n", ""), "layer 'star': radius is required unless radius_col"),
            (format!("{STAR}colour = \"red\"\n"), "line 5: layer 'star': unknown key `colour`"),
            (format!("{STAR}{STAR}"), "two layers are named 'star'"),
            (
                format!("{STAR}pm_ra = \"pmra\"\npm_dec = \"pmdec\"\nref_epoch = 1991.25\n"),
                "layer 'star': proper motions need the survey's epoch",
            ),
            (
                format!("epoch = 2016.0\n{STAR}pm_ra = \"pmra\"\npm_dec = \"pmdec\"\n"),
                "layer 'star': pm_ra and pm_dec need the catalogue's epoch",
            ),
            (format!("{STAR}major = \"a\"\n"), "layer 'star': major describes an ellipse"),
            (
                format!("{STAR}shape = \"ellipse\"\nmajor = \"a\"\naxis_unit = \"arcsec\"\n"),
                "layer 'star': axes is required",
            ),
            (format!("{STAR}shape = \"polygon\"\n"), "shape = \"polygon\" is not a shape"),
            (
                format!(
                    "{STAR}shape = \"ellipse\"\nmajor = \"a\"\naxis_unit = \"arcsec\"\naxes = \"semi\"\nradius_unit = \"arcmin\"\n"
                ),
                "layer 'star': radius_unit sizes circles; an ellipse layer's size comes from major and minor",
            ),
            (STAR.replace("stars.parquet", "bad.reg"), "radius does not apply to a DS9 region file (bad.reg)"),
            ("epoch = 2016.0\n".to_string(), "no [[layer]]"),
            (format!("epoch = 1e308\n{STAR}"), "epoch = 1e308 is not an epoch: give a Julian year from 1000 to 3000"),
            (format!("epoch = 9223372036854775808\n{STAR}"), "epoch = 9.223372036854776e18 is not an epoch"),
            (
                format!("epoch = 2016.0\n{STAR}pm_ra = \"a\"\npm_dec = \"b\"\nref_epoch = -5e9\n"),
                "layer 'star': ref_epoch = -5e9 is not an epoch",
            ),
            (STAR.replace("name = \"star\"\n", ""), "layer 1: missing field `name`"),
            (
                "[[layer]]\nname = \"map\"\nfile = \"nope.fits\"\nbits = [1]\n".to_string(),
                "layer 'map': file = \"nope.fits\": there is no such file (masks/nope.fits)",
            ),
            (
                "[[layer]]\nname = \"map\"\nfile = \"footprint.moc.fits\"\n".to_string(),
                "layer 'map': file = \"footprint.moc.fits\": there is no such file",
            ),
            (format!("{STAR}wcs = \"image.fits\"\n"), "layer 'star': wcs applies to DS9 region files"),
            (
                "[[layer]]\nname = \"r\"\nfile = \"bad.reg\"\nwcs = \"nope.fits\"\n".to_string(),
                "layer 'r': wcs = \"nope.fits\": there is no such file (masks/nope.fits)",
            ),
            (
                "[[layer]]\nname = \"r\"\nfile = \"bad.reg\"\nwcs = \"\"\n".to_string(),
                "layer 'r': wcs = \"\" names no file",
            ),
        ];
        for (text, expected) in cases {
            let error = parse(&text).unwrap_err();
            assert!(error.contains(expected), "{expected:?} not in {error:?} for\n{text}");
            assert!(error.starts_with("masks/m.toml: "), "{error}");
        }
        let many: String = (0..65).map(|i| STAR.replace("\"star\"", &format!("\"s{i}\""))).collect();
        assert!(parse(&many).unwrap_err().contains("65 layers: a mask holds at most 64"));
    }

    #[test]
    fn the_command_line_epoch_overrides_the_file() {
        let text = format!("epoch = 2000.0\n{STAR}pm_ra = \"a\"\npm_dec = \"b\"\nref_epoch_col = \"ep\"\n");
        let spec = MaskSpec::parse(&text, Path::new("m.toml"), Some(2016.0), Spelling::CommandLine).unwrap();
        let motion = spec.layers[0].catalogue().unwrap().motion.clone().unwrap();
        assert_eq!((motion.epoch, motion.ref_epoch), (2016.0, RefEpoch::Column("ep".into())));
        // The caller's epoch is checked as the file's is, and named as the caller spells it.
        for (spelling, refusal) in
            [(Spelling::CommandLine, "--epoch 1e308 is not"), (Spelling::Python, "epoch=NaN is not")]
        {
            let year = if spelling == Spelling::Python { f64::NAN } else { 1e308 };
            let error = MaskSpec::parse(&text, Path::new("m.toml"), Some(year), spelling).unwrap_err();
            assert!(error.is_usage() && error.to_string().starts_with(refusal), "{error}");
        }
    }
}
