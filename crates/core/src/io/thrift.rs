//! A reader of thrift's compact protocol, the encoding of Parquet's footer and page headers: just
//! enough to walk to a field and skip everything else. The parquet crate keeps its own private;
//! angcut needs it to patch the footer's column orders in place
//! ([`crate::io::write`]'s `float_order`) and to check the pages of column chunks it copies
//! without decoding them.

/// The compact protocol's type codes.
pub(crate) const BOOL_TRUE: u8 = 1;
pub(crate) const BOOL_FALSE: u8 = 2;
pub(crate) const BYTE: u8 = 3;
pub(crate) const I16: u8 = 4;
pub(crate) const I32: u8 = 5;
pub(crate) const I64: u8 = 6;
pub(crate) const DOUBLE: u8 = 7;
pub(crate) const BINARY: u8 = 8;
pub(crate) const LIST: u8 = 9;
pub(crate) const SET: u8 = 10;
pub(crate) const MAP: u8 = 11;
pub(crate) const STRUCT: u8 = 12;

pub(crate) fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("Parquet metadata: {message}"))
}

/// A reader of thrift's compact protocol, enough to walk to a field and skip everything else.
pub(crate) struct Compact<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Compact<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Compact<'a> {
        Compact { bytes, at: 0 }
    }

    pub(crate) fn byte(&mut self) -> std::io::Result<u8> {
        let byte = *self.bytes.get(self.at).ok_or_else(|| invalid("cut short"))?;
        self.at += 1;
        Ok(byte)
    }

    pub(crate) fn varint(&mut self) -> std::io::Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(invalid("a varint longer than 64 bits"))
    }

    /// An `i32` (zigzag varint).
    pub(crate) fn i32(&mut self) -> std::io::Result<i32> {
        let zigzag = self.varint()?;
        i32::try_from((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64)).map_err(|_| invalid("an i32 out of range"))
    }

    pub(crate) fn advance(&mut self, n: u64) -> std::io::Result<()> {
        let end = usize::try_from(n).ok().and_then(|n| self.at.checked_add(n)).filter(|&end| end <= self.bytes.len());
        self.at = end.ok_or_else(|| invalid("a value runs past its end"))?;
        Ok(())
    }

    /// The next field's type and id, or `None` at the struct's end.
    pub(crate) fn field_header(&mut self, last_id: &mut i16) -> std::io::Result<Option<(u8, i16)>> {
        let header = self.byte()?;
        if header == 0 {
            return Ok(None);
        }
        let delta = header >> 4;
        let id = if delta == 0 {
            let zigzag = self.varint()?;
            i16::try_from((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64)).map_err(|_| invalid("a field id"))?
        } else {
            last_id.checked_add(i16::from(delta)).ok_or_else(|| invalid("a field id"))?
        };
        *last_id = id;
        Ok(Some((header & 0x0f, id)))
    }

    /// A list's or set's element type and length.
    pub(crate) fn collection_header(&mut self) -> std::io::Result<(u8, u64)> {
        let header = self.byte()?;
        let count = match header >> 4 {
            15 => self.varint()?,
            short => u64::from(short),
        };
        Ok((header & 0x0f, count))
    }

    /// Skips one value of type `kind`.
    pub(crate) fn skip(&mut self, kind: u8) -> std::io::Result<()> {
        match kind {
            // A boolean field carries its value in its header; in a list it is one byte.
            BOOL_TRUE | BOOL_FALSE => Ok(()),
            BYTE => self.advance(1),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.advance(8),
            BINARY => {
                let length = self.varint()?;
                self.advance(length)
            }
            LIST | SET => {
                let (element, count) = self.collection_header()?;
                for _ in 0..count {
                    if matches!(element, BOOL_TRUE | BOOL_FALSE) {
                        self.advance(1)?;
                    } else {
                        self.skip(element)?;
                    }
                }
                Ok(())
            }
            MAP => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let kinds = self.byte()?;
                for _ in 0..count {
                    self.skip(kinds >> 4)?;
                    self.skip(kinds & 0x0f)?;
                }
                Ok(())
            }
            STRUCT => {
                let mut last_id = 0;
                while let Some((kind, _)) = self.field_header(&mut last_id)? {
                    self.skip(kind)?;
                }
                Ok(())
            }
            other => Err(invalid(&format!("unknown thrift type {other}"))),
        }
    }
}

/// A writer of thrift's compact protocol, enough for the page headers of pages angcut filters
/// (the parquet crate's own writer is private, and writes no checksum).
pub(crate) struct CompactWriter {
    pub(crate) bytes: Vec<u8>,
    /// The last field id of each struct being written, innermost last.
    last_ids: Vec<i16>,
}

impl CompactWriter {
    /// A writer appending to `bytes`.
    pub(crate) fn new(bytes: Vec<u8>) -> CompactWriter {
        CompactWriter { bytes, last_ids: Vec::new() }
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.bytes.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.bytes.push(value as u8);
    }

    fn field_header(&mut self, kind: u8, id: i16) {
        let last = self.last_ids.last_mut().expect("a field is written inside a struct");
        let delta = id - *last;
        *last = id;
        if (1..=15).contains(&delta) {
            self.bytes.push(((delta as u8) << 4) | kind);
        } else {
            self.bytes.push(kind);
            self.varint(((i64::from(id) << 1) ^ (i64::from(id) >> 63)) as u64);
        }
    }

    /// Starts a struct: the outermost one, or (with `id`) a field of the one being written.
    pub(crate) fn begin_struct(&mut self, id: Option<i16>) {
        if let Some(id) = id {
            self.field_header(STRUCT, id);
        }
        self.last_ids.push(0);
    }

    /// Ends the struct being written.
    pub(crate) fn end_struct(&mut self) {
        self.bytes.push(0);
        self.last_ids.pop();
    }

    pub(crate) fn i32_field(&mut self, id: i16, value: i32) {
        self.field_header(I32, id);
        self.varint(((i64::from(value) << 1) ^ (i64::from(value) >> 63)) as u64);
    }

    pub(crate) fn bool_field(&mut self, id: i16, value: bool) {
        self.field_header(if value { BOOL_TRUE } else { BOOL_FALSE }, id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let mut writer = CompactWriter::new(Vec::new());
        writer.begin_struct(None);
        writer.i32_field(1, -3);
        writer.i32_field(3, 1 << 30);
        writer.begin_struct(Some(20));
        writer.bool_field(7, false);
        writer.end_struct();
        writer.end_struct();
        let mut reader = Compact::new(&writer.bytes);
        let mut last = 0;
        assert_eq!(reader.field_header(&mut last).unwrap(), Some((I32, 1)));
        assert_eq!(reader.i32().unwrap(), -3);
        assert_eq!(reader.field_header(&mut last).unwrap(), Some((I32, 3)));
        assert_eq!(reader.i32().unwrap(), 1 << 30);
        assert_eq!(reader.field_header(&mut last).unwrap(), Some((STRUCT, 20)));
        let mut inner = 0;
        assert_eq!(reader.field_header(&mut inner).unwrap(), Some((BOOL_FALSE, 7)));
        assert_eq!(reader.field_header(&mut inner).unwrap(), None);
        assert_eq!(reader.field_header(&mut last).unwrap(), None);
        assert_eq!(reader.at, writer.bytes.len());
    }
}
