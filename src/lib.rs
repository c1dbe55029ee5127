//! # angcut
//!
//! Removes the objects of a sky catalogue that lie within an angular radius of any contaminant
//! (bright stars, artefacts, other sources), streaming Parquet in and out with bounded memory.
//!
//! The pieces, one concern each:
//! - [`angle`]: angles with units (`30arcsec`, `1deg`, ...).
//! - [`sky`]: unit vectors and the one exact "near" predicate.
//! - [`kernel`]: brute-force, k-d tree and grid kernels behind [`ContaminantIndex`].
//! - [`star_mask`]: radii from magnitudes, as bright-star masks are made.
//! - [`catalog`]: reading Parquet catalogues and their coordinate columns ([`bounded_file`]: no reads past the end).
//! - [`input`]: any input by its content: Parquet, Arrow IPC file or stream (also stdin), CSV.
//! - [`contaminants`]: reading the contaminant set with its radii, [`ContaminantSet`].
//! - [`cut`]: what one batch becomes (kept rows, rejected rows, flag and nearest columns).
//! - [`pipeline`]: the reader / workers / ordered writer stream.
//! - [`output`]: atomic Parquet and Arrow IPC output, or an IPC stream to stdout.
//! - [`file_plan`]: several inputs and directories mirrored under an output directory.
//! - [`job`]: the whole `angcut stream` job, [`stream_file`].
//! - [`stats`]: the job's summary as JSON.
//! - [`cli`]: the command line's arguments and their translation into a job (also used by the
//!   Python binding's `angcut.stream`); [`progress`]: its progress line.
//!
//! ```
//! use angcut::{Angle, ContaminantIndex, KernelChoice, unit_vector};
//!
//! let stars = vec![unit_vector(83.82, -5.39)]; // the Trapezium
//! let index = ContaminantIndex::build(&stars, Angle::parse_maxsep("1arcmin").unwrap(), KernelChoice::Auto).unwrap();
//! assert!(index.is_near(&unit_vector(83.82, -5.38))); // 36 arcsec north
//! assert!(!index.is_near(&unit_vector(83.82, -5.37))); // 72 arcsec north
//! ```

pub mod angle;
pub mod bounded_file;
pub mod catalog;
pub mod cli;
pub mod contaminants;
pub mod cut;
pub mod error;
pub mod file_plan;
pub mod input;
pub mod job;
pub mod kernel;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod sky;
pub mod star_mask;
pub mod stats;
pub mod synthetic;

pub use angle::{Angle, AngleError};
pub use contaminants::{ContaminantSet, ContaminantSpec, Radii, RowRadius};
pub use cut::{BatchCutter, CutOptions, OnInvalid, Selection};
pub use error::Error;
pub use file_plan::FileTask;
pub use job::{StreamJob, Summary, stream_file, stream_file_with_progress, stream_with_index};
pub use kernel::{ContaminantIndex, Kernel, KernelChoice, Nearest};
pub use pipeline::PipelineOptions;
pub use sky::{UnitVector, unit_vector};

/// The README's Rust examples, compiled and run as doctests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
