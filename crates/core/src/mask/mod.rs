//! A survey mask: layers of contaminants (stars sized by magnitude, ellipses of galaxies, DS9
//! regions) in one index of every layer's bounding caps. One query per object finds the caps
//! that hold it, and most objects of a survey are in none; for the few that are, the caps' own
//! layers decide: a circle's cap is its exact test, another shape's own test runs.
//!
//! ```
//! use std::path::Path;
//! use angcut::mask::{Mask, MaskSpec};
//! use angcut::{KernelChoice, Spelling, unit_vector};
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
//! let spec = MaskSpec::parse(text, Path::new("fixtures/masks.toml"), None, Spelling::CommandLine).unwrap();
//! let mask = Mask::read(&spec, KernelChoice::Auto).unwrap();
//! // Sirius; 80 arcmin from M31's centre along its major axis (PA 35deg), then across it; nowhere.
//! let objects = [
//!     unit_vector(101.2885, -16.7131),
//!     unit_vector(10.6847 + 1.0175, 41.2690 + 1.0922),
//!     unit_vector(10.6847 + 1.4532, 41.2690 - 0.7648),
//!     unit_vector(1.0, -89.0),
//! ];
//! let mut bits = [0u64; 4];
//! mask.mark(&objects, &mut bits).unwrap();
//! assert_eq!(bits, [0b01, 0b10, 0, 0]);
//! ```

pub mod area;
mod file;
pub mod picture;
pub mod pixels;
pub mod products;

pub use file::{LayerSource, LayerSpec, MAX_LAYERS, MaskSpec, all_bits};
pub use pixels::{PixelMap, PixelRule};

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::contaminants::{ContaminantSet, Radii};
use crate::error::Error;
use crate::io::read::ds9::read as read_regions;
use crate::kernel::{ContaminantIndex, KernelChoice, Nearest};
use crate::sky::{UnitVector, chord2};
use crate::spelling::Spelling;

/// The footprint that footprint layers make, from the cells each holds (its map's outside):
/// where every one of them holds its map; `None` without any.
pub(crate) fn footprint_of<'a>(outsides: impl Iterator<Item = &'a pixels::Cells>) -> Option<pixels::Cells> {
    outsides.map(|outside| outside.not()).reduce(|footprint, inside| footprint.and(&inside))
}

/// One layer: its name, the file it was read from, and its contaminants or its pixel map.
pub struct Layer {
    name: String,
    file: Option<PathBuf>,
    /// The shapes (none for a pixel layer).
    set: ContaminantSet,
    /// Whether any shape excludes: if none does, the first shape that holds an object settles it.
    excludes: bool,
    /// A pixel layer's map: it holds an object by the object's cell, not by shapes.
    pixels: Option<PixelMap>,
}

impl Layer {
    /// `set` (circles, or shapes with their bounding caps) as layer `name`.
    pub fn new(name: impl Into<String>, set: ContaminantSet) -> Layer {
        let excludes = set.shapes.iter().flatten().any(|r| r.exclude);
        Layer { name: name.into(), file: None, set, excludes, pixels: None }
    }

    /// The cells of `map` as layer `name` (from the map's file).
    pub fn from_pixels(name: impl Into<String>, map: PixelMap) -> Layer {
        let file = Some(map.path().to_path_buf());
        let set = ContaminantSet {
            positions: Vec::new(),
            radii: Radii::PerContaminant(Vec::new()),
            ids: None,
            shapes: None,
            skipped: 0,
            rows: None,
        };
        Layer { name: name.into(), file, set, excludes: false, pixels: Some(map) }
    }

    /// A pixel layer's map.
    pub fn pixels(&self) -> Option<&PixelMap> {
        self.pixels.as_ref()
    }

    /// The layer, saying which file it was read from.
    pub fn from_file(mut self, file: impl Into<PathBuf>) -> Layer {
        self.file = Some(file.into());
        self
    }

    /// The layer's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file it was read from, if it was.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Its contaminants.
    pub fn contaminants(&self) -> &ContaminantSet {
        &self.set
    }

