//! A survey mask: layers of contaminants (stars sized by magnitude, ellipses of galaxies...),
//! each indexed on its own, asked together for the bits of the layers that hold an object.
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

use crate::contaminants::ContaminantSet;
use crate::error::Error;
use crate::io::read::ds9::read as read_regions;
use crate::kernel::{ContaminantIndex, KernelChoice};
use crate::sky::UnitVector;

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

    /// Sets `inside[i]` to whether `objects[i]` lies inside the layer: inside one of its shapes
    /// and, if some shapes exclude, inside none of those.
    pub fn mark(&self, objects: &[UnitVector], inside: &mut [bool]) {
        let Some(shapes) = &self.set.shapes else {
            return self.index.mark_near(objects, inside);
        };
        for (v, inside) in objects.iter().zip(inside.iter_mut()) {
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
        Ok(Mask { layers })
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
        let mut inside = vec![false; objects.len()];
        for (bit, layer) in self.layers.iter().enumerate() {
            layer.mark(objects, &mut inside);
            for (word, &hit) in bits.iter_mut().zip(&inside) {
                *word |= u64::from(hit) << bit;
            }
        }
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
