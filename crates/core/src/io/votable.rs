//! What VOTable's reader and writer share: the datatypes (IVOA VOTable 1.4, section 2.1), each
//! with its name, its Arrow type and its width in a binary stream, written once.

use arrow::datatypes::DataType;

/// A FIELD's datatype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Boolean,
    Bit,
    UByte,
    Short,
    Int,
    Long,
    Float,
    Double,
    FloatComplex,
    DoubleComplex,
    Char,
    UnicodeChar,
}

/// Every datatype with its name in a FIELD's `datatype`.
const NAMES: [(Kind, &str); 12] = [
    (Kind::Boolean, "boolean"),
    (Kind::Bit, "bit"),
    (Kind::UByte, "unsignedByte"),
    (Kind::Short, "short"),
    (Kind::Int, "int"),
    (Kind::Long, "long"),
    (Kind::Float, "float"),
    (Kind::Double, "double"),
    (Kind::FloatComplex, "floatComplex"),
    (Kind::DoubleComplex, "doubleComplex"),
    (Kind::Char, "char"),
    (Kind::UnicodeChar, "unicodeChar"),
];

impl Kind {
    /// The datatype named `datatype`, if VOTable defines one.
    pub(crate) fn parse(datatype: &str) -> Option<Kind> {
        NAMES.iter().find(|(_, name)| *name == datatype).map(|(kind, _)| *kind)
    }

    /// Its name, as a FIELD's `datatype` says it.
    pub(crate) fn name(self) -> &'static str {
        NAMES.iter().find(|(kind, _)| *kind == self).map_or("", |(_, name)| name)
    }

    /// The Arrow type of one element (a complex number is two of them).
    pub(crate) fn element_type(self) -> DataType {
        match self {
            Kind::Boolean | Kind::Bit => DataType::Boolean,
            Kind::UByte => DataType::UInt8,
            Kind::Short => DataType::Int16,
            Kind::Int => DataType::Int32,
            Kind::Long => DataType::Int64,
            Kind::Float | Kind::FloatComplex => DataType::Float32,
            Kind::Double | Kind::DoubleComplex => DataType::Float64,
            Kind::Char | Kind::UnicodeChar => DataType::Utf8,
        }
    }

    /// Bytes of one element in a binary stream (bits are counted apart).
    pub(crate) fn width(self) -> usize {
        match self {
            Kind::Boolean | Kind::Bit | Kind::UByte | Kind::Char => 1,
            Kind::Short | Kind::UnicodeChar => 2,
            Kind::Int | Kind::Float => 4,
            Kind::Long | Kind::Double | Kind::FloatComplex => 8,
            Kind::DoubleComplex => 16,
        }
    }

    /// Arrow elements per VOTable element.
    pub(crate) fn parts(self) -> usize {
        if matches!(self, Kind::FloatComplex | Kind::DoubleComplex) { 2 } else { 1 }
    }

    pub(crate) fn is_text(self) -> bool {
        matches!(self, Kind::Char | Kind::UnicodeChar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_parses_to_its_kind_and_back() {
        for (kind, name) in NAMES {
            assert_eq!(Kind::parse(name), Some(kind));
            assert_eq!(kind.name(), name);
        }
        assert_eq!(Kind::parse("Double"), None, "names are case-sensitive");
        assert_eq!(Kind::parse("string"), None);
    }
}
