//! Brute force: every object against every contaminant, stopping once every object has a hit.

use super::{Nearest, closer};
use crate::sky::UnitVector;

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

/// The squared chords of a chunk's radii, lane by lane. Kept apart from the chunks so that a set
/// with one shared radius scans 384-byte chunks, not 512: with the limits inside the chunks that
/// case measured 20-30% slower (`naive_all_pairs/batch/5000`, 2.8-3.2e9 vs 4.1e9 pairs/s).
type ChunkLimits = [f64; LANES];

/// How far below `1 - limit / 2` a computed dot product must be for the pair to be certainly
/// farther than `limit` by the exact squared-chord test. The dot product of stored unit vectors
/// (norms within ~1e-15 of 1) errs by ~1e-15, and the computed chord by a few units in the last
/// place of at most 4: 3.1e-15 would do; this leaves a wide margin, and costs only that pairs
/// within ~0.3 arcsec of a radius's edge go to the exact test.
const FAR_MARGIN: f64 = 1e-12;

/// The dot product below which a contaminant with squared-chord limit `limit` certainly does not
/// reach (NaN, which never compares true, for a NaN padding limit).
fn far_dot(limit: f64) -> f64 {
    1.0 - limit / 2.0 - FAR_MARGIN
}

/// The screen's bound holds only for vectors of norm 1 (to 1e-13, far beyond rounding); anything
/// else (a library caller's own vectors) goes straight to the exact test.
#[inline(always)]
fn is_unit(v: &UnitVector) -> bool {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2] - 1.0).abs() <= 1e-13
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
    limits: Vec<ChunkLimits>,
    /// `far_dot` of each limit: the batch path's prefilter.
    far_dots: Vec<ChunkLimits>,
    /// The one squared chord every contaminant shares, if they do: then compared from a register
    /// instead of loaded lane by lane.
    uniform_limit: Option<f64>,
    /// Every contaminant is a unit vector, so the dot-product screen is sound.
    screen: bool,
    isa: Isa,
}

impl NaiveKernel {
    /// `limits[i]` is the squared chord of contaminant `i`'s radius.
    pub fn new(points: &[UnitVector], limits: &[f64]) -> NaiveKernel {
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
        let chunk_limits: Vec<ChunkLimits> = limits
            .chunks(LANES)
            .map(|block| {
                let mut lanes = [f64::NAN; LANES];
                lanes[..block.len()].copy_from_slice(block);
                lanes
            })
            .collect();
        let screen = points.iter().all(is_unit);
        let far = move |limit: f64| if screen { far_dot(limit) } else { f64::NEG_INFINITY };
        let far_dots = chunk_limits.iter().map(|lanes: &ChunkLimits| lanes.map(far)).collect();
        let uniform_limit = limits.first().copied().filter(|&first| limits.iter().all(|&l| l == first));
        NaiveKernel { chunks, limits: chunk_limits, far_dots, uniform_limit, screen, isa: Isa::detect() }
    }

    #[inline]
    pub fn is_near(&self, v: &UnitVector) -> bool {
        self.chunks.iter().zip(&self.limits).any(|(chunk, limits)| chunk_hits::<PerLane>(chunk, v, limits))
    }

    /// Sets `near[i]` for each object: the same answers as [`NaiveKernel::is_near`], faster.
    pub fn mark_near(&self, objects: &[UnitVector], near: &mut [bool]) {
        match self.uniform_limit {
            Some(limit) => {
                let far = if self.screen { far_dot(limit) } else { f64::NEG_INFINITY };
                self.dispatch(objects, near, Shared(limit), Shared(far))
            }
            None => self.dispatch(objects, near, PerLane(&self.limits), PerLane(&self.far_dots)),
        }
    }

    fn dispatch<'a, L: Limits<'a>>(&'a self, objects: &[UnitVector], near: &mut [bool], limits: L, far: L) {
        match self.isa {
            // SAFETY: `Isa::detect` chose these only where the CPU reports the features.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { mark_near_avx512(&self.chunks, objects, near, limits, far) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { mark_near_avx2(&self.chunks, objects, near, limits, far) },
            Isa::Generic => mark_near_body(&self.chunks, objects, near, limits, far),
        }
    }

