//! How much sky a mask's layers cover (`angcut area`): per layer, for their union, and
//! cumulatively in layer order (bit 0, bits 0-1, ...), as survey teams tabulate masked area.
//!
//! Pixel layers are exact at their own resolution: the sum of their held cells (a HealSparse
//! map's every block read). Circle layers are covered by HEALPix cells at an order: cdshealpix's
//! cone coverage flags each cell fully inside (a guarantee) or touching (a superset), so the true
//! area lies between the cells wholly inside and the cells touching; the best value counts the
//! cells wholly inside and, of the 4 sub-cells of each cell on the edge, those in which a point
//! is inside (by the same exact test the cut uses). Layers are unions of their circles, so
//! overlaps count once.
//! Ellipse and region layers are refused by name for now.

use std::ops::Range;

use cdshealpix::nested;
use rayon::prelude::*;

use super::pixels::{Cells, DEPTH_MAX, SKY_CELLS, merged};
use super::{Layer, Mask};
use crate::contaminants::Radii;
use crate::error::Error;
use crate::sky::{chord2, unit_vector};

/// Square degrees of the whole sky: 4 pi (180 / pi)^2.
pub const SKY_DEG2: f64 = 41_252.961_249_419_27;

/// The deepest default order: cells of ~0.4 arcsec.
const DEEPEST_DEFAULT: u8 = 19;

/// Orders below an edge cell its best value is sampled at: 4 sub-cells.
const SAMPLE_DEPTHS: u8 = 1;

/// An area in square degrees: at least `lower`, at most `upper`, best estimate `best` (all three
/// equal where it is exact).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    /// The cells wholly inside.
    pub lower: f64,
    /// The best estimate.
    pub best: f64,
    /// The cells touching.
    pub upper: f64,
}

/// One layer's area, and that of the union of it and every layer before it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerArea {
    /// The layer's name.
    pub name: String,
    /// Whether its area is exact (a pixel layer) rather than bounded by cells.
    pub exact: bool,
    /// Its area.
    pub area: Area,
    /// The area of layers 0 to this one together.
    pub cumulative: Area,
}

/// The areas of a mask's layers.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaReport {
    /// The order circle layers were covered at.
    pub order: u8,
    /// Per layer, bit 0 first.
    pub layers: Vec<LayerArea>,
    /// The union of every layer.
    pub union: Area,
}

impl AreaReport {
    /// The report as a table: per layer its bit, area (best, and the interval), share of the
    /// sky and cumulative area; then the union.
    pub fn table(&self) -> String {
        let width = self.layers.iter().map(|l| l.name.len()).max().unwrap_or(0).max(5);
        let interval = |a: &Area| {
            if a.lower == a.upper { "exact".to_string() } else { format!("{:.4} .. {:.4}", a.lower, a.upper) }
        };
        let mut text = format!(
            "{:width$}  bit  {:>14}  {:>26}  {:>9}  {:>14}\n",
            "layer", "area deg2", "interval deg2", "sky", "cumulative"
        );
        for (bit, l) in self.layers.iter().enumerate() {
            text.push_str(&format!(
                "{:width$}  {bit:>3}  {:>14.4}  {:>26}  {:>8.4}%  {:>14.4}\n",
                l.name,
                l.area.best,
                interval(&l.area),
                100.0 * l.area.best / SKY_DEG2,
                l.cumulative.best
            ));
        }
        let u = &self.union;
        text.push_str(&format!(
            "{:width$}  {:>3}  {:>14.4}  {:>26}  {:>8.4}%\n",
            "union",
            "",
            u.best,
            interval(u),
            100.0 * u.best / SKY_DEG2
        ));
        text.push_str(&format!("(circles covered by HEALPix cells of order {})\n", self.order));
        text
    }
}

/// The held cells of a layer three ways: wholly inside, best, touching.
struct Bounds {
    lower: Cells,
    best: Cells,
    upper: Cells,
}

impl Bounds {
    fn exact(cells: Cells) -> Bounds {
        Bounds { lower: cells.clone(), best: cells.clone(), upper: cells }
    }

    fn or(&self, other: &Bounds) -> Bounds {
        Bounds {
            lower: self.lower.or(&other.lower),
            best: self.best.or(&other.best),
            upper: self.upper.or(&other.upper),
        }
    }

