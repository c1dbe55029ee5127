//! # angcut-sky
//!
//! The sky geometry under [angcut](https://docs.rs/angcut): what "near" means, exactly, and the
//! indexes that answer it for millions of objects. No Arrow and no I/O: the catalogues, masks and
//! pipeline are the `angcut` crate's, which re-exports every module here under the same name.
//!
//! The pieces, each importing only those listed before it (checked by the `angcut` crate's
//! `tests/source_rules.rs`; that nothing here imports the layers above, Cargo checks):
//! - [`rng`]: the seeded random stream (SplitMix64) of randoms and synthetic catalogues.
//! - [`angle`]: angles with units (`30arcsec`, `1deg`, ...); [`sky`]: unit vectors and the one
//!   exact "near" predicate; [`shape`]: circles, ellipses, boxes and polygons, each with its exact
//!   test; [`motion`]: proper motions; [`star_mask`]: radii from magnitudes, as bright-star masks
//!   are made.
//! - [`kernel`]: brute-force, k-d tree and grid kernels behind [`kernel::ContaminantIndex`], with
//!   identical answers.
//!
//! ```
//! use angcut_sky::{ContaminantIndex, KernelChoice, SearchRadius, unit_vector};
//!
//! let stars = vec![unit_vector(83.82, -5.39)]; // the Trapezium
//! let index = ContaminantIndex::build(&stars, SearchRadius::parse("1arcmin").unwrap(), KernelChoice::Auto).unwrap();
//! assert!(index.is_near(&unit_vector(83.82, -5.38))); // 36 arcsec north
//! assert!(!index.is_near(&unit_vector(83.82, -5.37))); // 72 arcsec north
//! ```

#![warn(missing_docs)]

pub mod angle;
pub mod kernel;
pub mod motion;
#[cfg(any(test, feature = "synthetic"))]
pub mod positions;
pub mod rng;
pub mod shape;
pub mod sky;
pub mod star_mask;

pub use angle::{Angle, AngleError};
pub use kernel::{ContaminantIndex, KernelChoice};
pub use sky::{SearchRadius, UnitVector, unit_vector};
