//! k-d trees over the contaminants' unit vectors, used as a prefilter for the exact predicate.
//!
//! Contaminants with their own radii are split into radius classes, each with its own tree
//! searched at its own largest radius: a few huge radii (the brightest stars of a mask) then cost
//! only their own class a wide search, instead of widening every query of the whole set. Classes
//! are merged again where a separate tree would cost more than it saves: each tree is one more
//! traversal for every query, while merging a class into a wider one costs only the candidates
//! its members add at the wider radius (see [`MERGE_BUDGET`]).

use kiddo::{ImmutableKdTree, SquaredEuclidean};

use super::morton::{SORT_QUERIES_ABOVE, morton_order};
use super::{Nearest, closer};
use crate::sky::{UnitVector, chord2};

/// A class holds radii within this factor of each other (a factor of 4 in the squared chord).
const CLASS_RADIUS_RATIO: f64 = 2.0;

/// A class is merged into the next wider one when its members would add at most this many
/// candidates to an average query at the wider radius (a candidate costs an exact test of a few
/// ns, a tree traversal some 100 ns). On a Hipparcos-like mask (118,000 stars, 30 arcsec to 0.75
/// deg) this leaves one tree; with a million 5 arcsec artefacts and a hundred 1 deg stars, two.
pub const MERGE_BUDGET: f64 = 8.0;

/// Contaminants whose radii are within [`CLASS_RADIUS_RATIO`] of each other, in one tree.
struct Class {
    tree: ImmutableKdTree<f64, 3>,
    /// The tree's item `k` is `points[k]`, the set's contaminant `ids[k]`, with limit `limits[k]`.
    points: Vec<UnitVector>,
    limits: Vec<f64>,
    ids: Vec<u32>,
    search_limit: f64,
}

/// The k-d tree kernel: finds candidates within a slightly widened chord, then applies the same
/// exact predicate as the brute-force kernel, so both cut exactly the same rows.
pub struct KdTreeKernel {
    /// Smallest radii first.
    classes: Vec<Class>,
    contaminants: usize,
}

impl KdTreeKernel {
    /// Builds the trees; `points` must not be empty, `limits[i]` is the squared chord of
    /// contaminant `i`'s radius. Radius classes are merged under `budget` ([`MERGE_BUDGET`]
    /// normally; 0 keeps one tree per factor-2 class, infinity makes one tree, for benchmarks).
    pub fn with_merge_budget(points: &[UnitVector], limits: &[f64], budget: f64) -> Result<KdTreeKernel, String> {
        let mut order: Vec<u32> = (0..points.len() as u32).collect();
        order.sort_by(|&a, &b| limits[a as usize].total_cmp(&limits[b as usize]));
        // Members are sorted by limit, so a class is a range of `order`: [start, end).
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let class_limit_ratio = CLASS_RADIUS_RATIO * CLASS_RADIUS_RATIO;
        let mut start = 0;
        while start < order.len() {
            let ceiling = limits[order[start] as usize] * class_limit_ratio;
            let size = order[start..].partition_point(|&i| limits[i as usize] <= ceiling).max(1);
            let end = start + size;
            // The candidates the previous class's members would add, searched at this class's
            // widest limit: a cap of squared chord L covers L/4 of the sphere.
            let widest = limits[order[end - 1] as usize];
            match ranges.last_mut() {
                Some(previous) if (previous.1 - previous.0) as f64 * widest / 4.0 <= budget => previous.1 = end,
                _ => ranges.push((start, end)),
            }
            start = end;
        }
        let classes = ranges
            .into_iter()
            .map(|(start, end)| Class::new(points, limits, &order[start..end]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KdTreeKernel { classes, contaminants: points.len() })
    }

    /// How many radius classes (trees) the set was split into.
    pub fn classes(&self) -> usize {
        self.classes.len()
    }

    #[inline]
    pub fn is_near(&self, v: &UnitVector) -> bool {
        self.classes.iter().any(|class| class.is_near(v))
    }

    /// Sets `near[i]` for each object, querying in an order that keeps the tree's nodes in cache:
    /// objects sorted along a Morton (Z-order) curve, so consecutive queries visit the same leaves.
    pub fn mark_near(&self, objects: &[UnitVector], near: &mut [bool]) {
        if self.contaminants < SORT_QUERIES_ABOVE {
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

    /// Whether `test` holds for any contaminant whose radius contains `v` (no more tests after
    /// the first true; kiddo visits the rest of the class's candidates regardless).
    pub fn any_near(&self, v: &UnitVector, mut test: impl FnMut(u32) -> bool) -> bool {
        let mut hit = false;
        for class in &self.classes {
            class.tree.query(v).within::<SquaredEuclidean<f64>>(class.search_limit).unsorted().visit(|candidate| {
                let k = candidate.item as usize;
                hit = hit || (chord2(v, &class.points[k]) < class.limits[k] && test(class.ids[k]));
            });
            if hit {
                return true;
            }
        }
        false
    }

    /// The nearest contaminant whose radius contains `v`, if any.
    pub fn nearest(&self, v: &UnitVector) -> Option<Nearest> {
        let mut best = None;
        for class in &self.classes {
            class.tree.query(v).within::<SquaredEuclidean<f64>>(class.search_limit).unsorted().visit(|candidate| {
                let k = candidate.item as usize;
                let d = chord2(v, &class.points[k]);
                if d < class.limits[k] {
                    best = closer(best, Nearest { index: class.ids[k], chord2: d });
                }
            });
        }
        best
    }
}

impl Class {
    fn new(points: &[UnitVector], limits: &[f64], members: &[u32]) -> Result<Class, String> {
        let points: Vec<UnitVector> = members.iter().map(|&i| points[i as usize]).collect();
        let limits: Vec<f64> = members.iter().map(|&i| limits[i as usize]).collect();
        let tree = ImmutableKdTree::new_from_slice(&points).map_err(|e| e.to_string())?;
        // kiddo sums the squared differences in its own order (and may fuse multiply-adds), so its
        // distance can differ from `chord2` by a few ulps; the widened search keeps every pair the
        // exact test would accept. The relative term covers that rounding, the absolute one 0 limits.
        let largest = limits.iter().copied().fold(0.0, f64::max);
        let search_limit = largest * (1.0 + 1e-9) + 1e-24;
        Ok(Class { tree, points, limits, ids: members.to_vec(), search_limit })
    }

    #[inline]
    fn is_near(&self, v: &UnitVector) -> bool {
        let mut hit = false;
        self.tree.query(v).within::<SquaredEuclidean<f64>>(self.search_limit).unsorted().visit(|candidate| {
            if !hit {
                let k = candidate.item as usize;
                hit = chord2(v, &self.points[k]) < self.limits[k];
            }
        });
        hit
    }
}
