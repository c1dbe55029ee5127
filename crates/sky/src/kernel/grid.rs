//! A zone grid: the sky cut into declination zones, each zone into RA cells, and every cell listing
//! (with their coordinates, for locality) the contaminants whose search cap touches it. A query
//! finds its own cell without trigonometry (its zone by comparing z with the sines of the zones'
//! edges, its RA from a short series) and tests that one list with the exact predicate: no tree
//! to walk, one or two cache misses per object.
//!
//! A contaminant goes into every cell its cap could reach, computed conservatively (the cap's
//! declination range and its widest RA half-width `asin(sin r / cos dec)`, both widened by far
//! more than their rounding error and the query's series' error), so no pair the exact test
//! accepts is ever missed.

use rayon::prelude::*;

use super::{Nearest, closer};
use crate::sky::{SearchRadius, UnitVector, chord2};

/// Contaminants per cell aimed at when sizing the grid.
const TARGET_PER_CELL: f64 = 2.0;
/// Average list length a query may scan before the grid is refined (clustered contaminants).
const MAX_MEAN_SCAN: f64 = 16.0;
/// Cells are never smaller than this, which bounds the grid to ~4 million cells.
const MIN_CELL_DEG: f64 = 0.1;
/// How many times a grid may be halved to cope with clustering.
const MAX_REFINEMENTS: usize = 4;
/// Cell entries allowed per contaminant, on average: large caps reach many small cells, so with
/// large (or very unequal) radii the cells are made larger until the lists fit this budget.
const MAX_ENTRIES_PER_CONTAMINANT: f64 = 9.0;
const SKY_DEG2: f64 = 41_252.96;
/// Bins of z (the sine of declination: bins of equal sky area) in the table of first guesses
/// of a query's zone; with at most 1,800 zones a guess is at most a step or two off, on average.
const Z_BINS: usize = 4096;
/// How much further in RA every cap reaches than its true half-width, in degrees: a query's RA
/// and a cap centre's both come from [`series_ra`], each within 1e-9 deg of the true one.
const RA_MARGIN: f64 = 1e-7;

/// One declination zone: `[-90 + z h, -90 + (z + 1) h)`.
#[derive(Debug, Clone, Copy)]
struct Zone {
    first_cell: usize,
    cells: usize,
    cell_width: f64,
}

/// A contaminant as a cell lists it: where it is and the squared chord of its radius, 32 bytes.
#[derive(Debug, Clone, Copy)]
struct Entry {
    v: UnitVector,
    limit: f64,
}

pub struct GridKernel {
    zone_height: f64,
    zones: Vec<Zone>,
    /// The sine of each zone's lower edge, and 1 after the last: a query compares its z with
    /// them instead of taking an arcsine (accurate to ~1e-13 deg at every edge, as the edges
    /// are at least a cell from the poles, far inside the caps' widening).
    zone_sines: Vec<f64>,
    /// The zone of z = -1 + 2 b / Z_BINS for each bin b: a query's first guess of its zone.
    zone_guess: Vec<u32>,
    /// `cell_start[c]..cell_start[c + 1]` indexes `entries` for cell `c`.
    cell_start: Vec<u32>,
    entries: Vec<Entry>,
    /// The contaminant each entry stands for (only the nearest-contaminant query needs it).
    entry_ids: Vec<u32>,
}

