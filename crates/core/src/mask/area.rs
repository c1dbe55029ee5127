//! How much sky a mask's layers cover (`angcut area`): per layer, for their union, and
//! cumulatively in layer order (bit 0, bits 0-1, ...), as survey teams tabulate masked area.
//!
//! Pixel layers are exact at their own resolution: the sum of their held cells (a HealSparse
//! map's every block read). Circle layers are covered by HEALPix cells at an order: cdshealpix's
//! cone coverage flags each cell fully inside (a guarantee) or touching (a superset), so the true
//! area lies between the cells wholly inside and the cells touching; the best value counts the
//! cells wholly inside and, of the 4 sub-cells of each cell on the edge, those in which a point
//! is inside (by the same exact test the cut uses). Ellipses, boxes and polygons (catalogue
//! ellipse layers, DS9 region layers) are bounded by cdshealpix's exact polygon coverage of
//! great-circle polygons inside and around them, and a region file's excluded
//! shapes are taken out of its included ones. Layers are unions of their shapes, so overlaps
//! count once.

use std::ops::Range;

use cdshealpix::nested;
use cdshealpix::sph_geom::ContainsSouthPoleMethod;
use rayon::prelude::*;

use super::pixels::{Cells, DEPTH_MAX, SKY_CELLS, merged};
use super::{Layer, Mask};
use crate::contaminants::Radii;
use crate::error::Error;
use crate::shape::Shape;
use crate::sky::unit_vector;

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
    /// With footprint layers: its area inside the footprint.
    pub in_footprint: Option<Area>,
    /// With footprint layers: the area of layers 0 to this one together inside the footprint.
    pub cumulative_in_footprint: Option<Area>,
}

/// The areas of a mask's layers.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaReport {
    /// The order shape layers were covered at.
    pub order: u8,
    /// Per layer, bit 0 first.
    pub layers: Vec<LayerArea>,
    /// The union of every layer.
    pub union: Area,
    /// The footprint's area (where every `outside` layer's map holds), if the mask has one.
    pub footprint_deg2: Option<f64>,
    /// With footprint layers: the union of every layer inside the footprint.
    pub union_in_footprint: Option<Area>,
}

