//! Deterministic positions on the sky for the synthetic catalogues, tests and benchmarks:
//! uniform on the sphere, or concentrated in a few dense patches, from [`SplitMix64`], so that a
//! seed gives the same positions on every platform and every version.

use crate::rng::SplitMix64;
use crate::sky::unit_vector;

/// `n` positions (ra, dec) in degrees, uniform on the sphere.
pub fn uniform_positions(n: usize, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = SplitMix64::new(seed);
    (0..n).map(|_| rng.next_position()).collect()
}

/// How positions are spread over the sky.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sky {
    /// Uniform on the sphere.
    #[default]
    Uniform,
    /// Most points in a few dense Gaussian patches (as survey footprints and clusters make real
    /// catalogues), the rest uniform: the case where a k-d tree and a grid behave differently.
    Clustered,
}

/// Patches of the clustered sky: how many, and the share of points they hold.
const PATCHES: usize = 12;
const IN_PATCHES: f64 = 0.85;

/// A clustered patch: a centre, two tangent directions, and a width in radians.
struct Patch {
    centre: [f64; 3],
    east: [f64; 3],
    north: [f64; 3],
    sigma: f64,
}

impl Patch {
    fn new(ra_deg: f64, dec_deg: f64, sigma_deg: f64) -> Patch {
        let (ra, dec) = (ra_deg.to_radians(), dec_deg.to_radians());
        Patch {
            centre: unit_vector(ra_deg, dec_deg),
            east: [-ra.sin(), ra.cos(), 0.0],
            north: [-dec.sin() * ra.cos(), -dec.sin() * ra.sin(), dec.cos()],
            sigma: sigma_deg.to_radians(),
        }
    }

    /// A point at a Gaussian offset from the centre, in degrees.
    fn scatter(&self, rng: &mut SplitMix64) -> (f64, f64) {
        let (dx, dy) = (self.sigma * rng.next_normal(), self.sigma * rng.next_normal());
        let v: [f64; 3] = std::array::from_fn(|k| self.centre[k] + dx * self.east[k] + dy * self.north[k]);
        let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        let dec = (v[2] / norm).clamp(-1.0, 1.0).asin().to_degrees();
        let ra = v[1].atan2(v[0]).to_degrees().rem_euclid(360.0);
        // rem_euclid of a tiny negative angle rounds to 360.0 itself.
        (if ra >= 360.0 { 0.0 } else { ra }, dec)
    }
}

/// An endless, deterministic stream of positions (ra, dec) in degrees.
pub struct Positions {
    rng: SplitMix64,
    patches: Vec<Patch>,
}

impl Positions {
    /// Positions on `sky`, the same for the same `seed`.
    pub fn new(sky: Sky, seed: u64) -> Positions {
        let patches = match sky {
            Sky::Uniform => Vec::new(),
            Sky::Clustered => {
                // The patches come from their own stream, so they do not depend on the row count.
                let mut rng = SplitMix64::new(seed ^ 0x5EED_C1A5_7E25_0000);
                (0..PATCHES)
                    .map(|_| {
                        let (ra, dec) = rng.next_position();
                        Patch::new(ra, dec, 0.5 + 2.5 * rng.next_f64())
                    })
                    .collect()
            }
        };
        Positions { rng: SplitMix64::new(seed), patches }
    }

    /// The next (ra, dec) in degrees: in a patch, or anywhere on the sky.
    pub fn next_position(&mut self) -> (f64, f64) {
        if self.patches.is_empty() || !self.rng.chance(IN_PATCHES) {
            return self.rng.next_position();
        }
        let patch = self.rng.below(self.patches.len() as u64) as usize;
        self.patches[patch].scatter(&mut self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sky::chord2;

    #[test]
    fn same_seed_same_catalogue_and_dec_is_area_uniform() {
        let a = uniform_positions(20_000, 7);
        assert_eq!(a, uniform_positions(20_000, 7));
        assert_ne!(a, uniform_positions(20_000, 8));
        assert!(a.iter().all(|&(ra, dec)| (0.0..360.0).contains(&ra) && (-90.0..=90.0).contains(&dec)));
        // Uniform on the sphere: half the area lies at |dec| < 30deg.
        let band = a.iter().filter(|p| p.1.abs() < 30.0).count() as f64 / a.len() as f64;
        assert!((band - 0.5).abs() < 0.02, "{band}");
    }

    #[test]
    fn uniform_stream_matches_the_plain_generator() {
        let mut positions = Positions::new(Sky::Uniform, 7);
        let streamed: Vec<_> = (0..1000).map(|_| positions.next_position()).collect();
        assert_eq!(streamed, uniform_positions(1000, 7));
    }

    #[test]
    fn clustered_points_crowd_into_patches() {
        let mut positions = Positions::new(Sky::Clustered, 3);
        let points: Vec<_> = (0..20_000).map(|_| positions.next_position()).collect();
        assert!(points.iter().all(|&(ra, dec)| (0.0..360.0).contains(&ra) && (-90.0..=90.0).contains(&dec)));
        // Within 3 sigma (<= 7.5 deg) of some patch centre: the patches cover under 12 x 1.7% of
        // the sky, so a uniform sky would put ~20% there; the clustered one puts ~85% + background.
        let centres: Vec<_> = positions.patches.iter().map(|p| (p.centre, 3.0 * p.sigma)).collect();
        let near_patch = points
            .iter()
            .filter(|&&(ra, dec)| {
                let v = unit_vector(ra, dec);
                centres.iter().any(|&(c, r)| chord2(&v, &c) < (2.0 * (r / 2.0).sin()).powi(2))
            })
            .count();
        let share = near_patch as f64 / points.len() as f64;
        assert!(share > 0.8, "only {share} of the points are near a patch");
        let mut again = Positions::new(Sky::Clustered, 3);
        assert_eq!(points[..100], (0..100).map(|_| again.next_position()).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn scatter_is_centred_on_the_patch_and_has_its_width() {
        let patch = Patch::new(359.9, 89.0, 1.0); // across the RA seam, near the pole
        let mut rng = SplitMix64::new(11);
        let centre = patch.centre;
        let offsets: Vec<f64> = (0..10_000)
            .map(|_| {
                let (ra, dec) = patch.scatter(&mut rng);
                let chord = chord2(&unit_vector(ra, dec), &centre).sqrt();
                (2.0 * (chord / 2.0).asin()).to_degrees()
            })
            .collect();
        // The separation of a 2-D Gaussian offset is Rayleigh: mean sigma * sqrt(pi / 2).
        let mean = offsets.iter().sum::<f64>() / offsets.len() as f64;
        assert!((mean - (std::f64::consts::PI / 2.0).sqrt()).abs() < 0.03, "{mean}");
    }
}