impl GridKernel {
    /// Builds the grid; `points` must not be empty and must hold fewer than 2^32 cell entries.
    /// `radii[i]` is contaminant `i`'s radius.
    pub fn new(points: &[UnitVector], radii: &[SearchRadius]) -> Result<GridKernel, String> {
        // Each cap once, in parallel: the trigonometry is a large part of the build. Radii are
        // mostly one value repeated, so each thread keeps the last one's widened sine.
        let mut caps: Vec<Cap> = (points.par_iter().zip(radii).enumerate())
            .map_init(
                || None,
                |last: &mut Option<(SearchRadius, Reach)>, (id, (p, r))| {
                    let reach = match *last {
                        Some((radius, reach)) if radius == *r => reach,
                        _ => last.insert((*r, Reach::new(r))).1,
                    };
                    Cap::new(id as u32, p, reach)
                },
            )
            .collect();
        // Counted and filled in order of declination, each cap carrying its entry: a zone's cells
        // lie together, so the counts and lists are written a small window of memory at a time,
        // and nothing is read at random (in a virtual machine a random access to a large array,
        // with its TLB miss, measured ~200 ns: it was most of the build). The order within a
        // list does not matter: ties go to the lower index.
        caps.par_sort_unstable_by(|a, b| a.dec.total_cmp(&b.dec));
        let budget = MAX_ENTRIES_PER_CONTAMINANT * points.len() as f64;
        let mut cell = (SKY_DEG2 * TARGET_PER_CELL / points.len() as f64).sqrt().max(MIN_CELL_DEG);
        while cell < 180.0 && estimated_entries(&caps, cell) > budget {
            cell *= 1.25;
        }
        let mut grid = GridKernel::empty(cell);
        let mut counts = grid.count(&caps);
        // Clustered contaminants crowd a few cells: make the cells smaller while that helps.
        for _ in 0..MAX_REFINEMENTS {
            let finer = cell / 2.0;
            if mean_scan(&counts) <= MAX_MEAN_SCAN || finer < MIN_CELL_DEG || estimated_entries(&caps, finer) > budget {
                break;
            }
            cell = finer;
            grid = GridKernel::empty(cell);
            counts = grid.count(&caps);
        }
        grid.fill(&caps, &counts)?;
        Ok(grid)
    }

    /// A grid of roughly square cells `cell_deg` on a side, with no entries yet.
    fn empty(cell_deg: f64) -> GridKernel {
        let zone_count = ((180.0 / cell_deg).ceil() as usize).max(1);
        let zone_height = 180.0 / zone_count as f64;
        let mut zones = Vec::with_capacity(zone_count);
        let mut first_cell = 0;
        for z in 0..zone_count {
            let centre = (-90.0 + (z as f64 + 0.5) * zone_height).to_radians();
            let cells = ((360.0 * centre.cos() / zone_height).floor() as usize).max(1);
            zones.push(Zone { first_cell, cells, cell_width: 360.0 / cells as f64 });
            first_cell += cells;
        }
        let zone_sines: Vec<f64> =
            (0..=zone_count).map(|k| (-90.0 + k as f64 * zone_height).to_radians().sin()).collect();
        let zone_guess = (0..Z_BINS)
            .map(|b| {
                let z = -1.0 + 2.0 * b as f64 / Z_BINS as f64;
                zone_sines[1..zone_count].partition_point(|&edge| edge <= z) as u32
            })
            .collect();
        GridKernel {
            zone_height,
            zones,
            zone_sines,
            zone_guess,
            cell_start: vec![0; first_cell + 1],
            entries: Vec::new(),
            entry_ids: Vec::new(),
        }
    }

    /// How many entries each cell will hold.
    fn count(&self, caps: &[Cap]) -> Vec<u32> {
        let mut counts = vec![0u32; self.cell_start.len() - 1];
        for cap in caps {
            self.for_each_cell(cap, |c| counts[c] = counts[c].saturating_add(1));
        }
        counts
    }

    /// Lays the cell lists out one after another, as `count` sized them.
    fn fill(&mut self, caps: &[Cap], counts: &[u32]) -> Result<(), String> {
        let mut total = 0u64;
        for (start, &n) in self.cell_start.iter_mut().zip(counts) {
            *start = total as u32;
            total += u64::from(n);
            if total >= u64::from(u32::MAX) {
                // Named as a kernel, not as an option: the kernel layer lies below how callers spell options.
                return Err("the zone grid would hold 2^32 entries or more: the kdtree kernel has no such limit".into());
            }
        }
        let cells = counts.len();
        self.cell_start[cells] = total as u32;
        let mut next: Vec<u32> = self.cell_start[..cells].to_vec();
        let mut entries = vec![Entry { v: [0.0; 3], limit: 0.0 }; total as usize];
        let mut entry_ids = vec![0u32; total as usize];
        for cap in caps {
            self.for_each_cell(cap, |c| {
                entries[next[c] as usize] = cap.entry;
                entry_ids[next[c] as usize] = cap.id;
                next[c] += 1;
            });
        }
        self.entries = entries;
        self.entry_ids = entry_ids;
        Ok(())
    }

