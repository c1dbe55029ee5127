//! The kernels that decide, object by object, whether any contaminant is near.
//!
//! Every kernel applies the one exact predicate [`SearchRadius::contains`] to the squared chord, so
//! they all cut exactly the same rows; they differ only in how many pairs they look at.

mod grid;
mod kdtree;
mod morton;
mod naive;

use std::fmt;
use std::str::FromStr;

use crate::angle::Angle;
use crate::sky::{SearchRadius, UnitVector};

use grid::GridKernel;
use kdtree::KdTreeKernel;
use naive::NaiveKernel;

/// Which kernel the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelChoice {
    /// Brute force up to [`AUTO_NAIVE_MAX_CONTAMINANTS`] contaminants, the k-d tree up to
    /// [`AUTO_KDTREE_MAX_CONTAMINANTS`], the grid above.
    #[default]
    Auto,
    /// Brute force: every contaminant for every object, in SIMD-friendly chunks.
    Naive,
    /// A k-d tree (kiddo) per radius class.
    KdTree,
    /// A zone grid of cells at least one radius wide.
    Grid,
}

/// The kernel actually used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Brute force.
    Naive,
    /// k-d trees.
    KdTree,
    /// The zone grid.
    Grid,
}

/// Up to this many contaminants, `auto` picks brute force: the tree's per-query overhead costs
/// more than scanning a set that fits in L1 cache. Measured with `cargo bench --bench kernels`
/// (docs/cut.md, "Kernels").
pub const AUTO_NAIVE_MAX_CONTAMINANTS: usize = 256;

/// Up to this many contaminants, `auto` picks the k-d tree, and the grid above: a grid query
/// costs two trigonometric calls (~50 ns) whatever the set, a tree query grows with the set's
/// size and stops fitting in cache. Measured with `cargo bench --bench kernels`: 512
/// contaminants, tree 17.5 vs grid 16.0 million objects/s; 2,048, a tie; 50,000 at 1deg, 4.0 vs
/// 8.1; 1,000,000 at 5arcsec, 5.3 vs 10.2 (uniform) and 7.0 vs 22 (clustered).
pub const AUTO_KDTREE_MAX_CONTAMINANTS: usize = 2_048;

impl KernelChoice {
    /// The kernel this choice means for `contaminants` contaminants.
    pub fn resolve(self, contaminants: usize) -> Kernel {
        match self {
            KernelChoice::Naive => Kernel::Naive,
            KernelChoice::KdTree => Kernel::KdTree,
            KernelChoice::Grid => Kernel::Grid,
            KernelChoice::Auto if contaminants <= AUTO_NAIVE_MAX_CONTAMINANTS => Kernel::Naive,
            KernelChoice::Auto if contaminants <= AUTO_KDTREE_MAX_CONTAMINANTS => Kernel::KdTree,
            KernelChoice::Auto => Kernel::Grid,
        }
    }
}

impl FromStr for KernelChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<KernelChoice, String> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(KernelChoice::Auto),
            "naive" => Ok(KernelChoice::Naive),
            "kdtree" | "kd-tree" => Ok(KernelChoice::KdTree),
            "grid" => Ok(KernelChoice::Grid),
            _ => Err(format!("unknown kernel '{text}': use naive, kdtree, grid or auto")),
        }
    }
}

/// The name [`KernelChoice::from_str`] reads back.
impl fmt::Display for KernelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KernelChoice::Auto => "auto",
            KernelChoice::Naive => "naive",
            KernelChoice::KdTree => "kdtree",
            KernelChoice::Grid => "grid",
        })
    }
}

impl fmt::Display for Kernel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kernel::Naive => "naive",
            Kernel::KdTree => "kdtree",
            Kernel::Grid => "grid",
        })
    }
}

enum Index {
    Empty,
    Naive(NaiveKernel),
    KdTree(KdTreeKernel),
    Grid(GridKernel),
}

/// The contaminant nearest to an object among those whose radius contains it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearest {
    /// The contaminant's position in the set the index was built from.
    pub index: u32,
    /// The squared chord to it (see [`crate::sky::chord2`]).
    pub chord2: f64,
}

