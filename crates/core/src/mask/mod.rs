//! A survey mask: layers of contaminants (stars sized by magnitude, ellipses of galaxies, DS9
//! regions), each indexed on its own, asked together for the bits of the layers that hold an
//! object. With several layers, one more index of every layer's bounding caps is asked first:
//! one query per object, and only the few objects inside some cap go on to the layers.
//!
//! ```
//! use std::path::Path;
//! use angcut::mask::{Mask, MaskSpec};
//! use angcut::{KernelChoice, unit_vector};
//! let text = r#"
//!     [[layer]]
//!     name = "star"
//!     file = "hip2_bright.parquet"
//!     radius = "1arcmin"
//!     [[layer]]
//!     name = "galaxy"
//!     file = "galaxies.csv"
//!     shape = "ellipse"
//!     major = "major_arcmin"
//!     minor = "minor_arcmin"
//!     axis_unit = "arcmin"
//!     axes = "semi"
//!     pa = "pa_deg"
//! "#;
//! let spec = MaskSpec::parse(text, Path::new("fixtures/masks.toml"), None).unwrap();
//! let mask = Mask::read(&spec, KernelChoice::Auto).unwrap();
//! // Sirius; 80 arcmin from M31's centre along its major axis (PA 35deg), then across it; nowhere.
//! let objects = [
//!     unit_vector(101.2885, -16.7131),
//!     unit_vector(10.6847 + 1.0175, 41.2690 + 1.0922),
//!     unit_vector(10.6847 + 1.4532, 41.2690 - 0.7648),
//!     unit_vector(1.0, -89.0),
//! ];
//! let mut bits = [0u64; 4];
//! mask.mark(&objects, &mut bits);
//! assert_eq!(bits, [0b01, 0b10, 0, 0]);
//! ```

mod file;

pub use file::{LayerSource, LayerSpec, MAX_LAYERS, MaskSpec};

use rayon::prelude::*;

use crate::contaminants::{ContaminantSet, Radii};
use crate::error::Error;
use crate::io::read::ds9::read as read_regions;
use crate::kernel::{ContaminantIndex, KernelChoice, Nearest};
use crate::sky::{UnitVector, chord2};

/// One layer: its contaminants and their index.
pub struct Layer {
    name: String,
    set: ContaminantSet,
    index: ContaminantIndex,
    /// Whether any shape excludes: if none does, the first shape that holds an object settles it.
    excludes: bool,
}

impl Layer {
    /// Indexes `set` (circles, or the bounding caps of its ellipses) as layer `name`.
    pub fn new(name: impl Into<String>, set: ContaminantSet, kernel: KernelChoice) -> Result<Layer, Error> {
        let index = set.index(kernel)?;
        let excludes = set.shapes.iter().flatten().any(|r| r.exclude);
        Ok(Layer { name: name.into(), set, index, excludes })
    }

    /// The layer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its contaminants.
    pub fn contaminants(&self) -> &ContaminantSet {
        &self.set
    }

    /// Its index.
    pub fn index(&self) -> &ContaminantIndex {
        &self.index
    }

    /// The row of the layer's file (a region file: the shape's number, from 0) of its shape `index`.
    pub fn source_row(&self, index: u32) -> u64 {
        self.set.rows.as_ref().map_or(u64::from(index), |rows| rows[index as usize])
    }

    /// The shape of the layer nearest to `v` by its centre among those that hold it, or `None`
    /// when `v` is not inside the layer (inside no shape, or inside an excluding one).
    pub fn nearest(&self, v: &UnitVector) -> Option<Nearest> {
        let Some(shapes) = &self.set.shapes else { return self.index.nearest(v) };
        let (mut best, mut excluded) = (None::<Nearest>, false);
        self.index.any_near(v, |i| {
            let region = &shapes[i as usize];
            if !region.shape.contains(v) {
                return false;
            }
            if region.exclude {
                excluded = true;
                return true;
            }
            let candidate = Nearest { index: i, chord2: chord2(v, &region.shape.centre()) };
            // The smaller chord, and of equal chords the lower index, whatever the visiting order.
            if best.is_none_or(|b| (candidate.chord2, candidate.index) < (b.chord2, b.index)) {
                best = Some(candidate);
            }
            false
        });
        if excluded { None } else { best }
    }