    /// Calls `visit` with every cell that `cap` may touch (each once).
    fn for_each_cell(&self, cap: &Cap, mut visit: impl FnMut(usize)) {
        let &Cap { ra, dec, radius: r, half_width, .. } = cap;
        let (low, high) = (self.zone_of(dec - r), self.zone_of(dec + r));
        for zone in &self.zones[low..=high] {
            if 2.0 * half_width + zone.cell_width >= 360.0 {
                (0..zone.cells).for_each(|c| visit(zone.first_cell + c));
                continue;
            }
            let first = ((ra - half_width) / zone.cell_width).floor() as i64;
            let last = ((ra + half_width) / zone.cell_width).floor() as i64;
            for c in first..=last {
                visit(zone.first_cell + c.rem_euclid(zone.cells as i64) as usize);
            }
        }
    }

    fn zone_of(&self, dec: f64) -> usize {
        // No `floor`: the quotient is clamped to >= 0 (NaN included) first, and the cast of a
        // non-negative value truncates, which is the floor (`floor` is a libm call on baseline
        // x86-64, once per query).
        (((dec + 90.0) / self.zone_height).max(0.0) as usize).min(self.zones.len() - 1)
    }

    /// The zone of a vector whose z is `z`: the one between the two edges whose sines enclose z
    /// (the first or the last for |z| > 1 or NaN).
    #[inline]
    fn zone_of_z(&self, z: f64) -> usize {
        let bin = (((z + 1.0) * (Z_BINS / 2) as f64).max(0.0) as usize).min(Z_BINS - 1);
        let mut zone = self.zone_guess[bin] as usize;
        while zone + 1 < self.zones.len() && z >= self.zone_sines[zone + 1] {
            zone += 1;
        }
        while zone > 0 && z < self.zone_sines[zone] {
            zone -= 1;
        }
        zone
    }

    #[inline]
    fn cell_of(&self, v: &UnitVector) -> usize {
        let zone = &self.zones[self.zone_of_z(v[2])];
        zone.first_cell + ((series_ra(v) / zone.cell_width) as usize).min(zone.cells - 1)
    }

    fn list(&self, cell: usize) -> std::ops::Range<usize> {
        self.cell_start[cell] as usize..self.cell_start[cell + 1] as usize
    }

    #[inline]
    pub fn is_near(&self, v: &UnitVector) -> bool {
        self.entries[self.list(self.cell_of(v))].iter().any(|e| e.contains(v))
    }

    /// Whether `test` holds for any contaminant whose radius contains `v` (stopping at the first).
    pub fn any_near(&self, v: &UnitVector, mut test: impl FnMut(u32) -> bool) -> bool {
        let list = self.list(self.cell_of(v));
        self.entries[list.clone()]
            .iter()
            .zip(&self.entry_ids[list])
            .any(|(entry, &index)| entry.contains(v) && test(index))
    }

    /// The nearest contaminant whose radius contains `v`, if any.
    pub fn nearest(&self, v: &UnitVector) -> Option<Nearest> {
        let list = self.list(self.cell_of(v));
        let mut best = None;
        for (entry, &index) in self.entries[list.clone()].iter().zip(&self.entry_ids[list]) {
            let d = chord2(v, &entry.v);
            if d < entry.limit {
                best = closer(best, Nearest { index, chord2: d });
            }
        }
        best
    }