    fn area(&self) -> Area {
        Area { lower: deg2(&self.lower), best: deg2(&self.best), upper: deg2(&self.upper) }
    }
}

/// The square degrees of `cells`.
fn deg2(cells: &Cells) -> f64 {
    let sum: u128 = cells.moc_ranges().iter().map(|r| u128::from(r.end - r.start)).sum();
    sum as f64 / SKY_CELLS as f64 * SKY_DEG2
}

/// The order circles are covered at unless one is asked for: cells ~64 times smaller than the
/// smallest radius (the best value's error is then well under 0.1% for a circle, and its bounds
/// within a few per cent), at most order 19.
pub fn default_order(mask: &Mask) -> u8 {
    let smallest = mask
        .layers()
        .iter()
        .filter(|l| l.pixels().is_none())
        .flat_map(|l| match &l.contaminants().radii {
            Radii::Uniform(r) => vec![r.angle().radians()],
            Radii::PerContaminant(each) => each.iter().map(|r| r.angle().radians()).collect(),
        })
        .fold(f64::INFINITY, f64::min);
    if !smallest.is_finite() {
        return 0;
    }
    // A cell at order d is ~1.0233 / 2^d radians across.
    let order = (64.0 * 1.0233 / smallest).log2().ceil().max(0.0);
    (order as u8).min(DEEPEST_DEFAULT)
}

/// The areas of `mask`'s layers, circles covered at `order` (default: [`default_order`]).
///
/// ```
/// use std::path::Path;
/// use angcut::KernelChoice;
/// use angcut::mask::{Mask, MaskSpec, area::area};
/// let text = "[[layer]]\nname = \"discs\"\nfile = \"pixels/discs.moc.fits\"\n";
/// let mask = Mask::read(&MaskSpec::parse(text, Path::new("fixtures/m.toml"), None).unwrap(), KernelChoice::Auto).unwrap();
/// let report = area(&mask, None).unwrap();
/// assert!((report.union.best - 123.330_266_974_819).abs() < 1e-9); // mocpy's sky_fraction, in deg2
/// ```
pub fn area(mask: &Mask, order: Option<u8>) -> Result<AreaReport, Error> {
    Ok(area_and_cells(mask, order)?.0)
}

/// [`area`], and each layer's cells that its best value counts (bit 0 first): a pixel layer's
/// own, a circle layer's cells wholly inside at `order` and the inside sub-cells of its edge
/// cells at `order + 1`. What `angcut area --moc` and `--healsparse` write.
pub fn area_and_cells(mask: &Mask, order: Option<u8>) -> Result<(AreaReport, Vec<Cells>), Error> {
    let order = order.unwrap_or_else(|| default_order(mask));
    if order > DEPTH_MAX {
        return Err(Error::Usage(format!("--order {order}: HEALPix orders go to {DEPTH_MAX}")));
    }
    // What cannot be measured is said before anything is computed.
    if let Some(layer) = mask.layers().iter().find(|l| l.pixels().is_none() && l.contaminants().shapes.is_some()) {
        return Err(Error::Usage(format!(
            "layer '{}': the area of ellipse and region layers is not computed yet (circle and pixel layers are)",
            layer.name()
        )));
    }
    let mut layers = Vec::with_capacity(mask.layers().len());
    let mut cells = Vec::with_capacity(mask.layers().len());
    let mut union: Option<Bounds> = None;
    for layer in mask.layers() {
        let bounds = layer_bounds(layer, order)?;
        let cumulative = match &union {
            None => Bounds { lower: bounds.lower.clone(), best: bounds.best.clone(), upper: bounds.upper.clone() },
            Some(before) => before.or(&bounds),
        };
        layers.push(LayerArea {
            name: layer.name().to_string(),
            exact: layer.pixels().is_some(),
            area: bounds.area(),
            cumulative: cumulative.area(),
        });
        cells.push(bounds.best);
        union = Some(cumulative);
    }
    let union = union.map_or(Area { lower: 0.0, best: 0.0, upper: 0.0 }, |u| u.area());
    Ok((AreaReport { order, layers, union }, cells))
}