impl Nearest {
    /// The separation as an angle: 2 asin(chord / 2).
    pub fn separation(&self) -> Angle {
        Angle::from_radians(2.0 * (self.chord2.sqrt() / 2.0).min(1.0).asin())
    }
}

/// The better of `best` and `candidate`: the smaller chord, and of equal chords the lower index,
/// so every kernel names the same contaminant whatever order it visits them in.
#[inline]
fn closer(best: Option<Nearest>, candidate: Nearest) -> Option<Nearest> {
    match best {
        Some(b) if (b.chord2, b.index) <= (candidate.chord2, candidate.index) => Some(b),
        _ => Some(candidate),
    }
}

/// Why a set of contaminants cannot be indexed. The kernels report their own errors, so that
/// they depend on nothing but sky geometry and angles; the `angcut` library's `Error` wraps them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[allow(missing_docs)] // each variant says what it means in its message
pub enum IndexError {
    #[error("contaminant radii: {radii} radii given for {contaminants} contaminants")]
    Count { radii: usize, contaminants: usize },
    #[error("building the contaminant index: {0}")]
    Build(String),
}

/// The contaminants, ready to be asked "is any of them closer than its radius to this position?".
///
/// Every contaminant may have a radius of its own (a bright-star mask), or all share one.
///
/// ```
/// use angcut_sky::{Angle, ContaminantIndex, KernelChoice, SearchRadius, unit_vector};
/// let stars = [unit_vector(10.0, 20.0), unit_vector(200.0, -45.0)];
/// let maxsep = SearchRadius::parse("30arcsec").unwrap();
/// let index = ContaminantIndex::build(&stars, maxsep, KernelChoice::Auto).unwrap();
/// assert!(index.is_near(&unit_vector(10.0, 20.005))); // 18 arcsec away
/// assert!(!index.is_near(&unit_vector(10.0, 20.01))); // 36 arcsec away
///
/// // The second star masks 1 degree around it, the first still 30 arcsec.
/// let radii = [maxsep, SearchRadius::new(Angle::from_degrees(1.0)).unwrap()];
/// let mask = ContaminantIndex::build_with_radii(&stars, &radii, KernelChoice::Auto).unwrap();
/// assert!(mask.is_near(&unit_vector(200.0, -44.2)));
/// assert!(!mask.is_near(&unit_vector(10.0, 20.2)));
/// let nearest = mask.nearest(&unit_vector(200.0, -44.5)).unwrap();
/// assert_eq!(nearest.index, 1);
/// assert!((nearest.separation().degrees() - 0.5).abs() < 1e-9);
/// ```
pub struct ContaminantIndex {
    index: Index,
    kernel: Kernel,
    largest: Option<SearchRadius>,
    len: usize,
}

impl ContaminantIndex {
    /// Indexes `contaminants` for the one radius `maxsep`.
    pub fn build(
        contaminants: &[UnitVector],
        maxsep: SearchRadius,
        choice: KernelChoice,
    ) -> Result<ContaminantIndex, IndexError> {
        ContaminantIndex::build_with_radii(contaminants, &vec![maxsep; contaminants.len()], choice)
    }

    /// Indexes `contaminants`, contaminant `i` with its own radius `radii[i]`.
    pub fn build_with_radii(
        contaminants: &[UnitVector],
        radii: &[SearchRadius],
        choice: KernelChoice,
    ) -> Result<ContaminantIndex, IndexError> {
        ContaminantIndex::build_with_kdtree_budget(contaminants, radii, choice, kdtree::MERGE_BUDGET)
    }

    /// [`ContaminantIndex::build_with_radii`], a k-d tree merging its radius classes under `budget`.
    fn build_with_kdtree_budget(
        contaminants: &[UnitVector],
        radii: &[SearchRadius],
        choice: KernelChoice,
        budget: f64,
    ) -> Result<ContaminantIndex, IndexError> {
        if radii.len() != contaminants.len() {
            return Err(IndexError::Count { radii: radii.len(), contaminants: contaminants.len() });
        }
        let largest = SearchRadius::largest(radii.iter().copied());
        let kernel = choice.resolve(contaminants.len());
        let index = if contaminants.is_empty() {
            Index::Empty
        } else {
            let limits = || radii.iter().map(SearchRadius::chord2_limit).collect::<Vec<f64>>();
            match kernel {
                Kernel::Naive => Index::Naive(NaiveKernel::new(contaminants, &limits())),
                Kernel::KdTree => Index::KdTree(
                    KdTreeKernel::with_merge_budget(contaminants, &limits(), budget).map_err(IndexError::Build)?,
                ),
                Kernel::Grid => Index::Grid(GridKernel::new(contaminants, radii).map_err(IndexError::Build)?),
            }
        };
        Ok(ContaminantIndex { index, kernel, largest, len: contaminants.len() })
    }

