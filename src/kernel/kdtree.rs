//! A k-d tree over the contaminants' unit vectors, used as a prefilter for the exact predicate.

use kiddo::{ImmutableKdTree, SquaredEuclidean};

use crate::sky::{SearchRadius, UnitVector, chord2};

/// The k-d tree kernel: finds candidates within a slightly widened chord, then applies the same
/// exact predicate as the brute-force kernel, so both cut exactly the same rows.
pub struct KdTreeKernel {
    tree: ImmutableKdTree<f64, 3>,
    points: Vec<UnitVector>,
    radius: SearchRadius,
    search_limit: f64,
}

impl KdTreeKernel {
    /// Builds the tree; `points` must not be empty.
    pub fn new(points: &[UnitVector], radius: SearchRadius) -> Result<KdTreeKernel, String> {
        let tree = ImmutableKdTree::new_from_slice(points).map_err(|e| e.to_string())?;
        // kiddo sums the squared differences in its own order (and may fuse multiply-adds), so its
        // distance can differ from `chord2` by a few ulps; the widened search keeps every pair the
        // exact test would accept. The relative term covers that rounding, the absolute one 0 limits.
        let limit = radius.chord2_limit();
        let search_limit = limit * (1.0 + 1e-9) + 1e-24;
        Ok(KdTreeKernel { tree, points: points.to_vec(), radius, search_limit })
    }

    #[inline]
    pub fn is_near(&self, v: &UnitVector) -> bool {
        let mut hit = false;
        self.tree.query(v).within::<SquaredEuclidean<f64>>(self.search_limit).unsorted().visit(|candidate| {
            if !hit {
                let point = &self.points[candidate.item as usize];
                hit = self.radius.contains(chord2(v, point));
            }
        });
        hit
    }

    /// Sets `near[i]` for each object, querying in an order that keeps the tree's nodes in cache:
    /// objects sorted along a Morton (Z-order) curve, so consecutive queries visit the same leaves.
    pub fn mark_near(&self, objects: &[UnitVector], near: &mut [bool]) {
        if self.points.len() < SORT_QUERIES_ABOVE {
            for (v, out) in objects.iter().zip(near.iter_mut()) {
                *out = self.is_near(v);
            }
            return;
        }
        for i in morton_order(objects) {
            let i = i as usize;
            near[i] = self.is_near(&objects[i]);
        }
    }
}

/// Below this many contaminants the tree stays in cache whatever the query order, and sorting
/// the queries costs more than it saves (`cargo bench --bench kernels`: 512 contaminants, 20,000
/// objects: 20 million objects/s in input order, 15 million sorted).
const SORT_QUERIES_ABOVE: usize = 16_384;

/// The indices of `objects` in Morton order. (A radix sort measured no faster end to end: the
/// tree queries, not the sort, take the time.)
fn morton_order(objects: &[UnitVector]) -> Vec<u32> {
    let mut keyed: Vec<u64> =
        objects.iter().enumerate().map(|(i, v)| (u64::from(morton_key(v)) << 32) | i as u64).collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|key| key as u32).collect()
}

/// A 30-bit Morton code of a unit vector: 10 bits per axis, interleaved.
fn morton_key(v: &UnitVector) -> u32 {
    let quantise = |c: f64| (((c + 1.0) * 511.5) as u32).min(1023);
    spread(quantise(v[0])) | (spread(quantise(v[1])) << 1) | (spread(quantise(v[2])) << 2)
}

/// Spreads the low 10 bits of `x` so two zero bits follow each one.
fn spread(x: u32) -> u32 {
    let mut x = x & 0x3ff;
    x = (x | (x << 16)) & 0x030000ff;
    x = (x | (x << 8)) & 0x0300f00f;
    x = (x | (x << 4)) & 0x030c30c3;
    (x | (x << 2)) & 0x09249249
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn morton_keys_interleave_the_axes() {
        assert_eq!(spread(0b11), 0b1001);
        assert_eq!(spread(0x3ff), 0x09249249);
        assert_eq!(morton_key(&[-1.0, -1.0, -1.0]), 0);
        assert_eq!(morton_key(&[1.0, 1.0, 1.0]), (1 << 30) - 1);
        // Neighbours on the sky get near keys far more often than not.
        let a = crate::sky::unit_vector(10.0, 20.0);
        let b = crate::sky::unit_vector(10.001, 20.0);
        assert_eq!(morton_key(&a) >> 6, morton_key(&b) >> 6);
    }

    #[test]
    fn morton_order_sorts_by_key_then_index() {
        let objects: Vec<UnitVector> =
            crate::synthetic::uniform_positions(5_000, 9).iter().map(|&(r, d)| crate::sky::unit_vector(r, d)).collect();
        let mut expected: Vec<(u32, u32)> =
            objects.iter().enumerate().map(|(i, v)| (morton_key(v), i as u32)).collect();
        expected.sort(); // ties broken by index, as the packed keys are
        assert_eq!(morton_order(&objects), expected.into_iter().map(|(_, i)| i).collect::<Vec<_>>());
    }
}
