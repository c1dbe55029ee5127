//! The end-to-end tests of the `angcut` binary, in one test binary (ripgrep's layout): one link
//! instead of one per file, which was most of a fresh `cargo test`'s time.

mod cli;
mod cut;
mod docs;
mod errors;
mod faults;
mod fits;
mod masks;
mod output_modes;
mod parquet_copy;
mod pipes;
mod pixel_masks;
mod several_inputs;
mod star_mask;
mod support;
mod text;
mod votable;