    /// The row of the layer's file (a region file: the shape's number, from 0) of its shape `index`.
    pub fn source_row(&self, index: u32) -> u64 {
        self.set.rows.as_ref().map_or(u64::from(index), |rows| rows[index as usize])
    }

    /// Whether `v`, inside the bounding cap of contaminant `i`, is inside its shape: always for
    /// a circle (the cap is the circle); `Some(exclude)` when inside, `None` when not.
    #[inline]
    fn holds(&self, i: usize, v: &UnitVector) -> Option<bool> {
        match &self.set.shapes {
            None => Some(false),
            Some(shapes) => shapes[i].shape.contains(v).then_some(shapes[i].exclude),
        }
    }

    /// The point the separations of `--nearest-columns` are measured to: the shape's centre.
    fn centre(&self, i: usize) -> UnitVector {
        match &self.set.shapes {
            None => self.set.positions[i],
            Some(shapes) => shapes[i].shape.centre(),
        }
    }
}

/// The layers of a mask, bit `i` for layer `i`, and one index of all their contaminants' caps.
pub struct Mask {
    layers: Vec<Layer>,
    index: ContaminantIndex,
    /// Layer `k`'s contaminants are `starts[k]..starts[k + 1]` in the index.
    starts: Vec<u32>,
    /// The bits of the pixel layers.
    pixel_bits: Vec<usize>,
}

impl Mask {
    /// Reads every layer of `spec` (in parallel) and indexes them. If layers fail, the error is
    /// the first failing layer's, in the file's order, whichever thread failed first.
    pub fn read(spec: &MaskSpec, kernel: KernelChoice) -> Result<Mask, Error> {
        let layers: Vec<Result<Layer, Error>> = spec
            .layers
            .par_iter()
            .map(|layer| {
                let set = match &layer.source {
                    LayerSource::Catalogue(spec) => ContaminantSet::read(spec)?,
                    LayerSource::Regions { path, wcs } => {
                        ContaminantSet::from_regions(read_regions(path, wcs.as_deref())?)
                    }
                    LayerSource::Pixels(path, rule) => {
                        return Ok(Layer::from_pixels(layer.name.clone(), PixelMap::open(path, rule)?));
                    }
                };
                Ok(Layer::new(layer.name.clone(), set).from_file(layer.path()))
            })
            .collect();
        // (Collecting rayon's results straight into a `Result` keeps whichever error came first.)
        Mask::new(layers.into_iter().collect::<Result<_, _>>()?, kernel)
    }

    /// A mask of `layers` (at most [`MAX_LAYERS`]), indexed with `kernel`.
    pub fn new(layers: Vec<Layer>, kernel: KernelChoice) -> Result<Mask, Error> {
        if layers.len() > MAX_LAYERS {
            return Err(Error::Usage(format!("{} layers: a mask holds at most {MAX_LAYERS}", layers.len())));
        }
        let total: usize = layers.iter().map(|l| l.set.positions.len()).sum();
        let (mut caps, mut radii, mut starts) = (Vec::with_capacity(total), Vec::with_capacity(total), vec![0u32]);
        for layer in &layers {
            caps.extend_from_slice(&layer.set.positions);
            match &layer.set.radii {
                Radii::Uniform(radius) => radii.extend(std::iter::repeat_n(*radius, layer.set.positions.len())),
                Radii::PerContaminant(each) => radii.extend_from_slice(each),
            }
            let end = u32::try_from(caps.len())
                .map_err(|_| Error::Usage(format!("{} contaminants: a mask holds fewer than 2^32", caps.len())))?;
            starts.push(end);
        }
        let index = ContaminantIndex::build_with_radii(&caps, &radii, kernel)?;
        let pixel_bits = layers.iter().enumerate().filter(|(_, l)| l.pixels.is_some()).map(|(bit, _)| bit).collect();
        Ok(Mask { layers, index, starts, pixel_bits })
    }

