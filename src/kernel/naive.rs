//! Brute force: every object against every contaminant, stopping at the first hit.

use crate::sky::{SearchRadius, UnitVector};

/// Contaminants tested per step; 16 f64 lanes fill two AVX-512 or four AVX2 registers per axis.
const LANES: usize = 16;

/// A block of contaminants laid out axis by axis so the inner loop vectorises.
#[derive(Clone)]
struct Chunk {
    x: [f64; LANES],
    y: [f64; LANES],
    z: [f64; LANES],
}

/// The brute-force kernel: exact, no index to build, fastest for small contaminant sets.
pub struct NaiveKernel {
    chunks: Vec<Chunk>,
    radius: SearchRadius,
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
        NaiveKernel { chunks, radius }
    }

    #[inline]
    pub fn is_near(&self, v: &UnitVector) -> bool {
        let limit = self.radius.chord2_limit();
        self.chunks.iter().any(|chunk| {
            // Same arithmetic as `sky::chord2` and the same `<` as `SearchRadius::contains`,
            // written lane-wise without a branch so the compiler emits vector code.
            let mut hit = false;
            for lane in 0..LANES {
                let dx = chunk.x[lane] - v[0];
                let dy = chunk.y[lane] - v[1];
                let dz = chunk.z[lane] - v[2];
                hit |= dx * dx + dy * dy + dz * dz < limit;
            }
            hit
        })
    }
}
