//! Positions on the sky as unit vectors, and the one predicate that decides "near".
//!
//! Every kernel answers the same question with [`SearchRadius::contains`]: is the squared chord
//! between two unit vectors strictly less than the squared chord of `maxsep`? Chord and angle grow
//! together on [0, 180deg], so this is "separation < maxsep" without an inverse trigonometric call.
//!
//! Why the chord and not the dot product: `a.b > cos(maxsep)` loses everything for small radii, since
//! cos(theta) = 1 - theta^2/2 rounds to 1.0 for theta below ~1e-8 rad (2 mas), and the test then
//! removes nothing. The chord is built from coordinate differences, each exact to ~1e-16 absolute,
//! so a 1 mas chord (4.8e-9) carries a relative error near 1e-7: sound from 1 mas up. Near 180deg the
//! chord flattens (d chord / d theta -> 0) and the resolution drops to ~sqrt(eps) = 1e-8 rad (2 mas),
//! which matters only for radii within a few mas of 180deg.

use std::f64::consts::PI;

use crate::angle::{Angle, AngleError};

/// A position on the unit sphere: x towards (ra 0, dec 0), z towards the north pole.
pub type UnitVector = [f64; 3];

/// The unit vector of (ra, dec) in degrees; any finite RA works (it wraps), dec must be in [-90, 90].
#[inline]
pub fn unit_vector(ra_deg: f64, dec_deg: f64) -> UnitVector {
    let (sin_ra, cos_ra) = ra_deg.to_radians().sin_cos();
    let (sin_dec, cos_dec) = dec_deg.to_radians().sin_cos();
    [cos_dec * cos_ra, cos_dec * sin_ra, sin_dec]
}

/// Squared Euclidean distance between two unit vectors: 4 sin^2(separation / 2).
#[inline(always)]
pub fn chord2(a: &UnitVector, b: &UnitVector) -> f64 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    let dz = a[2] - b[2];
    dx * dx + dy * dy + dz * dz
}

/// A search radius: an angle greater than 0 and at most 180 degrees, checked once where it is
/// made ([`SearchRadius::new`], [`SearchRadius::parse`]) and trusted from then on by the kernels,
/// kept with the squared chord they compare against.
///
/// ```
/// use angcut_sky::{Angle, SearchRadius};
/// let r = SearchRadius::parse("30arcsec").unwrap();
/// assert!((r.angle().arcsec() - 30.0).abs() < 1e-12);
/// assert!(SearchRadius::parse("0").is_err());
/// assert!(SearchRadius::new(Angle::from_degrees(181.0)).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
// Stored as its angle, and checked again when read back.
#[serde(try_from = "Angle", into = "Angle")]
pub struct SearchRadius {
    angle: Angle,
    limit: f64,
}

impl std::fmt::Display for SearchRadius {
    /// The radius as its angle prints: `30arcsec`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.angle.fmt(f)
    }
}

/// An angle that is not a search radius: not greater than 0, over 180 degrees, or not a number.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("{0} is not a radius: a radius must be greater than 0 and at most 180deg")]
pub struct OutOfRange(pub Angle);

impl SearchRadius {
    /// The radius `angle`, if it lies in (0, 180deg]: the one place that range is checked.
    pub fn new(angle: Angle) -> Result<SearchRadius, OutOfRange> {
        // 180deg from "180deg" or "648000arcsec" may land an ulp or two above pi; it is pi.
        let radians = angle.radians();
        if !(radians > 0.0 && radians <= PI * (1.0 + 4.0 * f64::EPSILON)) {
            return Err(OutOfRange(angle));
        }
        let angle = Angle::from_radians(radians.min(PI));
        let half_chord = (angle.radians() / 2.0).sin();
        Ok(SearchRadius { angle, limit: 4.0 * half_chord * half_chord })
    }

    /// Reads a radius as `--maxsep` takes it: a number with an optional unit (a bare number is
    /// degrees), greater than 0 and at most 180 degrees.
    pub fn parse(text: &str) -> Result<SearchRadius, AngleError> {
        let angle: Angle = text.parse()?;
        SearchRadius::new(angle).map_err(|_| AngleError::OutOfRange { text: text.trim().to_string() })
    }