    /// Sets `near[i]` for each object: the same answers as [`GridKernel::is_near`], faster.
    ///
    /// Objects go in groups: first every cell of the group is found and its list start fetched
    /// ahead, then the lists are scanned, so the memory latency of one object's cell overlaps the
    /// arithmetic of the next instead of stalling each query in turn. (Sorting the queries along
    /// a Morton curve, as the k-d tree does, measured 5% faster on a uniform sky and 35% slower
    /// on a clustered one: not done.)
    pub fn mark_near(&self, objects: &[UnitVector], near: &mut [bool]) {
        const GROUP: usize = 16;
        for (group, flags) in objects.chunks(GROUP).zip(near.chunks_mut(GROUP)) {
            let mut cells = [0usize; GROUP];
            for (cell, v) in cells.iter_mut().zip(group) {
                *cell = self.cell_of(v);
                prefetch(&self.cell_start[*cell]);
            }
            let mut lists = [(0usize, 0usize); GROUP];
            for (list, &cell) in lists.iter_mut().zip(&cells[..group.len()]) {
                *list = (self.cell_start[cell] as usize, self.cell_start[cell + 1] as usize);
                if let Some(first) = self.entries.get(list.0) {
                    prefetch(first);
                }
            }
            for ((flag, v), &(start, end)) in flags.iter_mut().zip(group).zip(&lists) {
                *flag = self.entries[start..end].iter().any(|e| e.contains(v));
            }
        }
    }
}

/// Asks the CPU to start loading `value`'s cache line (a hint only: no effect on results).
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and reads nothing into the program, whatever the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// The average length of the list a query scans, if queries land where contaminants are.
fn mean_scan(counts: &[u32]) -> f64 {
    let entries: f64 = counts.iter().map(|&n| f64::from(n)).sum();
    counts.iter().map(|&n| f64::from(n).powi(2)).sum::<f64>() / entries.max(1.0)
}

impl Entry {
    /// The exact predicate, with this contaminant's own radius.
    #[inline(always)]
    fn contains(&self, v: &UnitVector) -> bool {
        chord2(v, &self.v) < self.limit
    }
}

/// Roughly how many cell entries caps make with cells `cell` degrees on a side: a cap of radius
/// r spans about 2r / cell + 1 cells each way.
fn estimated_entries(caps: &[Cap], cell: f64) -> f64 {
    caps.iter().map(|cap| (2.0 * cap.radius / cell + 1.0).powi(2)).sum()
}

/// A contaminant's search cap, in degrees, widened well beyond the rounding of asin/atan2
/// (~1e-14 deg), and in RA beyond the query's series ([`RA_MARGIN`]), so that no cell it
/// reaches is missed.
#[derive(Debug, Clone, Copy)]
struct Cap {
    /// The contaminant's index.
    id: u32,
    /// The contaminant as its cells list it.
    entry: Entry,
    ra: f64,
    dec: f64,
    radius: f64,
    /// The widest RA half-width of the cap, reached at its tangent points; 180 around a pole.
    half_width: f64,
}

/// What a cap needs of its search radius: the radius in degrees widened as every cap's is, its
/// sine, and the squared chord the exact test compares against.
#[derive(Debug, Clone, Copy)]
struct Reach {
    degrees: f64,
    sine: f64,
    limit: f64,
}

impl Reach {
    fn new(search: &SearchRadius) -> Reach {
        let degrees = search.angle().degrees() * (1.0 + 1e-9) + 1e-9;
        Reach { degrees, sine: degrees.to_radians().sin(), limit: search.chord2_limit() }
    }
}