    /// The layers, bit 0 first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The bits of the layers called `names`; a name that is no layer is a usage error, naming
    /// the option as `spelling` does.
    pub fn bits_of(&self, names: &[String], spelling: Spelling) -> Result<u64, Error> {
        let layers: Vec<&str> = self.layers.iter().map(Layer::name).collect();
        file::bits_of(names, &layers, "the mask", spelling)
    }

    /// Whether any layer is a pixel map (whose lookups take positions in degrees too).
    pub fn has_pixel_layers(&self) -> bool {
        !self.pixel_bits.is_empty()
    }

    /// Where every footprint layer (a pixel layer with `outside = true`) holds its map: the
    /// sky the survey observed, inside which `angcut randoms` draws. `None` when the mask has no
    /// footprint layer (the whole sky). Reads every block of a HealSparse footprint.
    pub fn footprint(&self) -> Result<Option<pixels::Cells>, Error> {
        let outsides = self
            .layers
            .iter()
            .filter_map(Layer::pixels)
            .filter(|map| map.rule().outside)
            .map(PixelMap::held_cells)
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(footprint_of(outsides.iter()))
    }

    /// The index of every layer's caps.
    pub fn index(&self) -> &ContaminantIndex {
        &self.index
    }

    /// The layer (its bit) and its own number of the index's contaminant `i`.
    #[inline]
    fn locate(&self, i: u32) -> (usize, usize) {
        let bit = self.starts.partition_point(|&start| start <= i) - 1;
        (bit, (i - self.starts[bit]) as usize)
    }

    /// Whether [`Mask::mark_at`] reads the objects' unit vectors: only shape layers do (stars,
    /// ellipses, regions); pixel layers hash (RA, Dec), when given them.
    pub fn reads_vectors(&self) -> bool {
        !self.index.is_empty()
    }

    /// ORs into `bits[i]` the bit of every layer that holds `objects[i]`. Only a pixel layer's
    /// map can fail (a block of a HealSparse map read as objects reach it).
    ///
    /// # Panics
    /// If `bits` and `objects` differ in length.
    pub fn mark(&self, objects: &[UnitVector], bits: &mut [u64]) -> Result<(), Error> {
        self.mark_at(objects, None, bits)
    }

    /// [`Mask::mark`], given also each object's (RA, Dec) in degrees as read: pixel layers hash
    /// those, as healsparse, healpy and mocpy do, rather than the position recovered from its
    /// vector (two arctangents an object, and a last bit that may differ at a pixel's edge).
    /// With `degrees`, a mask that [reads no vectors](Mask::reads_vectors) may be given none
    /// (`objects` empty): a caller then need not compute them.
    ///
    /// # Panics
    /// If `bits`, `objects` and `degrees` differ in length (but for `objects` left empty so).
    pub fn mark_at(
        &self,
        objects: &[UnitVector],
        degrees: Option<&[(f64, f64)]>,
        bits: &mut [u64],
    ) -> Result<(), Error> {
        let without_vectors = objects.is_empty() && degrees.is_some() && !self.reads_vectors();
        assert!(without_vectors || objects.len() == bits.len(), "one mask word per object");
        if !self.index.is_empty() {
            // The kernel's batch path (SIMD, prefetching) first: it finds the objects inside some cap.
            let mut maybe = vec![false; objects.len()];
            self.index.mark_near(objects, &mut maybe);
            for ((v, word), _) in objects.iter().zip(bits.iter_mut()).zip(&maybe).filter(|(_, maybe)| **maybe) {
                *word |= self.bits(v);
            }
        }
        if !self.pixel_bits.is_empty() {
            // The cells first, then each map's lookups in a loop of their own: the trigonometry
            // and the maps' cache misses, apart, each run at the core's full pace.
            let cells: Vec<u64> = match degrees {
                Some(degrees) => {
                    assert_eq!(degrees.len(), bits.len(), "one position per object");
                    degrees.iter().map(|&(ra, dec)| pixels::cell_at(ra, dec)).collect()
                }
                None => objects.iter().map(pixels::cell_of).collect(),
            };
            for &bit in &self.pixel_bits {
                if let Some(map) = &self.layers[bit].pixels {
                    map.mark(&cells, bits, 1 << bit)?;
                }
            }
        }
        Ok(())
    }