    /// The radius as an angle.
    pub fn angle(&self) -> Angle {
        self.angle
    }

    /// The squared chord that a separation must stay strictly below.
    pub fn chord2_limit(&self) -> f64 {
        self.limit
    }

    /// The exact predicate: is the squared chord `chord2` strictly inside this radius?
    #[inline(always)]
    pub fn contains(&self, chord2: f64) -> bool {
        chord2 < self.limit
    }

    /// The largest of `radii`, `None` if there are none.
    pub fn largest(radii: impl IntoIterator<Item = SearchRadius>) -> Option<SearchRadius> {
        radii.into_iter().reduce(|a, b| if b.angle > a.angle { b } else { a })
    }
}

/// The angular separation of two positions in degrees, by Vincenty's formula (accurate at every
/// angle). Not used by the cut itself: it is the independent check that the chord predicate is right.
pub fn separation_deg(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let (sin_d1, cos_d1) = dec1.to_radians().sin_cos();
    let (sin_d2, cos_d2) = dec2.to_radians().sin_cos();
    let (sin_dra, cos_dra) = (ra2 - ra1).to_radians().sin_cos();
    let num1 = cos_d2 * sin_dra;
    let num2 = cos_d1 * sin_d2 - sin_d1 * cos_d2 * cos_dra;
    let den = sin_d1 * sin_d2 + cos_d1 * cos_d2 * cos_dra;
    num1.hypot(num2).atan2(den).to_degrees()
}

impl TryFrom<Angle> for SearchRadius {
    type Error = OutOfRange;
    fn try_from(angle: Angle) -> Result<SearchRadius, OutOfRange> {
        SearchRadius::new(angle)
    }
}

impl From<SearchRadius> for Angle {
    fn from(radius: SearchRadius) -> Angle {
        radius.angle
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A radius is serialized as its angle and checked again when read back (a pickled mask).
    #[test]
    fn a_serialized_radius_is_checked_when_read_back() {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            r: SearchRadius,
        }
        let radius = SearchRadius::new(Angle::from_radians(0.001)).unwrap();
        let back: Wrapper = toml::from_str("r = { radians = 0.001 }").unwrap();
        assert_eq!(back.r, radius);
        assert_eq!(back.r.chord2_limit().to_bits(), radius.chord2_limit().to_bits());
        let error = toml::from_str::<Wrapper>("r = { radians = -1.0 }").err().unwrap().to_string();
        assert!(error.contains("is not a radius"), "{error}");
    }

    fn near(ra1: f64, dec1: f64, ra2: f64, dec2: f64, maxsep: Angle) -> bool {
        SearchRadius::new(maxsep).unwrap().contains(chord2(&unit_vector(ra1, dec1), &unit_vector(ra2, dec2)))
    }

    #[test]
    fn unit_vectors_have_unit_length_at_poles_and_wrap() {
        for (ra, dec) in [(0.0, 90.0), (123.0, -90.0), (359.999, 0.0), (-10.0, 45.0), (720.0, 1.0)] {
            let v = unit_vector(ra, dec);
            let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            assert!((norm - 1.0).abs() < 1e-15, "{ra} {dec}");
        }
    }

    #[test]
    fn wraps_across_ra_zero() {
        let r = Angle::from_arcsec(10.0);
        assert!(near(359.9990, 0.0, 0.0009, 0.0, r)); // 6.8 arcsec apart across the seam
        assert!(!near(359.9970, 0.0, 0.0009, 0.0, r)); // 14 arcsec apart
        assert!(near(-0.001, 10.0, 359.999, 10.0, r)); // the same place written twice
    }

    #[test]
    fn every_ra_meets_at_the_pole() {
        let r = Angle::from_arcsec(1.0);
        assert!(near(0.0, 90.0, 180.0, 90.0, r));
        assert!(near(17.0, 89.9999, 197.0, 89.9999, r)); // 0.72 arcsec across the pole
        assert!(!near(17.0, 89.9998, 197.0, 89.9998, r)); // 1.44 arcsec
    }

