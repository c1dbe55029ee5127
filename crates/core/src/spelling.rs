//! How a message names an option: as the command line's flag or as Python's keyword argument.
//!
//! Both front doors take the same options ([`crate::StreamOptions`]; Python's `angcut.stream`
//! keywords are its field names), so each rule's message is written once, naming an option by
//! its field name, and spelled for the caller here.
//!
//! ```
//! use angcut::Spelling;
//! assert_eq!(Spelling::CommandLine.option("batch_size"), "--batch-size");
//! assert_eq!(Spelling::Python.option("batch_size"), "batch_size=");
//! assert_eq!(Spelling::CommandLine.options(&["epoch", "mask_bits"]), "--epoch, --mask-bits");
//! assert_eq!(format!("{}NaN", Spelling::CommandLine.before_value("epoch")), "--epoch NaN");
//! assert_eq!(format!("{}NaN", Spelling::Python.before_value("epoch")), "epoch=NaN");
//! ```

/// Which front door's names a message uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Spelling {
    /// `angcut`'s flags: `mask_bits` is `--mask-bits`.
    #[default]
    CommandLine,
    /// Python's keyword arguments: `mask_bits` is `mask_bits=`.
    Python,
}

impl Spelling {
    /// The option whose field name is `field` (`mask_bits`), as this front door spells it.
    pub fn option(self, field: &str) -> String {
        match self {
            Spelling::CommandLine => format!("--{}", field.replace('_', "-")),
            Spelling::Python => format!("{field}="),
        }
    }

    /// The option whose field name is `field` as written before its value: `--epoch ` (with
    /// its space) or `epoch=`, for a message that quotes the value given.
    pub fn before_value(self, field: &str) -> String {
        match self {
            Spelling::CommandLine => format!("{} ", self.option(field)),
            Spelling::Python => self.option(field),
        }
    }

    /// The options `fields`, spelled and joined by commas.
    pub fn options(self, fields: &[&str]) -> String {
        fields.iter().map(|field| self.option(field)).collect::<Vec<_>>().join(", ")
    }
}