    /// Sets `inside[i]` to whether `objects[i]` lies inside the layer: inside one of its shapes
    /// and, if some shapes exclude, inside none of those.
    pub fn mark(&self, objects: &[UnitVector], inside: &mut [bool]) {
        // First the batch path of the kernel (SIMD, prefetching), which finds the objects inside
        // some shape's bounding cap: most objects of a survey lie in none.
        self.index.mark_near(objects, inside);
        let Some(shapes) = &self.set.shapes else { return };
        for (v, inside) in objects.iter().zip(inside.iter_mut()).filter(|(_, inside)| **inside) {
            let (mut included, mut excluded) = (false, false);
            // The index finds the shapes whose bounding cap holds `v`; their own tests decide.
            // An excluding shape settles it at once; an including one must wait for the rest.
            self.index.any_near(v, |i| {
                let region = &shapes[i as usize];
                if region.shape.contains(v) {
                    if region.exclude {
                        excluded = true;
                        return true;
                    }
                    included = true;
                    return !self.excludes;
                }
                false
            });
            *inside = included && !excluded;
        }
    }
}

/// The layers of a mask, bit `i` for layer `i`.
pub struct Mask {
    layers: Vec<Layer>,
    /// With several layers, one index of every layer's bounding caps: one query tells whether an
    /// object can be in any layer at all, and most objects of a survey are in none, so the
    /// layers' own indexes are asked only about the few that can.
    prefilter: Option<ContaminantIndex>,
}