    /// The bits of the layers holding `v`: inside one of the layer's shapes and, if some of its
    /// shapes exclude, inside none of those.
    fn bits(&self, v: &UnitVector) -> u64 {
        let (mut included, mut excluded) = (0u64, 0u64);
        self.index.any_near(v, |i| {
            let (bit, i) = self.locate(i);
            let layer = &self.layers[bit];
            // A layer that holds `v` already and excludes nowhere needs no more tests.
            if included & (1 << bit) != 0 && !layer.excludes {
                return false;
            }
            match layer.holds(i, v) {
                Some(true) => excluded |= 1 << bit,
                Some(false) => included |= 1 << bit,
                None => {}
            }
            false
        });
        included & !excluded
    }

    /// The nearest shape (by its centre) holding `v` among the layers whose bits are in `layers`:
    /// the layer's number and the shape in it. Of equal separations, the lower layer, and in a
    /// layer the lower shape.
    pub fn nearest(&self, v: &UnitVector, layers: u64) -> Option<(usize, Nearest)> {
        let mut best: Vec<Option<Nearest>> = vec![None; self.layers.len()];
        let mut excluded = 0u64;
        self.index.any_near(v, |i| {
            let (bit, i) = self.locate(i);
            let layer = &self.layers[bit];
            if layers & (1 << bit) == 0 {
                return false;
            }
            match layer.holds(i, v) {
                Some(true) => excluded |= 1 << bit,
                Some(false) => {
                    let candidate = Nearest { index: i as u32, chord2: chord2(v, &layer.centre(i)) };
                    // Whatever order the kernel visits them in.
                    if best[bit].is_none_or(|b| (candidate.chord2, candidate.index) < (b.chord2, b.index)) {
                        best[bit] = Some(candidate);
                    }
                }
                None => {}
            }
            false
        });
        let mut found: Option<(usize, Nearest)> = None;
        for (bit, n) in best.into_iter().enumerate().filter(|(bit, _)| excluded & (1 << bit) == 0) {
            if let Some(n) = n
                && found.is_none_or(|(_, b)| n.chord2 < b.chord2)
            {
                found = Some((bit, n));
            }
        }
        found
    }