impl AreaReport {
    /// The report as a table: per layer its bit, area (best, and the interval), share of the
    /// sky and cumulative area; then the union.
    pub fn table(&self) -> String {
        let width = self.layers.iter().map(|l| l.name.len()).max().unwrap_or(0).max(5);
        let interval = |a: &Area| {
            if a.lower == a.upper { "exact".to_string() } else { format!("{:.4} .. {:.4}", a.lower, a.upper) }
        };
        // With a footprint: each area inside it, and its share of it.
        let within = |a: Option<&Area>| match (a, self.footprint_deg2) {
            (Some(a), Some(f)) if f > 0.0 => format!("  {:>14.4}  {:>8.4}%", a.best, 100.0 * a.best / f),
            _ => String::new(),
        };
        let footprint_columns = if self.footprint_deg2.is_some() {
            format!("  {:>14}  {:>9}", "in footprint", "footprint")
        } else {
            String::new()
        };
        let mut text = format!(
            "{:width$}  bit  {:>14}  {:>26}  {:>9}  {:>14}{footprint_columns}\n",
            "layer", "area deg2", "interval deg2", "sky", "cumulative"
        );
        for (bit, l) in self.layers.iter().enumerate() {
            text.push_str(&format!(
                "{:width$}  {bit:>3}  {:>14.4}  {:>26}  {:>8.4}%  {:>14.4}{}\n",
                l.name,
                l.area.best,
                interval(&l.area),
                100.0 * l.area.best / SKY_DEG2,
                l.cumulative.best,
                within(l.in_footprint.as_ref()),
            ));
        }
        let u = &self.union;
        text.push_str(&format!(
            "{:width$}  {:>3}  {:>14.4}  {:>26}  {:>8.4}%  {:>14}{}\n",
            "union",
            "",
            u.best,
            interval(u),
            100.0 * u.best / SKY_DEG2,
            "",
            within(self.union_in_footprint.as_ref()),
        ));
        if let Some(f) = self.footprint_deg2 {
            text.push_str(&format!("(footprint, where every outside layer's map holds: {f:.4} deg2)\n"));
        }
        if self.layers.iter().any(|l| !l.exact) {
            text.push_str(&format!("(shapes covered by HEALPix cells of order {})\n", self.order));
        }
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

    /// The area of these cells inside `footprint` (exact, so the bounds stay bounds).
    fn area_in(&self, footprint: &Cells) -> Area {
        let inside = |cells: &Cells| deg2(&cells.and(footprint));
        Area { lower: inside(&self.lower), best: inside(&self.best), upper: inside(&self.upper) }
    }
}

/// The square degrees of `cells`.
fn deg2(cells: &Cells) -> f64 {
    let sum: u128 = cells.moc_ranges().iter().map(|r| u128::from(r.end - r.start)).sum();
    sum as f64 / SKY_CELLS as f64 * SKY_DEG2
}

/// The order shapes are covered at unless one is asked for: cells ~64 times smaller than the
/// smallest radius (or semi-axis, or half-side) (the best value's error is then well under 0.1% for a circle, and its bounds
/// within a few per cent), at most order 19.
pub fn default_order(mask: &Mask) -> u8 {
    let smallest = mask
        .layers()
        .iter()
        .filter(|l| l.pixels().is_none())
        .flat_map(|l| match (&l.contaminants().shapes, &l.contaminants().radii) {
            (Some(regions), _) => regions.iter().map(|r| r.shape.least_radius()).collect(),
            (None, Radii::Uniform(r)) => vec![r.angle().radians()],
            (None, Radii::PerContaminant(each)) => each.iter().map(|r| r.angle().radians()).collect(),
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
/// use angcut::{KernelChoice, Spelling};
/// use angcut::mask::{Mask, MaskSpec, area::area};
/// let text = "[[layer]]\nname = \"discs\"\nfile = \"pixels/discs.moc.fits\"\n";
/// let mask = Mask::read(&MaskSpec::parse(text, Path::new("fixtures/m.toml"), None, Spelling::CommandLine).unwrap(), KernelChoice::Auto).unwrap();
/// let report = area(&mask, None).unwrap();
/// assert!((report.union.best - 123.330_266_974_819).abs() < 1e-9); // mocpy's sky_fraction, in deg2
/// ```
pub fn area(mask: &Mask, order: Option<u8>) -> Result<AreaReport, Error> {
    Ok(area_and_cells(mask, order)?.0)
}

/// The cells of a mask as its area report counted them.
#[derive(Debug, Clone)]
pub struct MaskCells {
    /// Each layer's cells that its best value counts, bit 0 first.
    pub layers: Vec<Cells>,
    /// The footprint of its `outside` layers, if it has any ([`Mask::footprint`]).
    pub footprint: Option<Cells>,
}

/// [`area`], and each layer's cells that its best value counts (bit 0 first): a pixel layer's
/// own, a circle layer's cells wholly inside at `order` and the inside sub-cells of its edge
/// cells at `order + 1`, and the footprint: what `angcut area --moc`, `--healsparse` and `--png`
/// draw on. Each map is read once (the footprint comes from its layers' cells, not read again).
pub fn area_and_cells(mask: &Mask, order: Option<u8>) -> Result<(AreaReport, MaskCells), Error> {
    let order = order.unwrap_or_else(|| default_order(mask));
    if order > DEPTH_MAX {
        // The command line refuses such an order before; this is for the library's callers.
        return Err(Error::Usage(format!("order {order}: HEALPix orders go to {DEPTH_MAX}")));
    }
    let all: Vec<Bounds> = mask.layers().iter().map(|layer| layer_bounds(layer, order)).collect::<Result<_, _>>()?;
    let is_footprint = |layer: &Layer| layer.pixels().is_some_and(|map| map.rule().outside);
    let outsides = mask.layers().iter().zip(&all).filter(|(layer, _)| is_footprint(layer)).map(|(_, b)| &b.best);
    let footprint = super::footprint_of(outsides);
    let within = |bounds: &Bounds| footprint.as_ref().map(|f| bounds.area_in(f));
    let mut layers = Vec::with_capacity(mask.layers().len());
    let mut cells = Vec::with_capacity(mask.layers().len());
    let mut union: Option<Bounds> = None;
    for (layer, bounds) in mask.layers().iter().zip(all) {
        let cumulative = match &union {
            None => Bounds { lower: bounds.lower.clone(), best: bounds.best.clone(), upper: bounds.upper.clone() },
            Some(before) => before.or(&bounds),
        };
        layers.push(LayerArea {
            name: layer.name().to_string(),
            exact: layer.pixels().is_some(),
            area: bounds.area(),
            cumulative: cumulative.area(),
            in_footprint: within(&bounds),
            cumulative_in_footprint: within(&cumulative),
        });
        cells.push(bounds.best);
        union = Some(cumulative);
    }
    let nothing = Area { lower: 0.0, best: 0.0, upper: 0.0 };
    let union_in_footprint = footprint.as_ref().map(|f| union.as_ref().map_or(nothing, |u| u.area_in(f)));
    let union = union.map_or(nothing, |u| u.area());
    let footprint_deg2 = footprint.as_ref().map(deg2);
    Ok((
        AreaReport { order, layers, union, footprint_deg2, union_in_footprint },
        MaskCells { layers: cells, footprint },
    ))
}

/// A layer's cells: its map's, or its shapes covered at `order`: the union of its shapes (a
/// region file's included ones) less the union of a region file's excluded ones.
fn layer_bounds(layer: &Layer, order: u8) -> Result<Bounds, Error> {
    if let Some(map) = layer.pixels() {
        return map.held_cells().map(Bounds::exact);
    }
    let set = layer.contaminants();
    let empty = || (Vec::new(), Vec::new(), Vec::new());
    let join = |mut a: Three, b: Three| -> Three {
        a.0.extend(b.0);
        a.1.extend(b.1);
        a.2.extend(b.2);
        a
    };
    // Each shape's cells on the pool, then their unions.
    let (included, excluded) = match &set.shapes {
        None => {
            let circle = |(i, centre): (usize, &crate::sky::UnitVector)| {
                let radius = match &set.radii {
                    Radii::Uniform(r) => *r,
                    Radii::PerContaminant(each) => each[i],
                };
                shape_cells(&Shape::Circle(*centre, radius), order)
            };
            (set.positions.par_iter().enumerate().map(circle).reduce(empty, join), empty())
        }
        Some(regions) => {
            let of = |exclude: bool| {
                let chosen = regions.par_iter().filter(|r| r.exclude == exclude);
                chosen.map(|r| shape_cells(&r.shape, order)).reduce(empty, join)
            };
            (of(false), of(true))
        }
    };
    let bounds = |three: Three| {
        // The best cells go one order deeper on the edges: so deep is the MOC they make.
        let best_depth = (order + SAMPLE_DEPTHS).min(DEPTH_MAX);
        Bounds { lower: union_of(order, three.0), best: union_of(best_depth, three.1), upper: union_of(order, three.2) }
    };
    let included = bounds(included);
    if excluded.2.is_empty() {
        return Ok(included);
    }
    // A hole certainly cut (wholly inside an excluded shape) lowers the upper bound; one that
    // may be cut (touching it) the lower bound.
    let excluded = bounds(excluded);
    Ok(Bounds {
        lower: included.lower.minus(&excluded.upper),
        best: included.best.minus(&excluded.best),
        upper: included.upper.minus(&excluded.lower),
    })
}

/// A shape's cells: wholly inside, best, touching, as depth-29 ranges.
type Three = (Vec<Range<u64>>, Vec<Range<u64>>, Vec<Range<u64>>);

/// Sides of the polygons inside and around an ellipse: they differ in area by 0.03%, so the
/// interval is hardly wider than the cells' own.
const ELLIPSE_SIDES: usize = 128;

/// The cells of one shape at `order`. A circle: cdshealpix's cone coverage. Any other shape is a
/// polygon of great-circle edges in its own tangent plane (a box, a polygon) or lies between two
/// such polygons (an ellipse): cdshealpix's exact polygon coverage of the one around it gives the
/// cells touching, of the one inside it the cells wholly inside. The best value counts, of the 4
/// sub-cells of each cell between, those in which a point is inside by the shape's exact test.
/// A shape with a hole (an annulus, a ring) is its filled outer part's cells less its inner's.
fn shape_cells(shape: &Shape, order: u8) -> Three {
    let shift = |depth: u8| 2 * u32::from(DEPTH_MAX - depth);
    let range = |depth: u8, hash: u64| hash << shift(depth)..(hash + 1) << shift(depth);
    // What is certainly in a shape with a hole is certainly in its outer part and certainly
    // out of its inner one.
    let parts = match shape {
        Shape::Annulus(centre, inner, outer) => Some((Shape::Circle(*centre, *outer), Shape::Circle(*centre, *inner))),
        Shape::Ring(ring) => match ring.parts() {
            (outer, Some(inner)) => Some((outer, inner)),
            (_, None) => None,
        },
        _ => None,
    };
    if let Some((outer, inner)) = parts {
        let cells = |part: &Shape| {
            let (lower, best, upper) = shape_cells(part, order);
            let best_depth = (order + SAMPLE_DEPTHS).min(DEPTH_MAX);
            (union_of(order, lower), union_of(best_depth, best), union_of(order, upper))
        };
        let ((outer_lower, outer_best, outer_upper), (inner_lower, inner_best, inner_upper)) =
            (cells(&outer), cells(&inner));
        let ranges = |c: Cells| c.moc_ranges().iter().cloned().collect::<Vec<_>>();
        return (
            ranges(outer_lower.minus(&inner_upper)),
            ranges(outer_best.minus(&inner_best)),
            ranges(outer_upper.minus(&inner_lower)),
        );
    }
    let (mut lower, mut upper) = (Vec::new(), Vec::new());
    match shape {
        Shape::Circle(centre, radius) => {
            let (lon, lat) = lon_lat(centre);
            for cell in &nested::cone_coverage_approx_custom(order, 2, lon, lat, radius.angle().radians()) {
                upper.push(range(cell.depth, cell.hash));
                if cell.is_full {
                    lower.push(range(cell.depth, cell.hash));
                }
            }
        }
        Shape::Annulus(..) => unreachable!("handled above"),
        Shape::Ellipse(_) | Shape::Box(_) | Shape::Polygon(_) | Shape::Sector(_) | Shape::Ring(_) => {
            let (inside, around) = match shape {
                Shape::Ellipse(e) => (e.outline(ELLIPSE_SIDES, false), e.outline(ELLIPSE_SIDES, true)),
                Shape::Sector(s) => (s.outline(ELLIPSE_SIDES, false), s.outline(ELLIPSE_SIDES, true)),
                // Without a hole (handled above): the rim within its wedge.
                Shape::Ring(r) => (r.outline(ELLIPSE_SIDES, false), r.outline(ELLIPSE_SIDES, true)),
                Shape::Box(b) => (b.corners().to_vec(), b.corners().to_vec()),
                Shape::Polygon(p) => (p.vertices(), p.vertices()),
                Shape::Circle(..) | Shape::Annulus(..) => unreachable!("handled above"),
            };
            // Which side is inside, told by the exact test at the south pole (cdshealpix would
            // otherwise guess it from the vertices).
            let pole = if shape.contains(&[0.0, 0.0, -1.0]) {
                ContainsSouthPoleMethod::ContainsSouthPole
            } else {
                ContainsSouthPoleMethod::DoNotContainsSouthPole
            };
            let coverage = |vertices: &[crate::sky::UnitVector]| {
                let lon_lats: Vec<(f64, f64)> = vertices.iter().map(lon_lat).collect();
                nested::get(order).custom_polygon_coverage(&lon_lats, &pole, true)
            };
            for cell in &coverage(&around) {
                upper.push(range(cell.depth, cell.hash));
            }
            for cell in coverage(&inside).into_iter().filter(|cell| cell.is_full) {
                lower.push(range(cell.depth, cell.hash));
            }
        }
    }
    lower.sort_unstable_by_key(|r| r.start);
    upper.sort_unstable_by_key(|r| r.start);
    // The cells between, at `order`: each counted by its 4 sub-cells, each when a point of it
    // is inside: a point placed by the sub-cell's number, not its centre, whose rings follow a
    // circle about a pole and bias the count (0.4% at order 14).
    let between = merged(order, upper.iter().cloned()).minus(&merged(order, lower.iter().cloned()));
    let mut best = lower.clone();
    let depth = (order + SAMPLE_DEPTHS).min(DEPTH_MAX);
    let children = 1u64 << (2 * u32::from(depth - order));
    for r in between.moc_ranges().iter() {
        for cell in r.start >> shift(order)..r.end >> shift(order) {
            for child in cell * children..(cell + 1) * children {
                let (dx, dy) = sample_point(child);
                let (lon, lat) = nested::sph_coo(depth, child, dx, dy);
                if shape.contains(&unit_vector(lon.to_degrees(), lat.to_degrees())) {
                    best.push(range(depth, child));
                }
            }
        }
    }
    (lower, best, upper)
}

/// A unit vector's longitude and latitude in radians.
fn lon_lat(v: &crate::sky::UnitVector) -> (f64, f64) {
    (v[1].atan2(v[0]), v[2].atan2((v[0] * v[0] + v[1] * v[1]).sqrt()))
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
    use crate::spelling::Spelling;
    use std::path::Path;

    /// The area in deg2 of a cap of `r` degrees: 2 pi (1 - cos r).
    fn cap_deg2(r: f64) -> f64 {
        2.0 * std::f64::consts::PI * (1.0 - r.to_radians().cos()) * (180.0 / std::f64::consts::PI).powi(2)
    }

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
            let truth = cap_deg2(radius.to_degrees());
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
        let mask = Mask::read(
            &MaskSpec::parse(text, Path::new("fixtures/m.toml"), None, Spelling::CommandLine).unwrap(),
            KernelChoice::Auto,
        )
        .unwrap();
        let report = area(&mask, None).unwrap();
        let [hsp, moc, out] = [&report.layers[0], &report.layers[1], &report.layers[2]];
        assert!(hsp.exact && hsp.area.lower == hsp.area.upper);
        assert!((hsp.area.best - reference("bool.hsp")).abs() < 1e-9, "{hsp:?}");
        assert!((moc.area.best - reference("discs.moc.fits")).abs() < 1e-9, "{moc:?}");
        assert!((out.area.best + moc.area.best - SKY_DEG2).abs() < 1e-6);
        assert!((report.union.best - SKY_DEG2).abs() < 1e-6, "the map and its outside cover the sky");

        // The `outside` layer makes a footprint: the MOC's discs. The HealSparse map holds the
        // same discs (fixtures/make_pixels.py), so all of it is inside; the outside none of it.
        let footprint = report.footprint_deg2.unwrap();
        assert!((footprint - moc.area.best).abs() < 1e-9);
        assert_eq!(hsp.in_footprint.unwrap(), hsp.area);
        assert_eq!(out.in_footprint.unwrap().best, 0.0);
        assert_eq!(report.union_in_footprint.unwrap().best, footprint);
        let table = report.table();
        assert!(table.contains("in footprint") && table.contains("100.0000%"), "{table}");
    }

    /// The spherical area of a convex polygon of great-circle edges: its angles' excess over a
    /// flat polygon's.
    fn spherical_polygon_area(vertices: &[crate::sky::UnitVector]) -> f64 {
        let cross = |a: &[f64; 3], b: &[f64; 3]| {
            [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
        };
        let dot = |a: &[f64; 3], b: &[f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        let n = vertices.len();
        let mut angles = 0.0;
        for i in 0..n {
            let (a, b, c) = (&vertices[(i + n - 1) % n], &vertices[i], &vertices[(i + 1) % n]);
            // The angle at b between the great circles to a and to c: between their tangents.
            let (ta, tc) = (cross(&cross(b, a), b), cross(&cross(b, c), b));
            angles += (dot(&cross(&ta, &tc), b).abs()).atan2(dot(&ta, &tc));
        }
        (angles - (n as f64 - 2.0) * std::f64::consts::PI) * (180.0 / std::f64::consts::PI).powi(2)
    }

    /// The area of the tangent-plane ellipse with semi-axes `a`, `b` (radians) on the sphere:
    /// the gnomonic area element dx dy / (1 + x^2 + y^2)^(3/2) integrated over it (Simpson).
    fn ellipse_area(a: f64, b: f64) -> f64 {
        let (ta, tb) = (a.tan(), b.tan());
        let n = 2000;
        let simpson = |f: &dyn Fn(f64) -> f64, from: f64, to: f64| {
            let h = (to - from) / n as f64;
            let inner: f64 = (1..n).map(|i| f(from + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 }).sum();
            (f(from) + f(to) + inner) * h / 3.0
        };
        let radial = |t: f64| {
            let (c, s) = (t.cos(), t.sin());
            simpson(&|r: f64| ta * tb * r / (1.0 + r * r * (ta * ta * c * c + tb * tb * s * s)).powf(1.5), 0.0, 1.0)
        };
        simpson(&radial, 0.0, std::f64::consts::TAU) * (180.0 / std::f64::consts::PI).powi(2)
    }

    fn shapes_layer(shapes: Vec<(Shape, bool)>) -> Layer {
        let regions = shapes.into_iter().map(|(shape, exclude)| crate::shape::Region { shape, exclude }).collect();
        Layer::new("shapes", ContaminantSet::from_regions(regions))
    }

    /// Ellipses, boxes and polygons, at the poles, across RA 0 and anywhere: the true area
    /// (numerically integrated, or by the spherical excess) inside the interval, the best value
    /// within 0.1%; an ellipse with equal axes is the cap of that radius.
    #[test]
    fn an_ellipse_box_or_polygons_area_is_within_its_interval() {
        use crate::angle::Angle;
        use crate::shape::{Ellipse, Polygon, SkyBox};
        let deg = Angle::from_degrees;
        let mut cases: Vec<(String, Shape, f64)> = Vec::new();
        for (ra, dec, a, b, pa) in
            [(10.0, 20.0, 2.0, 0.7, 30.0), (359.5, -89.0, 1.5, 1.0, 80.0), (0.2, 0.0, 0.4, 0.1, 0.0)]
        {
            let e = Ellipse::new(ra, dec, deg(a), deg(b), deg(pa)).unwrap();
            cases.push((
                format!("ellipse at ({ra}, {dec})"),
                Shape::Ellipse(e),
                ellipse_area(a.to_radians(), b.to_radians()),
            ));
        }
        let r: f64 = 1.2;
        let cap = cap_deg2(r);
        cases.push((
            "round ellipse at the pole".into(),
            Shape::Ellipse(Ellipse::new(0.0, 90.0, deg(r), deg(r), deg(0.0)).unwrap()),
            cap,
        ));
        let b = SkyBox::new(359.9, 45.0, deg(2.0), deg(1.0), deg(20.0)).unwrap();
        cases.push(("box across RA 0".into(), Shape::Box(b), spherical_polygon_area(&b.corners())));
        let p = Polygon::new(&[(100.0, -89.0), (220.0, -88.5), (340.0, -89.2)]).unwrap();
        let truth = spherical_polygon_area(&p.vertices());
        cases.push(("polygon round the south pole".into(), Shape::Polygon(p), truth));
        for (name, shape, truth) in cases {
            let mask = Mask::new(vec![shapes_layer(vec![(shape, false)])], KernelChoice::Auto).unwrap();
            let a = area(&mask, None).unwrap().union;
            assert!(a.lower <= truth && truth <= a.upper, "{name}: {truth} not in {a:?}");
            assert!((a.best - truth).abs() / truth < 1e-3, "{name}: best {} vs {truth}", a.best);
            assert!((a.upper - a.lower) / truth < 0.05, "{name}: {a:?}");
        }
    }

    /// A DS9 annulus is its ring: 2 pi (cos r1 - cos r2), about a pole too.
    #[test]
    fn an_annulus_area_is_its_ring() {
        for (ra, dec) in [(10.0, 20.0), (0.0, -89.9)] {
            let (inner, outer) = (SearchRadius::parse("0.5deg").unwrap(), SearchRadius::parse("2deg").unwrap());
            let ring = Shape::Annulus(unit_vector(ra, dec), inner, outer);
            let mask = Mask::new(vec![shapes_layer(vec![(ring, false)])], KernelChoice::Auto).unwrap();
            let a = area(&mask, None).unwrap().union;
            let truth = cap_deg2(2.0) - cap_deg2(0.5);
            assert!(a.lower <= truth && truth <= a.upper, "({ra}, {dec}): {truth} not in {a:?}");
            assert!((a.best - truth).abs() / truth < 1e-3, "({ra}, {dec}): best {} vs {truth}", a.best);
        }
    }

    /// A panda's sector is its share of the ring (the ring is symmetric about its centre), a pie
    /// slice its share of the disc, also about a pole and across RA 0.
    #[test]
    fn a_sectors_area_is_its_share_of_the_ring() {
        use crate::shape::Sector;
        let radius = |r: &str| SearchRadius::parse(r).unwrap();
        let cases = [
            (10.0, 20.0, Some("0.5deg"), 0.0, 90.0),
            (0.0, -89.9, Some("0.5deg"), 300.0, 60.0),
            (359.9, 0.0, None, 45.0, 270.0),
        ];
        for (ra, dec, inner, start, stop) in cases {
            let sector = Sector::new(ra, dec, inner.map(radius), radius("2deg"), start, stop).unwrap();
            let mask = Mask::new(vec![shapes_layer(vec![(Shape::Sector(sector), false)])], KernelChoice::Auto).unwrap();
            let a = area(&mask, None).unwrap().union;
            let share = (stop - start).rem_euclid(360.0) / 360.0;
            let truth = share * (cap_deg2(2.0) - inner.map_or(0.0, |_| cap_deg2(0.5)));
            assert!(a.lower <= truth && truth <= a.upper, "({ra}, {dec}): {truth} not in {a:?}");
            assert!((a.best - truth).abs() / truth < 1e-3, "({ra}, {dec}): best {} vs {truth}", a.best);
        }
    }

    /// An elliptical or box ring is its outer rim less its inner; a wedge of a quarter turn
    /// from the first axis holds a quarter of it (the rims are symmetric about both axes, on the
    /// sphere too); also about a pole and across RA 0.
    #[test]
    fn a_rings_area_is_its_rims_difference_and_a_quarter_its_quarter() {
        use crate::angle::Angle;
        use crate::shape::{Ellipse, RimKind, Ring, SkyBox};
        let deg = Angle::from_degrees;
        // A rim's area: an ellipse between its polygons of 4,096 sides inside and around, a
        // box its corners' polygon.
        let rim_area = |kind: RimKind, ra: f64, dec: f64, (a, b): (f64, f64), pa: f64| match kind {
            RimKind::Ellipse => {
                let e = Ellipse::new(ra, dec, deg(a), deg(b), deg(pa)).unwrap();
                (spherical_polygon_area(&e.outline(4096, false)) + spherical_polygon_area(&e.outline(4096, true))) / 2.0
            }
            RimKind::Box => spherical_polygon_area(&SkyBox::new(ra, dec, deg(a), deg(b), deg(pa)).unwrap().corners()),
        };
        let cases = [
            (RimKind::Ellipse, 10.0, 20.0, None),
            // Not at RA 0 exactly: a vertex on lon 0 trips a debug assertion of cdshealpix's
            // (0.10.1) polygon coverage, which reads its longitude as -0.
            (RimKind::Ellipse, 10.0, -89.5, Some((30.0, 120.0))),
            (RimKind::Box, 359.9, 0.0, None),
            (RimKind::Box, 120.0, 60.0, Some((30.0, 120.0))),
        ];
        for (kind, ra, dec, sector) in cases {
            let (inner, outer, pa) = ((0.8, 0.3), (2.0, 1.0), 120.0);
            let sizes = |(a, b): (f64, f64)| (deg(a), deg(b));
            // The first axis at position angle 120 is DS9 angle 30: the wedge starts on it.
            let ring = Ring::new(kind, ra, dec, Some(sizes(inner)), sizes(outer), deg(pa), sector).unwrap();
            let mask =
                Mask::new(vec![shapes_layer(vec![(Shape::Ring(Box::new(ring)), false)])], KernelChoice::Auto).unwrap();
            let a = area(&mask, None).unwrap().union;
            let share = if sector.is_some() { 0.25 } else { 1.0 };
            let truth = share * (rim_area(kind, ra, dec, outer, pa) - rim_area(kind, ra, dec, inner, pa));
            assert!(a.lower <= truth && truth <= a.upper, "{kind:?} ({ra}, {dec}): {truth} not in {a:?}");
            assert!((a.best - truth).abs() / truth < 2e-3, "{kind:?} ({ra}, {dec}): best {} vs {truth}", a.best);
            assert!((a.upper - a.lower) / truth < 0.2, "{kind:?} ({ra}, {dec}): {a:?}");
        }
    }

    /// A region's excluded shape is a hole: a disc less a disc inside it.
    #[test]
    fn excluded_shapes_cut_holes() {
        let centre = unit_vector(60.0, -30.0);
        let disc = |r: &str| Shape::Circle(centre, SearchRadius::parse(r).unwrap());
        let mask = Mask::new(vec![shapes_layer(vec![(disc("2deg"), false), (disc("1deg"), true)])], KernelChoice::Auto)
            .unwrap();
        let a = area(&mask, None).unwrap().union;
        let truth = cap_deg2(2.0) - cap_deg2(1.0);
        assert!(a.lower <= truth && truth <= a.upper, "{truth} not in {a:?}");
        assert!((a.best - truth).abs() / truth < 1e-3, "best {} vs {truth}", a.best);
    }

    /// Without `outside` layers there is no footprint, and no column for one.
    #[test]
    fn a_mask_without_footprint_layers_reports_none() {
        let mask = Mask::new(vec![circles(&[(50.0, 10.0, "1deg")])], KernelChoice::Auto).unwrap();
        let report = area(&mask, Some(10)).unwrap();
        assert_eq!(
            (report.footprint_deg2, report.union_in_footprint, report.layers[0].in_footprint),
            (None, None, None)
        );
        assert!(!report.table().contains("footprint"));
    }
}
