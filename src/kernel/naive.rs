//! Brute force: every object against every contaminant, stopping once every object has a hit.

use crate::sky::{SearchRadius, UnitVector};

/// Contaminants tested per step; 16 f64 lanes fill two AVX-512 or four AVX2 registers per axis.
const LANES: usize = 16;
/// Objects tested together against each chunk, so each chunk is loaded once per tile.
const TILE: usize = 8;

/// A block of contaminants laid out axis by axis so the inner loop vectorises.
#[derive(Clone)]
struct Chunk {
    x: [f64; LANES],
    y: [f64; LANES],
    z: [f64; LANES],
}

/// The instruction set chosen at run time, so one portable binary uses the widest vectors the
/// machine has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isa {
    Generic,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512dq") {
                return Isa::Avx512;
            }
            if is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Generic
    }
}

/// The brute-force kernel: exact, no index to build, fastest for small contaminant sets.
pub struct NaiveKernel {
    chunks: Vec<Chunk>,
    radius: SearchRadius,
    isa: Isa,
}

impl NaiveKernel {
    pub fn new(points: &[UnitVector], radius: SearchRadius) -> NaiveKernel {
        // Padding lanes hold NaN: every comparison with NaN is false, so they never hit.
        let empty = Chunk { x: [f64::NAN; LANES], y: [f64::NAN; LANES], z: [f64::NAN; LANES] };
        let chunks = points
            .chunks(LANES)
            .map(|block| {
                let mut chunk = empty.clone();
                for (lane, p) in block.iter().enumerate() {
                    chunk.x[lane] = p[0];
                    chunk.y[lane] = p[1];
                    chunk.z[lane] = p[2];
                }
                chunk
            })
            .collect();
        NaiveKernel { chunks, radius, isa: Isa::detect() }
    }

    #[inline]
    pub fn is_near(&self, v: &UnitVector) -> bool {
        let limit = self.radius.chord2_limit();
        self.chunks.iter().any(|chunk| chunk_hits(chunk, v, limit))
    }

    /// Sets `near[i]` for each object: the same answers as [`NaiveKernel::is_near`], faster.
    pub fn mark_near(&self, objects: &[UnitVector], near: &mut [bool]) {
        let limit = self.radius.chord2_limit();
        match self.isa {
            // SAFETY: `Isa::detect` chose these only where the CPU reports the features.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { mark_near_avx512(&self.chunks, limit, objects, near) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { mark_near_avx2(&self.chunks, limit, objects, near) },
            Isa::Generic => mark_near_body(&self.chunks, limit, objects, near),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
unsafe fn mark_near_avx512(chunks: &[Chunk], limit: f64, objects: &[UnitVector], near: &mut [bool]) {
    mark_near_body(chunks, limit, objects, near)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn mark_near_avx2(chunks: &[Chunk], limit: f64, objects: &[UnitVector], near: &mut [bool]) {
    mark_near_body(chunks, limit, objects, near)
}

// No `fma` feature is enabled above on purpose, and Rust never contracts `a * b + c` into a fused
// multiply-add by itself: every path computes the squared chord with the same roundings as
// `sky::chord2`, so all of them agree to the bit.
#[inline(always)]
fn mark_near_body(chunks: &[Chunk], limit: f64, objects: &[UnitVector], near: &mut [bool]) {
    let mut tiles = objects.chunks_exact(TILE);
    let mut flags = near.chunks_exact_mut(TILE);
    for (tile, out) in (&mut tiles).zip(&mut flags) {
        let mut hit = [false; TILE];
        for chunk in chunks {
            for (t, v) in tile.iter().enumerate() {
                hit[t] |= chunk_hits(chunk, v, limit);
            }
            if hit.iter().all(|&h| h) {
                break;
            }
        }
        out.copy_from_slice(&hit);
    }
    for (v, out) in tiles.remainder().iter().zip(flags.into_remainder()) {
        *out = chunks.iter().any(|chunk| chunk_hits(chunk, v, limit));
    }
}

/// Does any contaminant of `chunk` lie strictly within the chord limit of `v`? Lane-wise and
/// without a branch, so the compiler emits vector code.
#[inline(always)]
fn chunk_hits(chunk: &Chunk, v: &UnitVector, limit: f64) -> bool {
    let mut hit = false;
    for lane in 0..LANES {
        let dx = chunk.x[lane] - v[0];
        let dy = chunk.y[lane] - v[1];
        let dz = chunk.z[lane] - v[2];
        hit |= dx * dx + dy * dy + dz * dz < limit;
    }
    hit
}