    /// A k-d tree index whose radius classes are merged under `budget` (see
    /// `kdtree::MERGE_BUDGET`; 0 keeps a tree per factor-2 class, infinity makes one tree). For
    /// benchmarks that weigh the class policy; [`ContaminantIndex::build_with_radii`] is the API.
    #[doc(hidden)]
    pub fn build_kdtree_with_merge_budget(
        contaminants: &[UnitVector],
        radii: &[SearchRadius],
        budget: f64,
    ) -> Result<ContaminantIndex, IndexError> {
        ContaminantIndex::build_with_kdtree_budget(contaminants, radii, KernelChoice::KdTree, budget)
    }

    /// Is any contaminant strictly closer than its radius to `v`?
    #[inline]
    pub fn is_near(&self, v: &UnitVector) -> bool {
        match &self.index {
            Index::Empty => false,
            Index::Naive(kernel) => kernel.is_near(v),
            Index::KdTree(kernel) => kernel.is_near(v),
            Index::Grid(kernel) => kernel.is_near(v),
        }
    }

    /// Sets `near[i]` to whether any contaminant is strictly closer than its radius to
    /// `objects[i]`: the batch form of [`ContaminantIndex::is_near`], with the same answers, faster.
    ///
    /// # Panics
    /// If `near` and `objects` differ in length.
    pub fn mark_near(&self, objects: &[UnitVector], near: &mut [bool]) {
        assert_eq!(objects.len(), near.len(), "one flag per object");
        match &self.index {
            Index::Empty => near.fill(false),
            Index::Naive(kernel) => kernel.mark_near(objects, near),
            Index::KdTree(kernel) => kernel.mark_near(objects, near),
            Index::Grid(kernel) => kernel.mark_near(objects, near),
        }
    }

    /// Whether `test` holds for any of the contaminants strictly closer than their radius to `v`
    /// (by their position in the set; visited in no set order, no more after the first true).
    /// How a shape is decided: the index holds each shape's bounding cap and finds the caps that
    /// hold `v`, `test` applies the shape's exact test. With `|_| true` it is
    /// [`ContaminantIndex::is_near`].
    ///
    /// ```
    /// use angcut_sky::{ContaminantIndex, KernelChoice, SearchRadius, unit_vector};
    /// let caps = [unit_vector(10.0, 0.0), unit_vector(10.0, 0.5)];
    /// let index = ContaminantIndex::build(&caps, SearchRadius::parse("1deg").unwrap(), KernelChoice::Auto).unwrap();
    /// let v = unit_vector(10.0, 0.2);
    /// assert!(index.any_near(&v, |i| i == 1));
    /// assert!(!index.any_near(&v, |_| false));
    /// ```
    #[inline]
    pub fn any_near(&self, v: &UnitVector, test: impl FnMut(u32) -> bool) -> bool {
        match &self.index {
            Index::Empty => false,
            Index::Naive(kernel) => kernel.any_near(v, test),
            Index::KdTree(kernel) => kernel.any_near(v, test),
            Index::Grid(kernel) => kernel.any_near(v, test),
        }
    }

    /// The nearest of the contaminants strictly closer than their radius to `v` (of equal
    /// separations, the first in the set), or `None` when `v` is near none: `None` exactly when
    /// [`ContaminantIndex::is_near`] is false.
    pub fn nearest(&self, v: &UnitVector) -> Option<Nearest> {
        match &self.index {
            Index::Empty => None,
            Index::Naive(kernel) => kernel.nearest(v),
            Index::KdTree(kernel) => kernel.nearest(v),
            Index::Grid(kernel) => kernel.nearest(v),
        }
    }