impl Mask {
    /// Reads and indexes every layer of `spec`, in parallel.
    pub fn read(spec: &MaskSpec, kernel: KernelChoice) -> Result<Mask, Error> {
        let layers = spec
            .layers
            .par_iter()
            .map(|layer| {
                let set = match &layer.source {
                    LayerSource::Catalogue(spec) => ContaminantSet::read(spec)?,
                    LayerSource::Regions(path) => ContaminantSet::from_regions(read_regions(path)?),
                };
                Layer::new(layer.name.clone(), set, kernel)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Mask::new(layers)
    }

    /// A mask of `layers` (at most [`MAX_LAYERS`]).
    pub fn new(layers: Vec<Layer>) -> Result<Mask, Error> {
        if layers.len() > MAX_LAYERS {
            return Err(Error::Usage(format!("{} layers: a mask holds at most {MAX_LAYERS}", layers.len())));
        }
        let prefilter = if layers.len() > 1 {
            let mut caps = Vec::new();
            let mut radii = Vec::new();
            for layer in &layers {
                caps.extend_from_slice(&layer.set.positions);
                match &layer.set.radii {
                    Radii::Uniform(radius) => radii.extend(std::iter::repeat_n(*radius, layer.set.positions.len())),
                    Radii::PerContaminant(each) => radii.extend_from_slice(each),
                }
            }
            Some(ContaminantIndex::build_with_radii(&caps, &radii, KernelChoice::Auto)?)
        } else {
            None
        };
        Ok(Mask { layers, prefilter })
    }

    /// The layers, bit 0 first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// ORs into `bits[i]` the bit of every layer that holds `objects[i]`.
    ///
    /// # Panics
    /// If `bits` and `objects` differ in length.
    pub fn mark(&self, objects: &[UnitVector], bits: &mut [u64]) {
        assert_eq!(objects.len(), bits.len(), "one mask word per object");
        let Some(prefilter) = &self.prefilter else {
            return self.mark_each_layer(objects, bits);
        };
        let mut maybe = vec![false; objects.len()];
        prefilter.mark_near(objects, &mut maybe);
        let candidates: Vec<usize> = (0..objects.len()).filter(|&i| maybe[i]).collect();
        if candidates.is_empty() {
            return;
        }
        let subset: Vec<UnitVector> = candidates.iter().map(|&i| objects[i]).collect();
        let mut words = vec![0u64; subset.len()];
        self.mark_each_layer(&subset, &mut words);
        for (&i, word) in candidates.iter().zip(words) {
            bits[i] |= word;
        }
    }

    /// [`Mask::mark`] asking every layer about every object.
    fn mark_each_layer(&self, objects: &[UnitVector], bits: &mut [u64]) {
        let mut inside = vec![false; objects.len()];
        for (bit, layer) in self.layers.iter().enumerate() {
            layer.mark(objects, &mut inside);
            for (word, &hit) in bits.iter_mut().zip(&inside) {
                *word |= u64::from(hit) << bit;
            }
        }
    }

    /// The nearest shape (by its centre) holding `v` among the layers whose bits are in `layers`:
    /// the layer's number and the shape in it. Of equal separations, the lower layer.
    pub fn nearest(&self, v: &UnitVector, layers: u64) -> Option<(usize, Nearest)> {
        let mut best: Option<(usize, Nearest)> = None;
        for (bit, layer) in self.layers.iter().enumerate().filter(|(bit, _)| layers & (1 << bit) != 0) {
            if let Some(n) = layer.nearest(v)
                && best.is_none_or(|(_, b)| n.chord2 < b.chord2)
            {
                best = Some((bit, n));
            }
        }
        best
    }

    /// How many contaminants all layers hold.
    pub fn contaminants(&self) -> usize {
        self.layers.iter().map(|l| l.index.len()).sum()
    }

    /// Rows of the layers' files that were left out (ellipses without a size).
    pub fn skipped(&self) -> u64 {
        self.layers.iter().map(|l| l.set.skipped).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::angle::Angle;
    use crate::shape::{Ellipse, Polygon, Region, Shape, SkyBox};
    use crate::sky::{SearchRadius, unit_vector};
    use proptest::prelude::*;

    const KERNELS: [KernelChoice; 3] = [KernelChoice::Naive, KernelChoice::KdTree, KernelChoice::Grid];

    /// A random shape of each kind around (ra, dec), `size` degrees across.
    fn shapes(seeds: &[(f64, f64, f64, f64, u8)]) -> Vec<Region> {
        seeds
            .iter()
            .map(|&(ra, dec, size, pa, kind)| {
                let (a, b) = (Angle::from_degrees(size), Angle::from_degrees(size * 0.4));
                let shape = match kind % 4 {
                    0 => Shape::Circle(unit_vector(ra, dec), SearchRadius::new(a).unwrap()),
                    1 => Shape::Ellipse(Ellipse::new(ra, dec, a, b, Angle::from_degrees(pa)).unwrap()),
                    2 => Shape::Box(SkyBox::new(ra, dec, a, b, Angle::from_degrees(pa)).unwrap()),
                    _ => {
                        let corners = [(0.0, 1.0), (0.9, -0.5), (-0.9, -0.5)].map(|(x, y): (f64, f64)| {
                            let d = (dec + y * size).clamp(-89.9, 89.9);
                            (ra + x * size / d.to_radians().cos().max(0.05), d)
                        });
                        Shape::Polygon(Polygon::new(&corners).unwrap())
                    }
                };
                Region { shape, exclude: kind >= 200 }
            })
            .collect()
    }

    /// The plain reference: every shape's exact test, no index.
    fn reference(regions: &[Region], v: &UnitVector) -> bool {
        regions.iter().any(|r| !r.exclude && r.shape.contains(v))
            && !regions.iter().any(|r| r.exclude && r.shape.contains(v))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every kernel gives the shapes' own answer, for objects anywhere (poles and RA 0/360
        /// included), and for objects on a shape's edge, where only the exact test decides.
        #[test]
        fn every_kernel_gives_the_shapes_own_answer(
            seeds in prop::collection::vec(
                (prop_oneof![0.0..360.0f64, 359.0..360.0f64], prop_oneof![-89.0..89.0f64, 85.0..89.0f64], 0.01..5.0f64, 0.0..180.0f64, any::<u8>()),
                1..60,
            ),
            objects in prop::collection::vec((0.0..360.0f64, -90.0..90.0f64), 1..200),
        ) {
            let regions = shapes(&seeds);
            let mut objects: Vec<UnitVector> = objects.iter().map(|&(ra, dec)| unit_vector(ra, dec)).collect();
            // Objects near each shape and on its circle's edge (a cap's boundary point).
            for &(ra, dec, size, _, _) in &seeds {
                objects.push(unit_vector(ra, (dec + size).min(90.0)));
                objects.push(unit_vector(ra + 0.3 * size, dec));
                objects.push(unit_vector(ra, dec));
            }
            let expected: Vec<bool> = objects.iter().map(|v| reference(&regions, v)).collect();
            for kernel in KERNELS {
                let layer = Layer::new("shapes", ContaminantSet::from_regions(regions.clone()), kernel).unwrap();
                let mut inside = vec![false; objects.len()];
                layer.mark(&objects, &mut inside);
                prop_assert_eq!(&inside, &expected, "{:?}", kernel);
            }
        }
    }

    #[test]
    fn the_nearest_shape_is_the_nearest_centre_that_holds_the_object_outside_every_hole() {
        let circle = |ra: f64, radius: &str, exclude: bool| Region {
            shape: Shape::Circle(unit_vector(ra, 0.0), SearchRadius::parse(radius).unwrap()),
            exclude,
        };
        // A big circle at RA 10, a small one at RA 10.8, a hole at RA 9.
        let regions = vec![circle(10.0, "2deg", false), circle(10.8, "0.5deg", false), circle(9.0, "0.3deg", true)];
        let layer = Layer::new("r", ContaminantSet::from_regions(regions), KernelChoice::Auto).unwrap();
        let nearest = |ra: f64| {
            layer.nearest(&unit_vector(ra, 0.0)).map(|n| (n.index, (n.separation().degrees() * 1e6).round() / 1e6))
        };
        assert_eq!(nearest(10.6), Some((1, 0.2)), "held by both: the nearer centre");
        assert_eq!(nearest(10.2), Some((0, 0.2)), "held by the big one only");
        assert_eq!(nearest(9.1), None, "in the hole");
        assert_eq!(nearest(12.5), None);
        let mut inside = [false; 3];
        layer.mark(&[unit_vector(10.6, 0.0), unit_vector(9.1, 0.0), unit_vector(8.5, 0.0)], &mut inside);
        assert_eq!(inside, [true, false, true]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// The prefilter over every layer's caps changes no bit: a mask answers as its layers,
        /// each asked on its own, do.
        #[test]
        fn the_prefilter_changes_no_bit(
            seeds in prop::collection::vec(
                (0.0..360.0f64, -89.0..89.0f64, 0.01..8.0f64, 0.0..180.0f64, any::<u8>(), 0..4usize),
                3..80,
            ),
            objects in prop::collection::vec((0.0..360.0f64, -90.0..90.0f64), 1..300),
        ) {
            let objects: Vec<UnitVector> = objects.iter().map(|&(ra, dec)| unit_vector(ra, dec)).collect();
            let layers: Vec<Layer> = (0..4)
                .map(|k| {
                    let mine: Vec<_> = seeds.iter().filter(|s| s.5 == k).map(|s| (s.0, s.1, s.2, s.3, s.4)).collect();
                    Layer::new(format!("{k}"), ContaminantSet::from_regions(shapes(&mine)), KernelChoice::Auto).unwrap()
                })
                .collect();
            let expected: Vec<u64> = objects
                .iter()
                .map(|v| {
                    layers.iter().enumerate().map(|(bit, layer)| {
                        let mut inside = [false];
                        layer.mark(std::slice::from_ref(v), &mut inside);
                        u64::from(inside[0]) << bit
                    }).sum()
                })
                .collect();
            let mask = Mask::new(layers).unwrap();
            prop_assert!(mask.prefilter.is_some());
            let mut bits = vec![0u64; objects.len()];
            mask.mark(&objects, &mut bits);
            prop_assert_eq!(bits, expected);
        }
    }

    #[test]
    fn bits_follow_the_layers_order() {
        let layer = |ra: f64| {
            let regions = vec![Region {
                shape: Shape::Circle(unit_vector(ra, 0.0), SearchRadius::parse("1deg").unwrap()),
                exclude: false,
            }];
            Layer::new(format!("at {ra}"), ContaminantSet::from_regions(regions), KernelChoice::Auto).unwrap()
        };
        let mask = Mask::new(vec![layer(10.0), layer(10.5), layer(200.0)]).unwrap();
        let mut bits = vec![0; 3];
        mask.mark(&[unit_vector(10.2, 0.0), unit_vector(199.5, 0.0), unit_vector(90.0, 0.0)], &mut bits);
        assert_eq!(bits, [0b011, 0b100, 0]);
        assert_eq!(mask.contaminants(), 3);
    }
}
