//! Kernel throughput: brute force in pair tests per second, the k-d tree in objects per second,
//! and the index build, for contaminant sets the size of the README's workloads; a pixel layer's
//! hash and lookup per object.
//!
//! `cargo bench --bench kernels` (add `-- naive` etc. to pick). Figures are printed by criterion;
//! nothing here asserts a speed.

use std::hint::black_box;

use angcut::synthetic::{Positions, Sky, uniform_positions};
use angcut::{Angle, ContaminantIndex, KernelChoice, SearchRadius, UnitVector, unit_vector};

/// The radius `angle`, which the bench knows to be one.
fn radius(angle: Angle) -> SearchRadius {
    SearchRadius::new(angle).expect("a radius in (0, 180deg]")
}
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn vectors(n: usize, seed: u64) -> Vec<UnitVector> {
    uniform_positions(n, seed).iter().map(|&(ra, dec)| unit_vector(ra, dec)).collect()
}

/// The batch call the pipeline makes.
fn count_near(index: &ContaminantIndex, objects: &[UnitVector]) -> usize {
    let mut near = vec![false; objects.len()];
    index.mark_near(objects, &mut near);
    near.iter().filter(|&&n| n).count()
}

/// One object at a time, for comparison.
fn count_near_one_by_one(index: &ContaminantIndex, objects: &[UnitVector]) -> usize {
    objects.iter().filter(|o| index.is_near(o)).count()
}

/// Brute force with a radius so small nothing is near: every pair is tested (no early exit).
fn naive_pairs(c: &mut Criterion) {
    let mut group = c.benchmark_group("naive_all_pairs");
    let objects = vectors(2_000, 1);
    for contaminants in [500, 5_000] {
        let set = vectors(contaminants, 2);
        let index = ContaminantIndex::build(&set, radius(Angle::from_arcsec(1e-3)), KernelChoice::Naive).unwrap();
        group.throughput(Throughput::Elements((objects.len() * contaminants) as u64));
        group.bench_with_input(BenchmarkId::new("batch", contaminants), &index, |b, index| {
            b.iter(|| count_near(index, black_box(&objects)))
        });
        group.bench_with_input(BenchmarkId::new("one_by_one", contaminants), &index, |b, index| {
            b.iter(|| count_near_one_by_one(index, black_box(&objects)))
        });
    }
    group.finish();
}

/// Both kernels on the same workloads, in objects per second: where they cross sets `auto`.
fn kernels_by_size(c: &mut Criterion) {
    let objects = vectors(20_000, 3);
    let mut cases: Vec<(String, usize, SearchRadius)> = Vec::new();
    for n in [16, 32, 64, 128, 512, 2_048] {
        cases.push((format!("{n}x1deg"), n, radius(Angle::from_degrees(1.0))));
        cases.push((format!("{n}x5arcsec"), n, radius(Angle::from_arcsec(5.0))));
    }
    cases.push(("50000x1deg".into(), 50_000, radius(Angle::from_degrees(1.0))));
    cases.push(("50000x1arcmin".into(), 50_000, radius(Angle::from_arcsec(60.0))));
    let mut group = c.benchmark_group("objects_per_second");
    group.throughput(Throughput::Elements(objects.len() as u64));
    group.sample_size(10);
    for (name, n, maxsep) in cases {
        let set = vectors(n, 4);
        for (kernel, choice) in
            [("naive", KernelChoice::Naive), ("kdtree", KernelChoice::KdTree), ("grid", KernelChoice::Grid)]
        {
            if kernel == "naive" && n > 5_000 && maxsep.angle().arcsec() < 3600.0 {
                continue; // minutes per sample, and never the faster kernel there
            }
            let index = ContaminantIndex::build(&set, maxsep, choice).unwrap();
            group.bench_with_input(BenchmarkId::new(kernel, &name), &index, |b, index| {
                b.iter(|| count_near(index, black_box(&objects)))
            });
        }
    }
    group.finish();
}

/// The index kernels at W3's size: 1,000,000 contaminants, 5 arcsec, on a uniform sky and on a
/// clustered one (contaminants and objects both crowded into the same patches).
fn large_sets(c: &mut Criterion) {
    let mut group = c.benchmark_group("1M_contaminants_5arcsec");
    group.sample_size(10);
    let maxsep = radius(Angle::from_arcsec(5.0));
    for sky in [Sky::Uniform, Sky::Clustered] {
        let set = sky_vectors(sky, 1_000_000, 5);
        let objects = sky_vectors(sky, 100_000, 6);
        for (kernel, choice) in [("kdtree", KernelChoice::KdTree), ("grid", KernelChoice::Grid)] {
            let name = format!("{kernel}_{sky:?}");
            group.throughput(Throughput::Elements(set.len() as u64));
            group.bench_function(format!("build_{name}"), |b| {
                b.iter(|| ContaminantIndex::build(black_box(&set), maxsep, choice).unwrap())
            });
            let index = ContaminantIndex::build(&set, maxsep, choice).unwrap();
            group.throughput(Throughput::Elements(objects.len() as u64));
            group.bench_function(format!("query_{name}"), |b| b.iter(|| count_near(&index, black_box(&objects))));
            group.bench_function(format!("query_{name}_one_by_one"), |b| {
                b.iter(|| count_near_one_by_one(&index, black_box(&objects)))
            });
        }
    }
    group.finish();
}

