//! # angcut
//!
//! Removes the objects of a sky catalogue that lie within an angular radius of any contaminant
//! (bright stars, artefacts, other sources), streaming Parquet in and out with bounded memory.
//!
//! The pieces, one concern each, each importing only those listed before it (the order is
//! checked by `tests/source_rules.rs`):
//! - The sky geometry, from the `angcut-sky` crate (no Arrow, no I/O) and re-exported here:
//!   [`rng`]: the seeded random stream (SplitMix64) of randoms and synthetic catalogues;
//!   [`angle`]: angles with units (`30arcsec`, `1deg`, ...); [`sky`]: unit vectors and the one
//!   exact "near" predicate; [`shape`]: circles, ellipses, boxes and polygons, each with its exact
//!   test; [`motion`]: proper motions; [`star_mask`]: radii from magnitudes, as bright-star masks
//!   are made; [`kernel`]: brute-force, k-d tree and grid kernels behind [`ContaminantIndex`].
//! - [`error`]: the library's [`Error`], naming the file, column and row; [`spelling`]: options
//!   named in messages as the command line or Python spells them.
//! - [`columns`]: finding the coordinate columns of a schema and reading positions from them.
//! - [`io`]: reading any catalogue by its content ([`io::read`]), writing outputs that appear
//!   whole or not at all ([`io::write`]), several inputs and directories ([`io::paths`]).
//! - [`contaminants`]: the contaminant set with its radii, [`ContaminantSet`].
//! - [`mask`]: survey masks: layers of shapes and pixel maps (HealSparse, HEALPix, MOC) in one
//!   index and one bit column; their area, and the mask written as a MOC, HealSparse map or PNG.
//! - [`cut`]: what one batch becomes (kept rows, rejected rows, flag and nearest columns): the
//!   one cut rule that the command line, the library and Python all use.
//! - [`pipeline`]: the reader lanes / workers / ordered writer stream.
//! - [`plan`]: what a user asks for ([`StreamOptions`]), checked once into a [`StreamJob`].
//! - [`job`]: running a job, [`stream_file`]; [`randoms`]: random points through the same mask
//!   and pipeline; [`stats`]: a run's summary as JSON.
//!
//! ```
//! use angcut::{ContaminantIndex, KernelChoice, SearchRadius, unit_vector};
//!
//! let stars = vec![unit_vector(83.82, -5.39)]; // the Trapezium
//! let index = ContaminantIndex::build(&stars, SearchRadius::parse("1arcmin").unwrap(), KernelChoice::Auto).unwrap();
//! assert!(index.is_near(&unit_vector(83.82, -5.38))); // 36 arcsec north
//! assert!(!index.is_near(&unit_vector(83.82, -5.37))); // 72 arcsec north
//! ```

#![warn(missing_docs)]

pub use angcut_sky::{angle, kernel, motion, rng, shape, sky, star_mask};

pub mod columns;
pub mod contaminants;
pub mod cut;
pub mod error;
pub mod io;
pub mod job;
pub mod mask;
pub mod pipeline;
pub mod plan;
pub mod randoms;
pub mod spelling;
pub mod stats;
#[cfg(any(test, feature = "synthetic"))]
pub mod synthetic;

pub use angle::{Angle, AngleError};
pub use contaminants::{ContaminantSet, ContaminantSpec, OptionNames, Radii, RowRadius};
pub use cut::{BatchCutter, CutOptions, OnInvalid, Selection};
pub use error::Error;
pub use io::paths::FileTask;
pub use job::{StreamJob, Summary, stream_file, stream_file_with_progress, stream_with_index, stream_with_mask};
pub use kernel::{ContaminantIndex, Kernel, KernelChoice, Nearest};
pub use pipeline::PipelineOptions;
pub use plan::{DEFAULT_BATCH_SIZE, StreamOptions};
pub use sky::{SearchRadius, UnitVector, unit_vector};
pub use spelling::Spelling;

/// The README's Rust examples, compiled and run as doctests so that they stay true. Its
/// `norun` blocks (shell and Python the docs test skips) are no Rust, whatever rustdoc thinks.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
#[allow(rustdoc::invalid_codeblock_attributes)]
pub struct ReadmeDoctests;

/// The guide's library page, its example compiled and run as a doctest.
#[doc = include_str!("../../../docs/library.md")]
#[cfg(doctest)]
pub struct LibraryGuideDoctests;