impl Cap {
    fn new(id: u32, centre: &UnitVector, reach: Reach) -> Cap {
        let &[x, y, z] = centre;
        // cos(dec) of a unit vector, without a cosine (nor glibc's slow `hypot`: no overflow to
        // guard against here).
        let cos_dec = (x * x + y * y).sqrt();
        // `atan2(z, cos dec)`, accurate to the last bits everywhere: `asin(z)` is off by up to
        // ~2e-8 deg within 1e-5 deg of a pole, enough to leave the pole out of a cap that holds
        // it (and so miss objects beyond it), far above the caps' 1e-9 deg widening.
        let dec = z.atan2(cos_dec).to_degrees();
        // The queries' own RA: within 1e-9 deg of atan2's, so a cap and a query both off by
        // that much stay far inside `RA_MARGIN`.
        let ra = series_ra(centre);
        let radius = reach.degrees;
        let half_width = if dec.abs() + radius >= 90.0 {
            180.0
        } else {
            let sine = (reach.sine / cos_dec).min(1.0);
            sine.asin().to_degrees() * (1.0 + 1e-9) + 1e-9 + RA_MARGIN
        };
        Cap { id, entry: Entry { v: *centre, limit: reach.limit }, ra, dec, radius, half_width }
    }
}

/// RA in [0, 360], degrees, of a unit vector, within 1e-9 deg of `atan2` (see [`RA_MARGIN`]):
/// glibc's atan2 and asin took as long as the search of a query's cell list (the caps' centres
/// use it too).
///
/// The angle from the nearer axis, atan(small / big) in [0, pi/4], is base + atan u with base
/// 0, pi/8 or pi/4 (the nearest) and u = (small - T big) / (big + T small), T = tan(base): one
/// division, and |u| <= tan(pi/16) = 0.199. atan u is then the alternating series
/// u - u^3/3 + ... + u^13/13, whose error is below its first omitted term, 0.199^15/15 < 2.1e-12
/// rad (the rounding of T and of the arithmetic adds ~1e-16).
#[inline]
fn series_ra(v: &UnitVector) -> f64 {
    use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, FRAC_PI_8, PI};
    const TAN_PI_16: f64 = 0.198_912_367_379_658;
    const TAN_PI_8: f64 = 0.414_213_562_373_095_03;
    const TAN_3PI_16: f64 = 0.668_178_637_919_298_9;
    const SERIES: [f64; 7] = [1.0, -1.0 / 3.0, 1.0 / 5.0, -1.0 / 7.0, 1.0 / 9.0, -1.0 / 11.0, 1.0 / 13.0];
    // Without branches: where a vector lies is random, and mispredicted branches cost more
    // than the series. Each choice indexes a pair of tables, or flips a sign.
    const BASE: [(f64, f64); 3] = [(0.0, 0.0), (FRAC_PI_8, TAN_PI_8), (FRAC_PI_4, 1.0)];
    let (ax, ay) = (v[0].abs(), v[1].abs());
    let (small, big) = (ax.min(ay), ax.max(ay));
    let (base, tan) = BASE[usize::from(small > TAN_PI_16 * big) + usize::from(small > TAN_3PI_16 * big)];
    let u = (small - tan * big) / (big + tan * small);
    let u = if u.is_nan() { 0.0 } else { u }; // 0 / 0 at a pole
    let s = u * u;
    let angle = base + u * SERIES.iter().rev().fold(0.0, |sum, &c| sum * s + c);
    let angle = [angle, FRAC_PI_2 - angle][usize::from(ay > ax)]; // from the x axis
    let angle = [angle, PI - angle][usize::from(v[0] < 0.0)];
    let degrees = angle.to_degrees();
    [degrees, 360.0 - degrees][usize::from(v[1] < 0.0)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Angle;
    use crate::sky::unit_vector;

    fn radius(angle: Angle) -> SearchRadius {
        SearchRadius::new(angle).unwrap()
    }

    /// RA in [0, 360] and Dec, degrees, by `atan2`: what `series_ra` and the caps approximate.
    fn ra_dec(v: &UnitVector) -> (f64, f64) {
        let dec = v[2].atan2(v[0].hypot(v[1])).to_degrees();
        let ra = v[1].atan2(v[0]).to_degrees();
        (if ra < 0.0 { ra + 360.0 } else { ra }, dec)
    }

    fn cap(id: u32, centre: &UnitVector, search: &SearchRadius) -> Cap {
        Cap::new(id, centre, Reach::new(search))
    }

    fn uniform_grid(points: &[UnitVector], angle: Angle) -> GridKernel {
        GridKernel::new(points, &vec![radius(angle); points.len()]).unwrap()
    }

    #[test]
    fn a_few_huge_radii_enlarge_the_cells_instead_of_flooding_them() {
        // 20,000 stars at 5 arcsec and 200 at 2 degrees: the big caps would reach thousands of
        // 0.45-degree cells each; the cells grow until the entries fit the budget.
        let points: Vec<UnitVector> =
            crate::positions::uniform_positions(20_200, 7).iter().map(|&(r, d)| unit_vector(r, d)).collect();
        let radii: Vec<SearchRadius> = (0..points.len())
            .map(|i| radius(if i < 200 { Angle::from_degrees(2.0) } else { Angle::from_arcsec(5.0) }))
            .collect();
        let grid = GridKernel::new(&points, &radii).unwrap();
        assert!(grid.entries.len() as f64 <= 1.2 * MAX_ENTRIES_PER_CONTAMINANT * points.len() as f64);
        // Still exact: 1.9 degrees from a big star is near, 6 arcsec from a small one is not.
        let (ra, dec) = crate::positions::uniform_positions(1, 7)[0];
        assert!(grid.is_near(&unit_vector(ra, if dec > 0.0 { dec - 1.9 } else { dec + 1.9 })));
        let (ra, dec) = crate::positions::uniform_positions(20_200, 7)[20_199];
        let beside = unit_vector(ra, if dec > 0.0 { dec - 6.0 / 3600.0 } else { dec + 6.0 / 3600.0 });
        let brute = points.iter().zip(&radii).any(|(p, r)| r.contains(chord2(&beside, p)));
        assert_eq!(grid.is_near(&beside), brute);
    }

    #[test]
    fn cells_cover_the_sky_and_are_roughly_square() {
        let points: Vec<UnitVector> =
            crate::positions::uniform_positions(100_000, 1).iter().map(|&(r, d)| unit_vector(r, d)).collect();
        let grid = uniform_grid(&points, Angle::from_arcsec(5.0));
        let cells = grid.cell_start.len() - 1;
        // ~2 per cell: 41,253 deg^2 / (0.91 deg)^2 ~ 50,000 cells.
        assert!((40_000..60_000).contains(&cells), "{cells}");
        // A 5 arcsec cap rarely spans two cells.
        assert!(grid.entries.len() < 101_000, "{}", grid.entries.len());
        let counts: Vec<u32> = grid.cell_start.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(mean_scan(&counts) < 5.0);
        let equator = &grid.zones[grid.zones.len() / 2];
        assert!((equator.cell_width - grid.zone_height).abs() / grid.zone_height < 0.02);
    }

    #[test]
    fn clustered_contaminants_refine_the_grid() {
        let mut positions = crate::positions::Positions::new(crate::positions::Sky::Clustered, 2);
        let points: Vec<UnitVector> = (0..100_000)
            .map(|_| {
                let (r, d) = positions.next_position();
                unit_vector(r, d)
            })
            .collect();
        let caps: Vec<Cap> = points.iter().map(|p| cap(0, p, &radius(Angle::from_arcsec(5.0)))).collect();
        let coarse = mean_scan(&GridKernel::empty(0.91).count(&caps));
        let refined = uniform_grid(&points, Angle::from_arcsec(5.0));
        let fine: Vec<u32> = refined.cell_start.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(fine.len() > 4 * 50_000, "{}", fine.len());
        assert!(mean_scan(&fine) < coarse / 4.0, "{} vs {coarse}", mean_scan(&fine));
    }

    #[test]
    fn the_series_ra_is_atan2_within_its_documented_bound() {
        let mut vectors: Vec<UnitVector> =
            crate::positions::uniform_positions(200_000, 3).iter().map(|&(r, d)| unit_vector(r, d)).collect();
        // The axes, the octants and the edges of the series' reductions (every pi/32), and
        // their neighbours; the axes with signed zeros.
        for k in 0..64 {
            for step in [-1e-9, -1e-13, 0.0, 1e-13, 1e-9] {
                vectors.push(unit_vector(k as f64 * 5.625 + step, 0.3));
            }
        }
        vectors.extend([[1.0, 0.0, 0.0], [1.0, -0.0, 0.0], [-1.0, 0.0, 0.0], [-1.0, -0.0, 0.0], [0.0, -1.0, 0.0]]);
        let mut worst = 0.0f64;
        for v in &vectors {
            let series = series_ra(v);
            assert!((0.0..=360.0).contains(&series), "{v:?}: {series}");
            let (exact, _) = ra_dec(v);
            let difference = (series - exact).abs();
            worst = worst.max(difference.min(360.0 - difference)); // 0 and 360 are one RA
        }
        // The bound `series_ra` and docs/cut.md state (1e-9 deg), a hundredth of the caps' margin.
        assert!(worst < RA_MARGIN / 100.0, "{worst}");
        // At a pole any RA will do (a cap that holds the pole lists every cell of its zones).
        for pole in [[0.0, 0.0, 1.0], [-0.0, -0.0, -1.0]] {
            assert!((0.0..=360.0).contains(&series_ra(&pole)));
        }
    }

    #[test]
    fn a_caps_centre_and_width_are_atan2_and_asin_within_their_margins() {
        let mut centres: Vec<UnitVector> =
            crate::positions::uniform_positions(100_000, 9).iter().map(|&(r, d)| unit_vector(r, d)).collect();
        centres.extend([-90.0, -89.99999, -45.0, 0.0, 45.0, 89.99999, 90.0].map(|dec| unit_vector(359.9999, dec)));
        for (i, centre) in centres.iter().enumerate() {
            let search = radius(Angle::from_arcsec([0.001, 5.0, 3600.0][i % 3]));
            let cap = cap(0, centre, &search);
            let (ra, dec) = ra_dec(centre);
            let ra_error = (cap.ra - ra).abs();
            assert!(ra_error.min(360.0 - ra_error) < 1e-9, "{centre:?}: RA {} vs {ra}", cap.ra);
            assert!((cap.dec - dec).abs() < 1e-12, "{centre:?}: Dec {} vs {dec}", cap.dec);
            let r = search.angle().degrees();
            assert!(cap.radius > r, "{centre:?}");
            if dec.abs() + cap.radius < 90.0 {
                let width = |r: f64| (r.to_radians().sin() / dec.to_radians().cos()).asin().to_degrees();
                let (exact, widened) = (width(r), width(cap.radius));
                assert!(cap.half_width >= exact + RA_MARGIN, "{centre:?}: {} vs {exact}", cap.half_width);
                // Not wider than the widened radius's by more than the margins.
                assert!(cap.half_width < widened * (1.0 + 1e-6) + 2.0 * RA_MARGIN, "{centre:?}: {}", cap.half_width);
            } else {
                assert_eq!(cap.half_width, 180.0, "{centre:?}");
            }
        }
    }

    #[test]
    fn a_query_finds_its_zone_by_the_sines_of_the_edges() {
        for cell in [0.1, 0.91, 7.3, 180.0] {
            let grid = GridKernel::empty(cell);
            let zones = grid.zones.len();
            // On an edge is the zone above it; just below it, the zone below.
            for k in 1..zones {
                let edge = grid.zone_sines[k];
                assert_eq!(grid.zone_of_z(edge), k, "cell {cell}, edge {k}");
                assert_eq!(grid.zone_of_z(edge.next_down()), k - 1, "cell {cell}, edge {k}");
            }
            // Elsewhere, the zone of its declination (as the caps' zones are found).
            for i in 0..=200_000 {
                let z = -1.0 + 2.0 * f64::from(i) / 200_000.0;
                let dec = z.asin().to_degrees();
                let steps = (dec + 90.0) / grid.zone_height;
                if (steps - steps.round()).abs() * grid.zone_height > 1e-9 {
                    assert_eq!(grid.zone_of_z(z), grid.zone_of(dec), "cell {cell}, z {z}");
                }
            }
            // Not quite unit vectors, and NaN, stay in the grid.
            assert_eq!(grid.zone_of_z(1.0 + 1e-15), zones - 1);
            assert_eq!(grid.zone_of_z(-1.0 - 1e-15), 0);
            assert!(grid.zone_of_z(f64::NAN) < zones);
        }
    }

    #[test]
    fn a_cap_reaches_past_its_ra_edge_by_the_query_margin() {
        // A cap whose widest RA reach ends half the margin east of a cell edge: a query there
        // may compute an RA west of the edge, so the cell west of it must list the cap too.
        let grid = GridKernel::empty(0.5);
        let (dec, r): (f64, f64) = (10.2, 0.1);
        let zone = grid.zones[grid.zone_of(dec)];
        let reach = (r.to_radians().sin() / dec.to_radians().cos()).asin().to_degrees();
        let edge = 20.0 * zone.cell_width;
        let cap = cap(0, &unit_vector(edge + reach + RA_MARGIN / 2.0, dec), &radius(Angle::from_degrees(r)));
        let mut cells = Vec::new();
        grid.for_each_cell(&cap, |c| cells.push(c));
        assert!(cells.contains(&(zone.first_cell + 19)), "{cells:?}");
        assert!(cells.contains(&(zone.first_cell + 20)), "{cells:?}");
    }

    #[test]
    fn a_cap_that_holds_a_pole_by_a_hair_lists_every_cell_around_it() {
        // Within 1e-5 deg of a pole, z = sin(dec) rounded stands for a declination up to ~2e-8
        // deg away: the declination of a cap asin(z) gives may leave the pole out of a cap that
        // holds it. Find such a centre, and a radius that reaches 1e-9 deg past the pole.
        let direction = |v: &UnitVector| v[2].atan2(v[0].hypot(v[1])).to_degrees();
        let asin_error = |v: &UnitVector| v[2].asin().to_degrees() - direction(v);
        let centre = (0..100_000)
            .map(|i| unit_vector(0.0, 89.99999 + f64::from(i) * 1e-12))
            .min_by(|a, b| asin_error(a).total_cmp(&asin_error(b)))
            .unwrap();
        assert!(asin_error(&centre) < -1e-8, "{}", asin_error(&centre));
        let reach = radius(Angle::from_degrees(90.0 - direction(&centre) + 1e-9));
        // An object 5e-10 deg from the pole, on the far side of it: inside the cap.
        let object = unit_vector(180.0, 90.0 - 5e-10);
        assert!(reach.contains(chord2(&object, &centre)));
        let mut grid = GridKernel::empty(0.5);
        let caps = [cap(0, &centre, &reach)];
        let counts = grid.count(&caps);
        grid.fill(&caps, &counts).unwrap();
        assert!(grid.is_near(&object));
    }

    #[test]
    fn a_cap_over_the_pole_or_the_seam_is_found_from_every_side() {
        let two_degrees = radius(Angle::from_degrees(2.0));
        let stars = [unit_vector(0.0, 89.0), unit_vector(359.5, -30.0), unit_vector(0.5, 10.0)];
        let mut grid = GridKernel::empty(0.5);
        let caps: Vec<Cap> = (0..).zip(&stars).map(|(id, p)| cap(id, p, &two_degrees)).collect();
        let counts = grid.count(&caps);
        grid.fill(&caps, &counts).unwrap();
        for (ra, dec, near) in [
            (180.0, 89.5, true), // across the pole
            (90.0, 89.5, true),
            (0.0, 86.9, false),
            (1.0, -30.0, true), // across RA 0
            (358.0, -30.0, true),
            (356.5, -30.0, false),
            (358.6, 10.0, true),
            (2.4, 10.0, true),
        ] {
            assert_eq!(grid.is_near(&unit_vector(ra, dec)), near, "({ra}, {dec})");
        }
    }
}