    #[test]
    fn one_milliarcsecond_is_resolved() {
        let r = Angle::from_arcsec(1e-3);
        let dec0 = 12.5;
        let step = 1e-3 / 3600.0;
        assert!(near(30.0, dec0, 30.0, dec0 + 0.999 * step, r));
        assert!(!near(30.0, dec0, 30.0, dec0 + 1.001 * step, r));
    }

    #[test]
    fn separation_is_strictly_less() {
        // A limit exactly the chord of a pair: the pair is not near, a closer one is.
        let a = unit_vector(10.0, 0.0);
        let b = unit_vector(11.0, 0.0);
        let limit_exact = SearchRadius { angle: Angle::from_degrees(1.0), limit: chord2(&a, &b) };
        assert!(!limit_exact.contains(chord2(&a, &b)));
        assert!(limit_exact.contains(chord2(&a, &a)));
    }

    #[test]
    fn a_radius_is_the_chord_of_that_separation() {
        // SearchRadius::new against the chord of two points that far apart along the equator,
        // from 1 mas to 180deg; and a point just inside or just outside falls on its side.
        for degrees in [1.0 / 3.6e6, 1.0 / 3600.0, 0.5, 1.0, 30.0, 90.0, 135.0, 179.0, 180.0] {
            let radius = SearchRadius::new(Angle::from_degrees(degrees)).unwrap();
            assert_eq!(radius.angle(), Angle::from_degrees(degrees));
            let (start, end) = (unit_vector(0.0, 0.0), unit_vector(degrees, 0.0));
            let chord = chord2(&start, &end);
            assert!(
                (radius.chord2_limit() - chord).abs() <= 1e-14 * chord,
                "{degrees}deg: {} vs {chord}",
                radius.chord2_limit()
            );
            // Near 180deg the chord changes with the square of the distance to the antipode, so
            // a part in 1e9 is below its resolution there: a part in 1e6 is not.
            let step = if degrees < 90.0 { 1e-9 } else { 1e-6 };
            let inside = unit_vector(degrees * (1.0 - step), 0.0);
            assert!(radius.contains(chord2(&start, &inside)), "{degrees}deg: just inside");
            if degrees < 180.0 {
                let outside = unit_vector(degrees * (1.0 + step), 0.0);
                assert!(!radius.contains(chord2(&start, &outside)), "{degrees}deg: just outside");
            }
        }
    }

    #[test]
    fn a_radius_is_open_at_zero_and_closed_at_180() {
        for bad in ["0", "0deg", "-1arcsec", "180.0001deg", "181", "4rad"] {
            assert!(matches!(SearchRadius::parse(bad), Err(AngleError::OutOfRange { .. })), "{bad}");
        }
        for bad in [0.0, -1.0, f64::NAN, 180.5, f64::INFINITY] {
            let angle = Angle::from_degrees(bad);
            assert!(
                matches!(SearchRadius::new(angle), Err(OutOfRange(a)) if a.radians().to_bits() == angle.radians().to_bits()),
                "{bad}"
            );
        }
        assert_eq!(SearchRadius::parse("180deg").unwrap().angle().radians(), PI);
        assert_eq!(SearchRadius::parse("648000arcsec").unwrap().angle().radians(), PI);
        assert_eq!(SearchRadius::parse("1mas").unwrap().angle(), Angle::from_radians(PI / 648_000_000.0));
        assert_eq!(SearchRadius::parse("1mas").unwrap().angle().to_string(), "0.001arcsec");
    }

    #[test]
    fn the_largest_radius_is_the_widest_angle() {
        let r = |arcsec: f64| SearchRadius::new(Angle::from_arcsec(arcsec)).unwrap();
        assert_eq!(SearchRadius::largest([r(3.0), r(90.0), r(7.0)]), Some(r(90.0)));
        assert_eq!(SearchRadius::largest([]), None);
    }

