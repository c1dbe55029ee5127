//! Proper motion: moving a star from its catalogue's epoch to the survey's, before it is indexed.
//!
//! A star moves along its great circle, by |mu| (t - t_ref) towards position angle
//! atan2(mu_ra*, mu_dec), where mu_ra* includes cos(dec) (the Hipparcos and Gaia convention).
//! This is the motion astropy's `apply_space_motion` gives for a star without distance or radial
//! velocity, to well under a microarcsecond over centuries for any real proper motion: the
//! difference is the light-time and perspective terms, which need a parallax and a radial
//! velocity that star masks do not carry.

use crate::shape::tangent_basis;
use crate::sky::{UnitVector, unit_vector};

/// Milliarcseconds per radian.
const MAS_PER_RADIAN: f64 = 180.0 * 3_600_000.0 / std::f64::consts::PI;

/// The years epochs may be: any survey's or star catalogue's falls well inside. A year far
/// outside (1e308) would move stars to NaN, which then mask nothing without a word.
pub const YEARS: std::ops::RangeInclusive<f64> = 1000.0..=3000.0;

/// `year` if it is an epoch ([`YEARS`]), else the reason, for the caller to prefix with the
/// option or key that gave it (`--epoch`, `epoch =`, `ref_epoch =`, a row's column).
///
/// ```
/// use angcut_sky::motion::check_year;
/// assert_eq!(check_year(2016.0), Ok(2016.0));
/// assert!(check_year(1e308).unwrap_err().contains("1000 to 3000"));
/// assert!(check_year(f64::NAN).is_err());
/// ```
pub fn check_year(year: f64) -> Result<f64, String> {
    if YEARS.contains(&year) {
        Ok(year)
    } else {
        // 1e308 as itself, not its 309 digits.
        let shown = if year.abs() < 1e6 { year.to_string() } else { format!("{year:e}") };
        Err(format!("{shown} is not an epoch: give a Julian year from 1000 to 3000"))
    }
}

/// The position at (`ra_deg`, `dec_deg`) moved by the proper motion (`pm_ra`, `pm_dec`) in mas/yr
/// (`pm_ra` including cos dec) for `years` (negative: back in time).
///
/// ```
/// use angcut_sky::motion::propagate;
/// use angcut_sky::sky::separation_deg;
/// // Barnard's star, Hipparcos: 10.3 arcsec/yr, mostly north.
/// let moved = propagate(269.454, 4.668, -797.84, 10326.93, 24.75);
/// let (ra, dec) = (moved[1].atan2(moved[0]).to_degrees().rem_euclid(360.0), moved[2].asin().to_degrees());
/// let arcsec = separation_deg(269.454, 4.668, ra, dec) * 3600.0;
/// assert!((arcsec - 797.84f64.hypot(10326.93) / 1000.0 * 24.75).abs() < 1e-6, "{arcsec}");
/// assert!(dec > 4.668 && ra < 269.454);
/// ```
pub fn propagate(ra_deg: f64, dec_deg: f64, pm_ra: f64, pm_dec: f64, years: f64) -> UnitVector {
    let centre = unit_vector(ra_deg, dec_deg);
    let rate = pm_ra.hypot(pm_dec);
    if rate == 0.0 || years == 0.0 {
        return centre;
    }
    let (east, north) = tangent_basis(ra_deg, dec_deg);
    // The unit tangent towards the motion, then the great circle through it.
    let (e, n) = (pm_ra / rate, pm_dec / rate);
    let towards = [east[0] * e + north[0] * n, east[1] * e + north[1] * n, east[2] * e + north[2] * n];
    let (sin, cos) = (rate * years / MAS_PER_RADIAN).sin_cos();
    [centre[0] * cos + towards[0] * sin, centre[1] * cos + towards[1] * sin, centre[2] * cos + towards[2] * sin]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sky::separation_deg;
    use proptest::prelude::*;

    fn ra_dec(v: UnitVector) -> (f64, f64) {
        (v[1].atan2(v[0]).to_degrees().rem_euclid(360.0), v[2].clamp(-1.0, 1.0).asin().to_degrees())
    }

    #[test]
    fn no_motion_or_no_time_stays_put() {
        assert_eq!(propagate(12.0, -40.0, 0.0, 0.0, 30.0), unit_vector(12.0, -40.0));
        assert_eq!(propagate(12.0, -40.0, 5.0, 7.0, 0.0), unit_vector(12.0, -40.0));
    }

    #[test]
    fn a_star_crosses_the_pole_and_ra_zero() {
        // 1 deg/yr due north from dec 89.5 for one year: over the pole to dec 89.5 at RA + 180.
        let moved = ra_dec(propagate(10.0, 89.5, 0.0, 3_600_000.0, 1.0));
        assert!((moved.0 - 190.0).abs() < 1e-9 && (moved.1 - 89.5).abs() < 1e-9, "{moved:?}");
        // Due east across RA 0 on the equator: 359.9 + 0.2 = 0.1.
        let moved = ra_dec(propagate(359.9, 0.0, 720_000.0, 0.0, 1.0));
        assert!((moved.0 - 0.1).abs() < 1e-9 && moved.1.abs() < 1e-12, "{moved:?}");
    }

    proptest! {
        /// The star moves |mu| t along position angle atan2(pm_ra, pm_dec), and back again.
        #[test]
        fn moves_by_the_rate_towards_the_position_angle(
            ra in 0.0..360.0f64, dec in -89.0..89.0f64,
            pm_ra in -20_000.0..20_000.0f64, pm_dec in -20_000.0..20_000.0f64, years in -50.0..50.0f64,
        ) {
            let moved = propagate(ra, dec, pm_ra, pm_dec, years);
            let norm = (moved[0] * moved[0] + moved[1] * moved[1] + moved[2] * moved[2]).sqrt();
            prop_assert!((norm - 1.0).abs() < 1e-14);
            let (ra2, dec2) = ra_dec(moved);
            let expected_mas = pm_ra.hypot(pm_dec) * years.abs();
            let moved_mas = separation_deg(ra, dec, ra2, dec2) * 3_600_000.0;
            prop_assert!((moved_mas - expected_mas).abs() < 1e-6 * expected_mas.max(1.0), "{} vs {}", moved_mas, expected_mas);
            // The direction: the tangent-plane offset has the sign of the motion (times time).
            let (east, north) = tangent_basis(ra, dec);
            let d = [moved[0], moved[1], moved[2]];
            let (xi, eta) = (d.iter().zip(east).map(|(a, b)| a * b).sum::<f64>(), d.iter().zip(north).map(|(a, b)| a * b).sum::<f64>());
            if expected_mas > 1.0 {
                let angle = (xi * years.signum()).atan2(eta * years.signum());
                let wanted = pm_ra.atan2(pm_dec);
                let diff = (angle - wanted).rem_euclid(std::f64::consts::TAU);
                prop_assert!(diff.min(std::f64::consts::TAU - diff) < 1e-6, "{} vs {}", angle, wanted);
            }
        }
    }
}