    /// Whether `test` holds for any contaminant whose radius contains `v` (stopping at the first).
    pub fn any_near(&self, v: &UnitVector, mut test: impl FnMut(u32) -> bool) -> bool {
        for (c, (chunk, limits)) in self.chunks.iter().zip(&self.limits).enumerate() {
            if !chunk_hits::<PerLane>(chunk, v, limits) {
                continue;
            }
            for (lane, &limit) in limits.iter().enumerate() {
                if chord2_lane(chunk, lane, v) < limit && test((c * LANES + lane) as u32) {
                    return true;
                }
            }
        }
        false
    }

    /// The nearest contaminant whose radius contains `v`, if any (every pair is looked at).
    pub fn nearest(&self, v: &UnitVector) -> Option<Nearest> {
        let mut best: Option<Nearest> = None;
        for (c, (chunk, limits)) in self.chunks.iter().zip(&self.limits).enumerate() {
            if !chunk_hits::<PerLane>(chunk, v, limits) {
                continue;
            }
            for (lane, &limit) in limits.iter().enumerate() {
                let d = chord2_lane(chunk, lane, v);
                if d < limit {
                    best = closer(best, Nearest { index: (c * LANES + lane) as u32, chord2: d });
                }
            }
        }
        best
    }
}

/// Where the squared-chord limits of each chunk come from: one shared value (a register), or
/// each contaminant's own. A uniform set gives the same limits either way.
trait Limits<'a>: Copy {
    type Chunk: Copy;
    /// The limits of chunk `c`, fetched once per chunk.
    fn chunk(self, c: usize) -> Self::Chunk;
    fn lane(chunk: Self::Chunk, lane: usize) -> f64;
}

/// Each contaminant's own limit.
#[derive(Clone, Copy)]
struct PerLane<'a>(&'a [ChunkLimits]);

/// One limit shared by every contaminant.
#[derive(Clone, Copy)]
struct Shared(f64);

impl<'a> Limits<'a> for PerLane<'a> {
    type Chunk = &'a ChunkLimits;
    #[inline(always)]
    fn chunk(self, c: usize) -> &'a ChunkLimits {
        &self.0[c]
    }
    #[inline(always)]
    fn lane(chunk: &'a ChunkLimits, lane: usize) -> f64 {
        chunk[lane]
    }
}