    #[test]
    fn antipodes_are_only_inside_nothing() {
        let half_turn = SearchRadius::new(Angle::from_degrees(180.0)).unwrap();
        assert_eq!(half_turn.chord2_limit(), 4.0);
        // Everything but the antipode is closer than 180deg.
        assert!(half_turn.contains(chord2(&unit_vector(0.0, 0.0), &unit_vector(179.999, 0.0))));
        assert!(!half_turn.contains(chord2(&unit_vector(0.0, 90.0), &unit_vector(0.0, -90.0))));
        let nearly = SearchRadius::new(Angle::from_degrees(179.0)).unwrap();
        assert!(!nearly.contains(chord2(&unit_vector(0.0, 0.0), &unit_vector(180.0, 0.0))));
    }

    proptest! {
        /// The chord predicate agrees with Vincenty's separation wherever the two are not within
        /// rounding of the boundary.
        #[test]
        fn chord_agrees_with_vincenty(
            ra1 in -360.0f64..720.0, u1 in -1.0f64..1.0,
            ra2 in -360.0f64..720.0, u2 in -1.0f64..1.0,
            log_radius in -6.6f64..2.2555, // 1 mas .. 180 deg, as log10 of degrees
        ) {
            let (dec1, dec2) = (u1.asin().to_degrees(), u2.asin().to_degrees());
            let maxsep_deg = 10f64.powf(log_radius).min(180.0);
            let sep = separation_deg(ra1, dec1, ra2, dec2);
            let margin = 1e-9 * maxsep_deg + 1e-12;
            prop_assume!((sep - maxsep_deg).abs() > margin);
            prop_assert_eq!(near(ra1, dec1, ra2, dec2, Angle::from_degrees(maxsep_deg)), sep < maxsep_deg);
        }

        /// Close pairs at every scale, placed on purpose near the boundary.
        /// A radius parses exactly when its value lies in (0, 180deg], and then to that value.
        #[test]
        fn a_radius_parses_exactly_when_it_lies_in_range(
            value in -10.0f64..1.0e6,
            (unit, per) in proptest::sample::select(vec![
                ("deg", PI / 180.0), ("arcmin", PI / 10_800.0), ("arcsec", PI / 648_000.0),
                ("mas", PI / 648_000_000.0), ("rad", 1.0), ("'", PI / 10_800.0),
            ]),
        ) {
            let text = format!("{value}{unit}");
            let radians = value * per;
            match SearchRadius::parse(&text) {
                Ok(radius) => {
                    let got = radius.angle().radians();
                    prop_assert!(radians > 0.0 && radians <= PI * (1.0 + 1e-15), "{text} accepted");
                    prop_assert!((got - radians).abs() <= 1e-12 * radians, "{text} -> {got} not {radians}");
                }
                Err(_) => prop_assert!(!(radians > 0.0 && radians < PI * (1.0 - 1e-15)), "{text} refused"),
            }
        }

        #[test]
        fn close_pairs_agree_with_vincenty(
            ra in 0.0f64..360.0, u in -1.0f64..1.0, bearing in 0.0f64..360.0,
            log_sep in -6.6f64..0.0, ratio in 0.9f64..1.1,
        ) {
            let dec = u.asin().to_degrees();
            let sep_deg = 10f64.powf(log_sep);
            let (ra2, dec2) = offset(ra, dec, bearing, sep_deg * ratio);
            let sep = separation_deg(ra, dec, ra2, dec2);
            prop_assume!((sep - sep_deg).abs() > 1e-7 * sep_deg);
            prop_assert_eq!(near(ra, dec, ra2, dec2, Angle::from_degrees(sep_deg)), sep < sep_deg);
        }
    }

    /// The point `dist` degrees from (ra, dec) along `bearing` (degrees east of north).
    fn offset(ra: f64, dec: f64, bearing: f64, dist: f64) -> (f64, f64) {
        let (d, b, phi) = (dist.to_radians(), bearing.to_radians(), dec.to_radians());
        let sin_phi2 = phi.sin() * d.cos() + phi.cos() * d.sin() * b.cos();
        let phi2 = sin_phi2.clamp(-1.0, 1.0).asin();
        let dlam = (b.sin() * d.sin() * phi.cos()).atan2(d.cos() - phi.sin() * sin_phi2);
        (ra + dlam.to_degrees(), phi2.to_degrees())
    }
}