    /// The kernel this index uses.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The largest radius of any contaminant (`None` for an empty set).
    pub fn largest_radius(&self) -> Option<Angle> {
        self.largest.map(|r| r.angle())
    }

    /// How many trees the k-d tree kernel split the set into by radius (1 for other kernels).
    pub fn radius_classes(&self) -> usize {
        match &self.index {
            Index::KdTree(kernel) => kernel.classes(),
            _ => 1,
        }
    }

    /// How many contaminants are indexed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no contaminant is indexed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sky::{chord2, unit_vector};
    use proptest::prelude::*;

    const ALL: [KernelChoice; 3] = [KernelChoice::Naive, KernelChoice::KdTree, KernelChoice::Grid];

    /// The radius `angle`, which the test knows to be one.
    fn radius(angle: Angle) -> SearchRadius {
        SearchRadius::new(angle).unwrap()
    }

    /// The plain scalar reference: every pair, the exact predicate, nothing clever.
    fn reference(objects: &[UnitVector], contaminants: &[UnitVector], maxsep: SearchRadius) -> Vec<bool> {
        objects.iter().map(|o| contaminants.iter().any(|c| maxsep.contains(chord2(o, c)))).collect()
    }

    #[test]
    fn kernel_choice_names_read_back() {
        for choice in [KernelChoice::Auto, KernelChoice::Naive, KernelChoice::KdTree, KernelChoice::Grid] {
            assert_eq!(choice.to_string().parse::<KernelChoice>(), Ok(choice));
        }
    }

    fn cut_with(
        choice: KernelChoice,
        objects: &[UnitVector],
        contaminants: &[UnitVector],
        maxsep: SearchRadius,
    ) -> Vec<bool> {
        let index = ContaminantIndex::build(contaminants, maxsep, choice).unwrap();
        answers(&index, objects)
    }

    /// The index's answers, checked to agree between its three ways of asking.
    fn answers(index: &ContaminantIndex, objects: &[UnitVector]) -> Vec<bool> {
        let one_by_one: Vec<bool> = objects.iter().map(|o| index.is_near(o)).collect();
        let mut batched = vec![false; objects.len()];
        index.mark_near(objects, &mut batched);
        assert_eq!(one_by_one, batched, "is_near and mark_near disagree");
        let nearest: Vec<bool> = objects.iter().map(|o| index.nearest(o).is_some()).collect();
        assert_eq!(nearest, batched, "nearest and mark_near disagree");
        let any: Vec<bool> = objects.iter().map(|o| index.any_near(o, |_| true)).collect();
        assert_eq!(any, batched, "any_near and mark_near disagree");
        batched
    }

    /// The plain scalar reference with a radius per contaminant: every object's nearest covering
    /// contaminant (smallest chord, then lowest index), or `None`.
    fn nearest_reference(
        objects: &[UnitVector],
        contaminants: &[UnitVector],
        radii: &[SearchRadius],
    ) -> Vec<Option<(u32, f64)>> {
        objects
            .iter()
            .map(|o| {
                let mut best: Option<(u32, f64)> = None;
                for (i, (c, &r)) in contaminants.iter().zip(radii).enumerate() {
                    let d = chord2(o, c);
                    if r.contains(d) && best.is_none_or(|(_, bd)| d < bd) {
                        best = Some((i as u32, d));
                    }
                }
                best
            })
            .collect()
    }

    /// Radii spread over five decades, as in a bright-star mask (1 arcsec .. 28 degrees), with a
    /// few at the extremes.
    fn radii(n: usize) -> impl Strategy<Value = Vec<SearchRadius>> {
        prop::collection::vec(
            prop_oneof![
                8 => (0.0f64..5.0).prop_map(|l| radius(Angle::from_arcsec(10f64.powf(l)))),
                1 => Just(radius(Angle::from_degrees(180.0))),
                1 => Just(radius(Angle::from_arcsec(1e-3))),
            ],
            n,
        )
    }