fn sky_vectors(sky: Sky, n: usize, seed: u64) -> Vec<UnitVector> {
    let mut positions = Positions::new(sky, seed);
    (0..n)
        .map(|_| {
            let (ra, dec) = positions.next_position();
            unit_vector(ra, dec)
        })
        .collect()
}

/// A bright-star mask: 118,000 stars (Hipparcos' size) with magnitudes distributed as star counts
/// are (about 2.5x more stars per magnitude, from -1.5 to 12.5) and the Legacy Surveys' radius
/// 1630 arcsec x 1.396^-mag (30 arcsec .. 0.75 deg). The k-d tree as built (radius classes merged
/// where a tree does not pay: one tree here), a tree per factor-2 class, and the grid.
fn star_mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("star_mask_118k_legacy");
    group.sample_size(10);
    let stars = vectors(118_000, 7);
    let mut rng = angcut::synthetic::SplitMix64::new(8);
    // Inverse CDF of a density growing as 10^(0.4 mag) on [-1.5, 12.5].
    let (low, high, slope) = (-1.5f64, 12.5f64, 0.4 * std::f64::consts::LN_10);
    let radii: Vec<SearchRadius> = (0..stars.len())
        .map(|_| {
            let u = rng.next_f64();
            let mag = low + ((1.0 - u) + u * (slope * (high - low)).exp()).ln() / slope;
            radius(Angle::from_arcsec(1630.0 * 1.396f64.powf(-mag)))
        })
        .collect();
    radius_policies(&mut group, &stars, &radii, vectors(100_000, 9));
    group.finish();

    // Artefacts and a few huge stars: 1,000,000 contaminants of 5 arcsec and 100 of 1 degree,
    // where one tree searched at 1 degree would meet ~76 artefacts per query.
    let mut group = c.benchmark_group("mixed_1M_5arcsec_100_1deg");
    group.sample_size(10);
    let mixed = vectors(1_000_100, 10);
    let mut radii = vec![radius(Angle::from_arcsec(5.0)); 1_000_000];
    radii.extend([radius(Angle::from_degrees(1.0)); 100]);
    radius_policies(&mut group, &mixed, &radii, vectors(100_000, 11));
    group.finish();
}

fn radius_policies(
    group: &mut criterion::BenchmarkGroup<criterion::measurement::WallTime>,
    stars: &[UnitVector],
    radii: &[SearchRadius],
    objects: Vec<UnitVector>,
) {
    group.throughput(Throughput::Elements(objects.len() as u64));
    let indexes = [
        ("kdtree", ContaminantIndex::build_with_radii(stars, radii, KernelChoice::KdTree).unwrap()),
        ("kdtree_class_per_factor_2", ContaminantIndex::build_kdtree_with_merge_budget(stars, radii, 0.0).unwrap()),
        ("kdtree_one_tree", ContaminantIndex::build_kdtree_with_merge_budget(stars, radii, f64::INFINITY).unwrap()),
        ("grid", ContaminantIndex::build_with_radii(stars, radii, KernelChoice::Grid).unwrap()),
    ];
    for (name, index) in &indexes {
        println!("{name}: {} radius classes", index.radius_classes());
        group.bench_function(*name, |b| b.iter(|| count_near(index, black_box(&objects))));
    }
}

/// A pixel layer's cost per object, in its two parts: the depth-29 cell of each (RA, Dec)
/// (cdshealpix's hash, the floor any HEALPix lookup pays) and the lookup of those cells in a
/// HealSparse map (fixtures/pixels/packed.hsp, bit-packed, nside 1024) and a MOC.
fn pixel_lookups(c: &mut Criterion) {
    use angcut::mask::pixels::{PixelMap, PixelRule, cell_at};
    let mut group = c.benchmark_group("pixels");
    let n = 1_000_000;
    // Objects where the maps have cells: around the fixtures' discs (the first at RA 10, Dec 20).
    let mut rng = angcut::rng::SplitMix64::new(4);
    let positions: Vec<(f64, f64)> =
        (0..n).map(|_| (10.0 + 8.0 * (rng.next_f64() - 0.5), 20.0 + 8.0 * (rng.next_f64() - 0.5))).collect();
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("hash", |b| {
        b.iter(|| positions.iter().map(|&(ra, dec)| cell_at(ra, dec)).fold(0u64, |a, c| a ^ c))
    });
    let cells: Vec<u64> = positions.iter().map(|&(ra, dec)| cell_at(ra, dec)).collect();
    for file in ["packed.hsp", "discs.moc.fits"] {
        let map = PixelMap::open(std::path::Path::new(&format!("fixtures/pixels/{file}")), &PixelRule::default())
            .expect("the fixture map");
        let mut words = vec![0u64; n];
        map.mark(&cells, &mut words, 1).expect("read");
        group.bench_function(BenchmarkId::new("lookup", file), |b| {
            b.iter(|| {
                words.fill(0);
                map.mark(black_box(&cells), &mut words, 1).expect("read");
                words.iter().filter(|&&w| w != 0).count()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, naive_pairs, kernels_by_size, large_sets, star_mask, pixel_lookups);
criterion_main!(benches);