    /// How many contaminants all layers hold.
    pub fn contaminants(&self) -> usize {
        self.index.len()
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
    use crate::shape::{Ellipse, Polygon, Region, RimKind, Ring, Shape, SkyBox};
    use crate::sky::{SearchRadius, unit_vector};
    use proptest::prelude::*;

    const KERNELS: [KernelChoice; 3] = [KernelChoice::Naive, KernelChoice::KdTree, KernelChoice::Grid];

    /// A random shape of each kind around (ra, dec), `size` degrees across.
    fn shapes(seeds: &[(f64, f64, f64, f64, u8)]) -> Vec<Region> {
        seeds
            .iter()
            .map(|&(ra, dec, size, pa, kind)| {
                let (a, b) = (Angle::from_degrees(size), Angle::from_degrees(size * 0.4));
                let (deg, pa_angle) = (Angle::from_degrees, Angle::from_degrees(pa));
                let shape = match kind % 6 {
                    0 => Shape::Circle(unit_vector(ra, dec), SearchRadius::new(a).unwrap()),
                    1 => Shape::Ellipse(Ellipse::new(ra, dec, a, b, pa_angle).unwrap()),
                    2 => Shape::Box(SkyBox::new(ra, dec, a, b, pa_angle).unwrap()),
                    // Rings: an elliptical one cut to a wedge, a whole box one.
                    4 => Shape::Ring(Box::new(
                        Ring::new(
                            RimKind::Ellipse,
                            ra,
                            dec,
                            Some((deg(size / 2.0), deg(size * 0.2))),
                            (a, b),
                            pa_angle,
                            Some((pa, pa + 200.0)),
                        )
                        .unwrap(),
                    )),
                    5 => Shape::Ring(Box::new(
                        Ring::new(
                            RimKind::Box,
                            ra,
                            dec,
                            Some((deg(size / 3.0), deg(size * 0.1))),
                            (a, b),
                            pa_angle,
                            None,
                        )
                        .unwrap(),
                    )),
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
                let layer = Layer::new("shapes", ContaminantSet::from_regions(regions.clone()));
                let mask = Mask::new(vec![layer], kernel).unwrap();
                let mut bits = vec![0; objects.len()];
                mask.mark(&objects, &mut bits).unwrap();
                let inside: Vec<bool> = bits.iter().map(|&b| b == 1).collect();
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
        let mask = Mask::new(vec![Layer::new("r", ContaminantSet::from_regions(regions))], KernelChoice::Auto).unwrap();
        let nearest = |ra: f64| {
            mask.nearest(&unit_vector(ra, 0.0), 1)
                .map(|(layer, n)| (layer, n.index, (n.separation().degrees() * 1e6).round() / 1e6))
        };
        assert_eq!(nearest(10.6), Some((0, 1, 0.2)), "held by both: the nearer centre");
        assert_eq!(nearest(10.2), Some((0, 0, 0.2)), "held by the big one only");
        assert_eq!(nearest(9.1), None, "in the hole");
        assert_eq!(nearest(12.5), None);
        assert_eq!(mask.nearest(&unit_vector(10.6, 0.0), 0), None, "no layer asked about");
        let mut bits = [0; 3];
        mask.mark(&[unit_vector(10.6, 0.0), unit_vector(9.1, 0.0), unit_vector(8.5, 0.0)], &mut bits).unwrap();
        assert_eq!(bits, [1, 0, 1]);
    }

    /// A layer of plain circles (no shapes: the caps are the circles), one per seed.
    fn circles(seeds: &[(f64, f64, f64, f64, u8)]) -> ContaminantSet {
        ContaminantSet {
            positions: seeds.iter().map(|s| unit_vector(s.0, s.1)).collect(),
            radii: Radii::PerContaminant(
                seeds.iter().map(|s| SearchRadius::new(Angle::from_degrees(s.2)).unwrap()).collect(),
            ),
            ids: None,
            shapes: None,
            skipped: 0,
            rows: None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Several layers (plain circles and shapes) in one index: every object gets the bit of
        /// each layer whose shapes hold it by the plain reference, with every kernel; and its
        /// nearest shape is the reference's nearest centre among the layers asked about.
        #[test]
        fn every_layer_gets_its_own_bits_from_the_shared_index(
            seeds in prop::collection::vec(
                (0.0..360.0f64, -89.0..89.0f64, 0.01..8.0f64, 0.0..180.0f64, any::<u8>(), 0..4usize),
                3..80,
            ),
            objects in prop::collection::vec((0.0..360.0f64, -90.0..90.0f64), 1..300),
            asked in 0..16u64,
        ) {
            let objects: Vec<UnitVector> = objects.iter().map(|&(ra, dec)| unit_vector(ra, dec)).collect();
            let mine = |k: usize| -> Vec<_> { seeds.iter().filter(|s| s.5 == k).map(|s| (s.0, s.1, s.2, s.3, s.4)).collect() };
            // Layer 0 plain circles, the others any shapes; each layer's regions for the reference.
            let regions: Vec<Vec<Region>> = (0..4)
                .map(|k| if k == 0 {
                    mine(0).iter().map(|s| Region {
                        shape: Shape::Circle(unit_vector(s.0, s.1), SearchRadius::new(Angle::from_degrees(s.2)).unwrap()),
                        exclude: false,
                    }).collect()
                } else {
                    shapes(&mine(k))
                })
                .collect();
            let expected: Vec<u64> = objects
                .iter()
                .map(|v| regions.iter().enumerate().map(|(bit, r)| u64::from(reference(r, v)) << bit).sum())
                .collect();
            let nearest = |v: &UnitVector| -> Option<(usize, u32)> {
                let mut found: Option<(usize, u32, f64)> = None;
                for (bit, r) in regions.iter().enumerate() {
                    if asked & (1 << bit) == 0 || !reference(r, v) {
                        continue;
                    }
                    for (i, region) in r.iter().enumerate().filter(|(_, r)| !r.exclude && r.shape.contains(v)) {
                        let d = chord2(v, &region.shape.centre());
                        if found.is_none_or(|(_, _, best)| d < best) {
                            found = Some((bit, i as u32, d));
                        }
                    }
                }
                found.map(|(bit, i, _)| (bit, i))
            };
            for kernel in KERNELS {
                let layers: Vec<Layer> = (0..4)
                    .map(|k| {
                        let set = if k == 0 { circles(&mine(0)) } else { ContaminantSet::from_regions(regions[k].clone()) };
                        Layer::new(format!("{k}"), set)
                    })
                    .collect();
                let mask = Mask::new(layers, kernel).unwrap();
                let mut bits = vec![0u64; objects.len()];
                mask.mark(&objects, &mut bits).unwrap();
                prop_assert_eq!(&bits, &expected, "{:?}", kernel);
                for v in &objects {
                    prop_assert_eq!(mask.nearest(v, asked).map(|(bit, n)| (bit, n.index)), nearest(v), "{:?}", kernel);
                }
            }
        }
    }

    #[test]
    fn bits_follow_the_layers_order() {
        let layer = |ra: f64| {
            let regions = vec![Region {
                shape: Shape::Circle(unit_vector(ra, 0.0), SearchRadius::parse("1deg").unwrap()),
                exclude: false,
            }];
            Layer::new(format!("at {ra}"), ContaminantSet::from_regions(regions))
        };
        let mask = Mask::new(vec![layer(10.0), layer(10.5), layer(200.0)], KernelChoice::Auto).unwrap();
        let mut bits = vec![0; 3];
        mask.mark(&[unit_vector(10.2, 0.0), unit_vector(199.5, 0.0), unit_vector(90.0, 0.0)], &mut bits).unwrap();
        assert_eq!(bits, [0b011, 0b100, 0]);
        assert_eq!(mask.contaminants(), 3);
    }

    /// The guide's example of pixel layers (fixtures/pixel_masks.toml, which docs/masks.md shows
    /// as it is), read as a mask beside the fixtures it names.
    #[test]
    fn the_guides_pixel_layers_read_as_a_mask() {
        let spec = MaskSpec::read(Path::new("fixtures/pixel_masks.toml"), None, Spelling::CommandLine).unwrap();
        let mask = Mask::read(&spec, KernelChoice::Auto).unwrap();
        let names: Vec<&str> = mask.layers().iter().map(Layer::name).collect();
        assert_eq!(names, ["bright", "badbits", "shallow", "outside"]);
        assert!(mask.layers().iter().all(|l| l.pixels().is_some()));
        let mut bits = [0u64; 2];
        mask.mark(&[unit_vector(10.0, 20.0), unit_vector(10.0, 40.0)], &mut bits).unwrap();
        assert_eq!(bits[1], 0b1000, "far from the discs: outside the footprint only");
        assert_eq!(bits[0] & 0b1001, 0b0001, "a disc's centre: in the map, inside the footprint");
        // Pixel maps alone read no vectors: given the degrees, none are needed, and the bits
        // are those the vectors gave.
        assert!(!mask.reads_vectors());
        let mut without = [0u64; 2];
        mask.mark_at(&[], Some(&[(10.0, 20.0), (10.0, 40.0)]), &mut without).unwrap();
        assert_eq!(without, bits);
    }

    #[test]
    #[should_panic(expected = "one mask word per object")]
    fn shape_layers_are_given_their_vectors() {
        let regions = vec![Region {
            shape: Shape::Circle(unit_vector(10.0, 0.0), SearchRadius::parse("1deg").unwrap()),
            exclude: false,
        }];
        let layer = Layer::new("stars", ContaminantSet::from_regions(regions));
        let mask = Mask::new(vec![layer], KernelChoice::Auto).unwrap();
        assert!(mask.reads_vectors());
        let _ = mask.mark_at(&[], Some(&[(10.0, 0.0)]), &mut [0]);
    }
}