impl Limits<'_> for Shared {
    type Chunk = f64;
    #[inline(always)]
    fn chunk(self, _: usize) -> f64 {
        self.0
    }
    #[inline(always)]
    fn lane(chunk: f64, _: usize) -> f64 {
        chunk
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
unsafe fn mark_near_avx512<'a, L: Limits<'a>>(
    chunks: &[Chunk],
    objects: &[UnitVector],
    near: &mut [bool],
    limits: L,
    far: L,
) {
    mark_near_body(chunks, objects, near, limits, far)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn mark_near_avx2<'a, L: Limits<'a>>(
    chunks: &[Chunk],
    objects: &[UnitVector],
    near: &mut [bool],
    limits: L,
    far: L,
) {
    mark_near_body(chunks, objects, near, limits, far)
}

// No `fma` feature is enabled above on purpose, and Rust never contracts `a * b + c` into a fused
// multiply-add by itself: every path computes the squared chord with the same roundings as
// `sky::chord2`, so all of them agree to the bit.
//
// Each chunk is first screened with the dot product (3 multiplies and 2 adds a lane, against 3
// subtractions, 3 multiplies and 2 adds for the chord): only the objects for which some lane is
// not certainly far (`far_dot`) get the exact test, which alone decides. Far pairs are the
// overwhelming majority for any radius that removes a minority of the sky.
#[inline(always)]
fn mark_near_body<'a, L: Limits<'a>>(chunks: &[Chunk], objects: &[UnitVector], near: &mut [bool], limits: L, far: L) {
    let mut tiles = objects.chunks_exact(TILE);
    let mut flags = near.chunks_exact_mut(TILE);
    for (tile, out) in (&mut tiles).zip(&mut flags) {
        let mut hit = [false; TILE];
        let screened = tile.iter().all(is_unit);
        for (c, chunk) in chunks.iter().enumerate() {
            let far_dots = far.chunk(c);
            let mut maybe = [true; TILE];
            if screened {
                for (t, v) in tile.iter().enumerate() {
                    maybe[t] = chunk_maybe_near::<L>(chunk, v, far_dots);
                }
            }
            if !maybe.iter().any(|&m| m) {
                continue;
            }
            let limit = limits.chunk(c);
            for (t, v) in tile.iter().enumerate() {
                if maybe[t] && !hit[t] {
                    hit[t] = chunk_hits::<L>(chunk, v, limit);
                }
            }
            if hit.iter().all(|&h| h) {
                break;
            }
        }
        out.copy_from_slice(&hit);
    }
    for (v, out) in tiles.remainder().iter().zip(flags.into_remainder()) {
        *out = chunks.iter().enumerate().any(|(c, chunk)| chunk_hits::<L>(chunk, v, limits.chunk(c)));
    }
}

/// Does any contaminant of `chunk` lie strictly within its own radius of `v`? Lane-wise and
/// without a branch, so the compiler emits vector code.
#[inline(always)]
fn chunk_hits<'a, L: Limits<'a>>(chunk: &Chunk, v: &UnitVector, limits: L::Chunk) -> bool {
    let mut hit = false;
    for lane in 0..LANES {
        hit |= chord2_lane(chunk, lane, v) < L::lane(limits, lane);
    }
    hit
}

/// Is any contaminant of `chunk` possibly within its radius of `v` (its dot product above
/// `far_dot`)? False only when every lane is certainly far by the exact test.
#[inline(always)]
fn chunk_maybe_near<'a, L: Limits<'a>>(chunk: &Chunk, v: &UnitVector, far_dots: L::Chunk) -> bool {
    let mut maybe = false;
    for lane in 0..LANES {
        let dot = chunk.x[lane] * v[0] + chunk.y[lane] * v[1] + chunk.z[lane] * v[2];
        maybe |= dot > L::lane(far_dots, lane);
    }
    maybe
}

/// `sky::chord2` between `v` and one lane, with the same operations in the same order.
#[inline(always)]
fn chord2_lane(chunk: &Chunk, lane: usize, v: &UnitVector) -> f64 {
    let dx = chunk.x[lane] - v[0];
    let dy = chunk.y[lane] - v[1];
    let dz = chunk.z[lane] - v[2];
    dx * dx + dy * dy + dz * dz
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sky::{chord2, unit_vector};

    /// Vectors that are not of norm 1 (the library takes any `[f64; 3]`) skip the dot-product
    /// screen, whose bound assumes unit vectors, and get the exact squared-chord test alone.
    #[test]
    fn vectors_off_the_unit_sphere_get_the_exact_test() {
        // Shortened by 2%, a vector on a contaminant's direction has a dot product of 0.98, which
        // the screen would call far for a squared-chord limit of 0.02, yet its chord is 0.02 or 0.
        let contaminants: Vec<UnitVector> = (0..40).map(|i| unit_vector(i as f64 * 9.0, 10.0)).collect();
        let shorter = |vectors: &[UnitVector]| vectors.iter().map(|c| c.map(|x| 0.98 * x)).collect::<Vec<_>>();
        let mut objects = contaminants.clone();
        objects.extend((0..40).map(|i| unit_vector(i as f64 * 9.0 + 4.5, -40.0)));
        let limit = 0.02;
        for (set, objects) in [
            (shorter(&contaminants), objects.clone()),
            (contaminants.clone(), shorter(&objects)),
            (shorter(&contaminants), shorter(&objects)),
        ] {
            let set = &set;
            let expected: Vec<bool> = objects.iter().map(|o| set.iter().any(|c| chord2(o, c) < limit)).collect();
            assert!(expected.iter().any(|&n| n) && expected.iter().any(|&n| !n));
            let kernel = NaiveKernel::new(set, &vec![limit; set.len()]);
            let mut near = vec![false; objects.len()];
            kernel.mark_near(&objects, &mut near);
            assert_eq!(near, expected);
            let limits: Vec<f64> = (0..set.len()).map(|i| limit * (1.0 + i as f64 / 100.0)).collect();
            let expected: Vec<bool> =
                objects.iter().map(|o| set.iter().zip(&limits).any(|(c, &l)| chord2(o, c) < l)).collect();
            NaiveKernel::new(set, &limits).mark_near(&objects, &mut near);
            assert_eq!(near, expected);
        }
    }
}
