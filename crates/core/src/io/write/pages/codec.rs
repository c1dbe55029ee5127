//! A page's compression, undone to filter it and done again after: the codecs the parquet crate
//! uses (its own `Codec` is hidden behind an unstable feature), called directly. LZ4 with Hadoop
//! framing (deprecated), LZO and Brotli are left to the decoding route.

use parquet::basic::Compression;
use std::cell::RefCell;
use std::io::Read;

thread_local! {
    /// Each worker's zstd contexts, made once and used for every page: a context made per page
    /// (as `zstd::bulk::compress` does) cost a third of the compression time on W3's pages of
    /// ~76 kB (294 against 428 MB/s at level 1). The bytes written are the same either way.
    static ZSTD: RefCell<Option<ZstdContexts>> = const { RefCell::new(None) };
}

/// A compressor at one level and a decompressor.
struct ZstdContexts {
    level: i32,
    compressor: zstd::bulk::Compressor<'static>,
    decompressor: zstd::bulk::Decompressor<'static>,
}

/// Runs `job` with this thread's zstd contexts, the compressor at `level` (any level, for a
/// job that only decompresses: `None`).
fn with_zstd<T>(level: Option<i32>, job: impl FnOnce(&mut ZstdContexts) -> std::io::Result<T>) -> Result<T, String> {
    ZSTD.with(|cell| {
        let mut slot = cell.borrow_mut();
        let contexts = match slot.take() {
            Some(contexts) if level.is_none_or(|level| contexts.level == level) => contexts,
            _ => {
                let level = level.unwrap_or(1);
                ZstdContexts {
                    level,
                    compressor: zstd::bulk::Compressor::new(level).map_err(|e| e.to_string())?,
                    decompressor: zstd::bulk::Decompressor::new().map_err(|e| e.to_string())?,
                }
            }
        };
        job(slot.insert(contexts)).map_err(|e| e.to_string())
    })
}

/// A column chunk's codec, when angcut filters its pages itself.
#[derive(Debug, Clone, Copy)]
pub(super) enum PageCodec {
    Uncompressed,
    Snappy,
    Gzip(u32),
    Lz4Raw,
    Zstd(i32),
}

impl PageCodec {
    /// The codec of `compression`, if angcut compresses with it. The level a file was written
    /// with is not stored in it: the writers' default is used (zstd 1, gzip 6).
    pub(super) fn of(compression: Compression) -> Option<PageCodec> {
        Some(match compression {
            Compression::UNCOMPRESSED => PageCodec::Uncompressed,
            Compression::SNAPPY => PageCodec::Snappy,
            Compression::GZIP(level) => PageCodec::Gzip(level.compression_level()),
            Compression::LZ4_RAW => PageCodec::Lz4Raw,
            Compression::ZSTD(level) => PageCodec::Zstd(level.compression_level()),
            _ => return None,
        })
    }

    /// `bytes` decompressed, which its header says are `size` bytes then.
    pub(super) fn decompress(self, bytes: &[u8], size: usize) -> Result<Vec<u8>, String> {
        let out = match self {
            PageCodec::Uncompressed => bytes.to_vec(),
            PageCodec::Snappy => {
                // Its own length first, so that a wrong one allocates nothing.
                if snap::raw::decompress_len(bytes).map_err(|e| e.to_string())? != size {
                    return Err(format!("a page whose header says {size} bytes and its data otherwise"));
                }
                snap::raw::Decoder::new().decompress_vec(bytes).map_err(|e| e.to_string())?
            }
            PageCodec::Gzip(_) => {
                let mut out = Vec::with_capacity(size);
                // One more byte than the header says, to see that there is none.
                flate2::read::MultiGzDecoder::new(bytes)
                    .take(size as u64 + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| e.to_string())?;
                out
            }
            PageCodec::Lz4Raw => lz4_flex::block::decompress(bytes, size).map_err(|e| e.to_string())?,
            PageCodec::Zstd(_) => with_zstd(None, |z| z.decompressor.decompress(bytes, size))?,
        };
        if out.len() != size {
            return Err(format!("a page of {} bytes where its header says {size}", out.len()));
        }
        Ok(out)
    }

    /// `bytes` compressed.
    pub(super) fn compress(self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        Ok(match self {
            PageCodec::Uncompressed => bytes.to_vec(),
            PageCodec::Snappy => snap::raw::Encoder::new().compress_vec(bytes).map_err(|e| e.to_string())?,
            PageCodec::Gzip(level) => {
                use std::io::Write;
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
                encoder.write_all(bytes).map_err(|e| e.to_string())?;
                encoder.finish().map_err(|e| e.to_string())?
            }
            PageCodec::Lz4Raw => lz4_flex::block::compress(bytes),
            PageCodec::Zstd(level) => with_zstd(Some(level), |z| z.compressor.compress(bytes))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::basic::{GzipLevel, ZstdLevel};

    #[test]
    fn every_codec_gives_back_what_it_was_given() {
        let bytes: Vec<u8> = (0..100_000u32).flat_map(|i| (i / 7).to_le_bytes()).collect();
        for compression in [
            Compression::UNCOMPRESSED,
            Compression::SNAPPY,
            Compression::GZIP(GzipLevel::default()),
            Compression::LZ4_RAW,
            Compression::ZSTD(ZstdLevel::default()),
        ] {
            let codec = PageCodec::of(compression).unwrap();
            let packed = codec.compress(&bytes).unwrap();
            assert_eq!(codec.decompress(&packed, bytes.len()).unwrap(), bytes, "{compression:?}");
            assert!(codec.decompress(&packed, bytes.len() - 1).is_err(), "{compression:?} size checked");
        }
        // The reused zstd contexts write what a fresh one does, at each level, and still read
        // what another level wrote.
        for level in [1, 3, 1, -1] {
            let zstd = PageCodec::Zstd(level);
            let packed = zstd.compress(&bytes).unwrap();
            assert_eq!(packed, zstd::bulk::compress(&bytes, level).unwrap(), "level {level}");
            assert_eq!(PageCodec::Zstd(7).decompress(&packed, bytes.len()).unwrap(), bytes);
        }
        assert!(PageCodec::Zstd(1).decompress(b"not zstd", 8).is_err());
        assert_eq!(PageCodec::Zstd(1).decompress(&zstd::bulk::compress(b"ok", 1).unwrap(), 2).unwrap(), b"ok");
        assert!(PageCodec::of(Compression::LZ4).is_none());
        assert!(PageCodec::of(Compression::BROTLI(Default::default())).is_none());
    }
}