/// A layer's cells: its map's, or its circles covered at `order`.
fn layer_bounds(layer: &Layer, order: u8) -> Result<Bounds, Error> {
    if let Some(map) = layer.pixels() {
        return map.held_cells().map(Bounds::exact);
    }
    let set = layer.contaminants();
    let shift = |depth: u8| 2 * u32::from(DEPTH_MAX - depth);
    // Each circle's cells on the pool, then their unions.
    type Three = (Vec<Range<u64>>, Vec<Range<u64>>, Vec<Range<u64>>);
    let one_circle = |(i, centre): (usize, &crate::sky::UnitVector)| -> Three {
        let (mut lower, mut best, mut upper) = (Vec::new(), Vec::new(), Vec::new());
        let radius = match &set.radii {
            Radii::Uniform(r) => *r,
            Radii::PerContaminant(each) => each[i],
        };
        let lon = centre[1].atan2(centre[0]);
        let lat = centre[2].atan2((centre[0] * centre[0] + centre[1] * centre[1]).sqrt());
        let coverage = nested::cone_coverage_approx_custom(order, 2, lon, lat, radius.angle().radians());
        for cell in &coverage {
            let range = cell.hash << shift(cell.depth)..(cell.hash + 1) << shift(cell.depth);
            upper.push(range.clone());
            if cell.is_full {
                lower.push(range.clone());
                best.push(range);
            } else {
                // A cell on the edge counts by its 4 sub-cells, each when a point of it is
                // inside: a point placed by the sub-cell's number, not its centre, whose rings
                // follow a circle about a pole and bias the count (0.4% at order 14).
                let depth = (cell.depth + SAMPLE_DEPTHS).min(DEPTH_MAX);
                let children = 1u64 << (2 * u32::from(depth - cell.depth));
                for child in cell.hash * children..(cell.hash + 1) * children {
                    let (dx, dy) = sample_point(child);
                    let (lon, lat) = nested::sph_coo(depth, child, dx, dy);
                    if radius.contains(chord2(&unit_vector(lon.to_degrees(), lat.to_degrees()), centre)) {
                        best.push(child << shift(depth)..(child + 1) << shift(depth));
                    }
                }
            }
        }
        (lower, best, upper)
    };
    let join = |mut a: Three, b: Three| -> Three {
        a.0.extend(b.0);
        a.1.extend(b.1);
        a.2.extend(b.2);
        a
    };
    let (lower, best, upper) =
        set.positions.par_iter().enumerate().map(one_circle).reduce(|| (Vec::new(), Vec::new(), Vec::new()), join);
    // The best cells go one order deeper on the edges: so deep is the MOC they make.
    let best_depth = (order + SAMPLE_DEPTHS).min(DEPTH_MAX);
    Ok(Bounds { lower: union_of(order, lower), best: union_of(best_depth, best), upper: union_of(order, upper) })
}

/// A point of cell `hash` as offsets in [0, 1) along its axes, spread by the cell's number
/// (SplitMix64's finaliser): the same cell gets the same point in every layer, so unions agree.
fn sample_point(hash: u64) -> (f64, f64) {
    let mut z = hash.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let unit = |bits: u64| (bits >> 11) as f64 / (1u64 << 53) as f64;
    (unit(z), unit(z.rotate_left(32)))
}

