//! A k-d tree over the contaminants' unit vectors, used as a prefilter for the exact predicate.

use kiddo::{ImmutableKdTree, SquaredEuclidean};

use super::morton::{SORT_QUERIES_ABOVE, morton_order};
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