    /// Positions that stress the geometry: uniform ones plus poles, the RA seam, antipodes of
    /// each other, and exact repeats.
    fn position() -> impl Strategy<Value = (f64, f64)> {
        prop_oneof![
            6 => (0.0f64..360.0, -1.0f64..1.0).prop_map(|(ra, u)| (ra, u.asin().to_degrees())),
            1 => (0.0f64..360.0, prop_oneof![Just(90.0), Just(-90.0), 89.99f64..90.0]),
            1 => (prop_oneof![359.99f64..360.0, 0.0f64..0.01, Just(0.0), Just(360.0)], -1.0f64..1.0)
                .prop_map(|(ra, u)| (ra, u.asin().to_degrees())),
        ]
    }

    fn maxsep() -> impl Strategy<Value = SearchRadius> {
        prop_oneof![
            4 => (-6.6f64..2.2553).prop_map(|l| radius(Angle::from_degrees(10f64.powf(l)))),
            1 => Just(radius(Angle::from_degrees(180.0))),
            1 => Just(radius(Angle::from_arcsec(1e-3))),
        ]
    }

    /// A catalogue pair with deliberate duplicates, antipodes, and objects placed exactly at
    /// contaminants (separation 0) or at the antipode of one (separation 180deg).
    fn catalogues() -> impl Strategy<Value = (Vec<UnitVector>, Vec<UnitVector>)> {
        (prop::collection::vec(position(), 0..60), prop::collection::vec(position(), 0..700)).prop_map(
            |(objs, conts)| {
                let mut contaminants: Vec<UnitVector> = conts.iter().map(|&(r, d)| unit_vector(r, d)).collect();
                let mut objects: Vec<UnitVector> = objs.iter().map(|&(r, d)| unit_vector(r, d)).collect();
                if let Some(&(ra, dec)) = conts.first() {
                    contaminants.push(unit_vector(ra, dec)); // duplicate
                    objects.push(unit_vector(ra, dec)); // on top of a contaminant
                    objects.push(unit_vector(ra + 180.0, -dec)); // its antipode
                }
                (objects, contaminants)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn both_kernels_equal_the_scalar_reference((objects, contaminants) in catalogues(), maxsep in maxsep()) {
            let expected = reference(&objects, &contaminants, maxsep);
            for choice in ALL {
                prop_assert_eq!(&cut_with(choice, &objects, &contaminants, maxsep), &expected, "{:?}", choice);
            }
        }

        /// With a radius per contaminant, every kernel finds the same near objects and the same
        /// nearest contaminant as the plain reference.
        #[test]
        fn radius_per_contaminant_equals_the_scalar_reference(
            ((objects, contaminants), radii) in catalogues().prop_flat_map(|(o, c)| {
                let n = c.len();
                (Just((o, c)), radii(n))
            }),
        ) {
            let expected = nearest_reference(&objects, &contaminants, &radii);
            let near: Vec<bool> = expected.iter().map(Option::is_some).collect();
            let mut indexes: Vec<(String, ContaminantIndex)> = ALL
                .iter()
                .map(|&choice| (format!("{choice:?}"), ContaminantIndex::build_with_radii(&contaminants, &radii, choice).unwrap()))
                .collect();
            // Small sets merge into one tree: also a tree per factor-2 radius class, unmerged.
            let unmerged = ContaminantIndex::build_kdtree_with_merge_budget(&contaminants, &radii, 0.0).unwrap();
            indexes.push(("KdTree, unmerged classes".into(), unmerged));
            for (name, index) in &indexes {
                prop_assert_eq!(&answers(index, &objects), &near, "{}", name);
                let found: Vec<Option<(u32, f64)>> =
                    objects.iter().map(|o| index.nearest(o).map(|n| (n.index, n.chord2))).collect();
                prop_assert_eq!(&found, &expected, "{}", name);
                // any_near visits exactly the covering contaminants (a test that never holds sees
                // them all), as a shape's exact test needs.
                for o in &objects {
                    let mut visited = Vec::new();
                    let held = index.any_near(o, |i| {
                        visited.push(i);
                        false
                    });
                    prop_assert!(!held);
                    visited.sort_unstable();
                    let covering: Vec<u32> = contaminants.iter().zip(&radii).enumerate()
                        .filter(|(_, (c, r))| r.contains(chord2(o, c))).map(|(i, _)| i as u32).collect();
                    prop_assert_eq!(&visited, &covering, "{}", name);
                }
            }
        }

        /// Objects whose chord to a contaminant is the radius itself, to the last bit: the radius is
        /// built from the pair, so "strictly less" must keep them, and one ulp more must cut them.
        #[test]
        fn rows_exactly_at_the_boundary(
            (o_ra, o_dec) in position(), (c_ra, c_dec) in position(), others in prop::collection::vec(position(), 0..40),
        ) {
            let object = unit_vector(o_ra, o_dec);
            let star = unit_vector(c_ra, c_dec);
            let exact = chord2(&object, &star);
            prop_assume!(exact > 0.0 && exact < 4.0);
            let mut contaminants: Vec<UnitVector> = others.iter().map(|&(r, d)| unit_vector(r, d)).collect();
            contaminants.push(star);
            // Find the angle whose SearchRadius limit is exactly `exact`, if one exists in f64.
            let mut angle = 2.0 * (exact.sqrt() / 2.0).asin();
            for _ in 0..64 {
                let limit = radius(Angle::from_radians(angle)).chord2_limit();
                if limit == exact { break; }
                angle = if limit < exact { f64::from_bits(angle.to_bits() + 1) } else { f64::from_bits(angle.to_bits() - 1) };
            }
            let at = radius(Angle::from_radians(angle));
            if at.chord2_limit() == exact {
                let wider = radius(Angle::from_radians(f64::from_bits(angle.to_bits() + 1)));
                // Also as a full tile of 8 objects, which the brute-force kernel screens with the
                // dot product before its exact test.
                let tile = [object; 8];
                for choice in ALL {
                    // At the boundary to the last bit: the star alone does not cut the object...
                    prop_assert!(!cut_with(choice, &[object], &[star], at)[0]);
                    prop_assert!(cut_with(choice, &tile, &[star], at).iter().all(|&near| !near));
                    // ...and the next larger radius does.
                    if wider.chord2_limit() > exact {
                        prop_assert!(cut_with(choice, &[object], &[star], wider)[0]);
                        prop_assert!(cut_with(choice, &tile, &[star], wider).iter().all(|&near| near));
                    }
                }
            }
            let expected = reference(&[object], &contaminants, at);
            for choice in ALL {
                prop_assert_eq!(&cut_with(choice, &[object], &contaminants, at), &expected, "{:?}", choice);
            }
        }
    }

    #[test]
    fn the_seed_example_matches_the_reference() {
        // 5,000 objects x 500 contaminants uniform on the sphere, 1deg: the classic toy example.
        let objects = crate::positions::uniform_positions(5_000, 1);
        let contaminants = crate::positions::uniform_positions(500, 2);
        let to_vectors = |p: &[(f64, f64)]| p.iter().map(|&(r, d)| unit_vector(r, d)).collect::<Vec<_>>();
        let (objects, contaminants) = (to_vectors(&objects), to_vectors(&contaminants));
        let maxsep = radius(Angle::from_degrees(1.0));
        let expected = reference(&objects, &contaminants, maxsep);
        let removed = expected.iter().filter(|&&near| near).count();
        // A 1deg cap is (1 - cos 1deg) / 2 = 7.6e-5 of the sky; 500 of them cover ~3.7%: ~185 objects.
        assert!((120..260).contains(&removed), "{removed}");
        for choice in ALL {
            assert_eq!(cut_with(choice, &objects, &contaminants, maxsep), expected, "{choice:?}");
        }
    }

    #[test]
    fn radius_classes_split_only_where_a_tree_pays() {
        // Radii from 30 arcsec to ~0.7 degrees (the Legacy Surveys' rule over magnitudes -1..12):
        // classes of a factor 2 each, about 6 of them, which a sparse star mask merges into one
        // (a query at 0.7deg meets 3,000 x 1.5e-4 / 4 = 0.1 extra candidates).
        let stars: Vec<UnitVector> =
            crate::positions::uniform_positions(3_000, 5).iter().map(|&(r, d)| unit_vector(r, d)).collect();
        let radii: Vec<SearchRadius> = (0..stars.len())
            .map(|i| radius(Angle::from_arcsec(1630.0 * 1.396f64.powf(1.0 - (i % 14) as f64))))
            .collect();
        let unmerged = ContaminantIndex::build_kdtree_with_merge_budget(&stars, &radii, 0.0).unwrap();
        assert!((5..=7).contains(&unmerged.radius_classes()), "{}", unmerged.radius_classes());
        let index = ContaminantIndex::build_with_radii(&stars, &radii, KernelChoice::KdTree).unwrap();
        assert_eq!(index.radius_classes(), 1);
        // 200,000 artefacts of 5 arcsec and 10 stars of 2 deg: merged, each query at 2deg would
        // meet 200,000 x 1.2e-3 / 4 = 61 artefacts; the stars keep a tree of their own.
        let mut mixed: Vec<UnitVector> =
            crate::positions::uniform_positions(200_010, 6).iter().map(|&(r, d)| unit_vector(r, d)).collect();
        let mut mixed_radii = vec![radius(Angle::from_arcsec(5.0)); 200_000];
        mixed_radii.extend([radius(Angle::from_degrees(2.0)); 10]);
        mixed.truncate(mixed_radii.len());
        let mixed_index = ContaminantIndex::build_with_radii(&mixed, &mixed_radii, KernelChoice::KdTree).unwrap();
        assert_eq!(mixed_index.radius_classes(), 2);
        let uniform = ContaminantIndex::build(&stars, radius(Angle::from_arcsec(30.0)), KernelChoice::KdTree).unwrap();
        assert_eq!(uniform.radius_classes(), 1);
        let largest = index.largest_radius().unwrap().arcsec();
        assert!((largest - 1630.0 * 1.396).abs() < 1e-9, "{largest}");
    }

    #[test]
    fn radii_must_be_one_per_contaminant() {
        let stars = [unit_vector(0.0, 0.0), unit_vector(1.0, 1.0)];
        let one = [radius(Angle::from_degrees(1.0))];
        let found = ContaminantIndex::build_with_radii(&stars, &one, KernelChoice::Auto).err();
        assert_eq!(found, Some(IndexError::Count { radii: 1, contaminants: 2 }));
    }

    #[test]
    fn an_empty_set_is_near_nothing() {
        for choice in [KernelChoice::Naive, KernelChoice::KdTree, KernelChoice::Grid, KernelChoice::Auto] {
            let index = ContaminantIndex::build(&[], radius(Angle::from_degrees(180.0)), choice).unwrap();
            assert!(!index.is_near(&unit_vector(0.0, 0.0)));
            assert!(index.is_empty());
            assert_eq!(index.largest_radius(), None);
        }
    }

    #[test]
    fn many_identical_contaminants_build_and_match() {
        let star = unit_vector(45.0, 45.0);
        let stars = vec![star; 5_000];
        for choice in [KernelChoice::KdTree, KernelChoice::Grid] {
            let index = ContaminantIndex::build(&stars, radius(Angle::from_arcsec(1.0)), choice).unwrap();
            assert!(index.is_near(&unit_vector(45.0, 45.0001)));
            assert!(!index.is_near(&unit_vector(45.0, 45.001)));
        }
    }

    #[test]
    fn auto_switches_at_the_documented_size() {
        assert_eq!(KernelChoice::Auto.resolve(AUTO_NAIVE_MAX_CONTAMINANTS), Kernel::Naive);
        assert_eq!(KernelChoice::Auto.resolve(AUTO_NAIVE_MAX_CONTAMINANTS + 1), Kernel::KdTree);
        assert_eq!(KernelChoice::Auto.resolve(AUTO_KDTREE_MAX_CONTAMINANTS), Kernel::KdTree);
        assert_eq!(KernelChoice::Auto.resolve(AUTO_KDTREE_MAX_CONTAMINANTS + 1), Kernel::Grid);
        assert_eq!("grid".parse::<KernelChoice>(), Ok(KernelChoice::Grid));
        assert_eq!(KernelChoice::Naive.resolve(1 << 30), Kernel::Naive);
        assert_eq!("KDTREE".parse::<KernelChoice>(), Ok(KernelChoice::KdTree));
        assert!("fast".parse::<KernelChoice>().is_err());
    }
}