/// The union of `ranges` (any order, overlapping) as cells at `depth`.
fn union_of(depth: u8, mut ranges: Vec<Range<u64>>) -> Cells {
    ranges.sort_unstable_by_key(|r| r.start);
    merged(depth, ranges.into_iter())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contaminants::ContaminantSet;
    use crate::kernel::KernelChoice;
    use crate::mask::MaskSpec;
    use crate::sky::SearchRadius;
    use std::path::Path;

    fn circles(centres: &[(f64, f64, &str)]) -> Layer {
        let set = ContaminantSet {
            positions: centres.iter().map(|&(ra, dec, _)| unit_vector(ra, dec)).collect(),
            radii: Radii::PerContaminant(centres.iter().map(|&(_, _, r)| SearchRadius::parse(r).unwrap()).collect()),
            ids: None,
            shapes: None,
            skipped: 0,
            rows: None,
        };
        Layer::new("c", set)
    }

    /// A cap's area 2 pi (1 - cos r) lies in the reported interval, the best value within 0.1%,
    /// at the poles and across RA 0 as anywhere.
    #[test]
    fn a_caps_area_is_within_its_interval() {
        let caps = [(10.0, 20.0, "1deg"), (0.0, 89.0, "30arcmin"), (0.0, 90.0, "30arcmin"), (359.9, -89.95, "2deg")];
        for (ra, dec, r) in caps.into_iter().chain([(120.0, 0.0, "5arcmin")]) {
            let mask = Mask::new(vec![circles(&[(ra, dec, r)])], KernelChoice::Auto).unwrap();
            let report = area(&mask, None).unwrap();
            let radius = SearchRadius::parse(r).unwrap().angle().radians();
            let truth = 2.0 * std::f64::consts::PI * (1.0 - radius.cos()) * (180.0 / std::f64::consts::PI).powi(2);
            let a = report.union;
            assert!(a.lower <= truth && truth <= a.upper, "{r} at ({ra}, {dec}): {truth} not in {a:?}");
            assert!((a.best - truth).abs() / truth < 1e-3, "{r} at ({ra}, {dec}): best {} vs {truth}", a.best);
            assert!((a.upper - a.lower) / truth < 0.2, "{a:?}");
        }
    }

    /// Overlapping circles count once: two equal circles at one place are one circle's area.
    #[test]
    fn overlaps_count_once_and_cumulative_areas_grow() {
        let one = Mask::new(vec![circles(&[(50.0, 10.0, "1deg")])], KernelChoice::Auto).unwrap();
        let twice =
            Mask::new(vec![circles(&[(50.0, 10.0, "1deg"), (50.0, 10.0, "1deg")])], KernelChoice::Auto).unwrap();
        let order = Some(12);
        assert_eq!(area(&one, order).unwrap().union, area(&twice, order).unwrap().union);
        let layers = vec![circles(&[(50.0, 10.0, "1deg")]), circles(&[(52.0, 10.0, "1.5deg")])];
        let report = area(&Mask::new(layers, KernelChoice::Auto).unwrap(), order).unwrap();
        let [first, second] = [&report.layers[0], &report.layers[1]];
        assert_eq!(first.cumulative, first.area);
        assert!(
            second.cumulative.best > second.area.best && second.cumulative.best < first.area.best + second.area.best
        );
        assert_eq!(second.cumulative, report.union);
    }

    /// Pixel layers are exact: a MOC's area is mocpy's, a HealSparse map's healsparse's
    /// `get_valid_area` (fixtures/pixels/areas.csv), and `outside` is the rest of the sky.
    #[test]
    fn pixel_layers_are_exact_against_the_reference_tools() {
        let references = std::fs::read_to_string("fixtures/pixels/areas.csv").unwrap();
        let reference = |name: &str| -> f64 {
            references.lines().find_map(|l| l.strip_prefix(&format!("{name},"))).unwrap().parse().unwrap()
        };
        let text = "[[layer]]\nname = \"hsp\"\nfile = \"pixels/bool.hsp\"\n[[layer]]\nname = \"moc\"\nfile = \"pixels/discs.moc.fits\"\n\
                    [[layer]]\nname = \"out\"\nfile = \"pixels/discs.moc.txt\"\noutside = true\n";
        let mask = Mask::read(&MaskSpec::parse(text, Path::new("fixtures/m.toml"), None).unwrap(), KernelChoice::Auto)
            .unwrap();
        let report = area(&mask, None).unwrap();
        let [hsp, moc, out] = [&report.layers[0], &report.layers[1], &report.layers[2]];
        assert!(hsp.exact && hsp.area.lower == hsp.area.upper);
        assert!((hsp.area.best - reference("bool.hsp")).abs() < 1e-9, "{hsp:?}");
        assert!((moc.area.best - reference("discs.moc.fits")).abs() < 1e-9, "{moc:?}");
        assert!((out.area.best + moc.area.best - SKY_DEG2).abs() < 1e-6);
        assert!((report.union.best - SKY_DEG2).abs() < 1e-6, "the map and its outside cover the sky");
    }
}
