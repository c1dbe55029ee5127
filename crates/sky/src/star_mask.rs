//! Radii that grow with a star's brightness: the rules survey bright-star masks are built with.
//!
//! A rule is a sum of power laws in magnitude, each `A * 10^(B * (C - mag))` arcsec, clamped to
//! `[min, max]`. One term is the Legacy Surveys' mask (legacypipe since 2020:
//! `1630 arcsec * 1.396^(-mag)`, i.e. A = 1630, B = log10(1.396), C = 0); two terms give the form
//! HSC uses, `A0 * 10^(B0 * (C0 - mag)) + A1 * 10^(B1 * (C1 - mag))`.

use std::fmt;
use std::str::FromStr;

use crate::angle::Angle;

/// One term of a rule: `a_arcsec * 10^(b * (c - mag))` arcsec.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerLaw {
    /// The radius at `mag = c`, in arcsec.
    pub a_arcsec: f64,
    /// How fast the radius falls with magnitude (dex per magnitude).
    pub b: f64,
    /// The magnitude at which the term is `a_arcsec`.
    pub c: f64,
}

impl PowerLaw {
    /// The Legacy Surveys' bright-star radius, `1630 arcsec * 1.396^(-mag)`.
    pub fn legacy_surveys() -> PowerLaw {
        PowerLaw { a_arcsec: 1630.0, b: 1.396f64.log10(), c: 0.0 }
    }

    fn arcsec(&self, mag: f64) -> f64 {
        self.a_arcsec * 10f64.powf(self.b * (self.c - mag))
    }
}

impl FromStr for PowerLaw {
    type Err = String;

    /// `A,B,C` (A in arcsec, A > 0), or `legacy` for the Legacy Surveys' rule.
    fn from_str(text: &str) -> Result<PowerLaw, String> {
        if text.trim().eq_ignore_ascii_case("legacy") {
            return Ok(PowerLaw::legacy_surveys());
        }
        let numbers: Vec<f64> =
            text.split(',').map(|part| part.trim().parse::<f64>()).collect::<Result<_, _>>().map_err(|_| {
                format!("'{text}' is not A,B,C (three numbers: radius = A arcsec * 10^(B * (C - mag))) or 'legacy'")
            })?;
        let &[a_arcsec, b, c] = numbers.as_slice() else {
            return Err(format!("'{text}' has {} numbers; give A,B,C or 'legacy'", numbers.len()));
        };
        if !(a_arcsec > 0.0 && a_arcsec.is_finite() && b.is_finite() && c.is_finite()) {
            return Err(format!("'{text}': A must be a positive number of arcsec, B and C finite"));
        }
        Ok(PowerLaw { a_arcsec, b, c })
    }
}

impl fmt::Display for PowerLaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} arcsec * 10^({} * ({} - mag))", self.a_arcsec, self.b, self.c)
    }
}

/// A radius for each magnitude: the sum of the terms, clamped.
#[derive(Debug, Clone, PartialEq)]
pub struct MagnitudeRule {
    /// The terms, summed.
    pub terms: Vec<PowerLaw>,
    /// Radii below this are raised to it.
    pub min: Option<Angle>,
    /// Radii above this are lowered to it.
    pub max: Option<Angle>,
}

impl Default for MagnitudeRule {
    /// The Legacy Surveys' rule, unclamped.
    fn default() -> MagnitudeRule {
        MagnitudeRule { terms: vec![PowerLaw::legacy_surveys()], min: None, max: None }
    }
}

impl MagnitudeRule {
    /// The radius for `mag`, or `None` for a NaN or infinite magnitude (which no rule can place).
    ///
    /// ```
    /// use angcut_sky::star_mask::MagnitudeRule;
    /// let legacy = MagnitudeRule::default();
    /// // Legacy Surveys: 1630 arcsec at magnitude 0, 1630 / 1.396^10 = 57.99 arcsec at magnitude 10.
    /// assert!((legacy.radius(0.0).unwrap().arcsec() - 1630.0).abs() < 1e-9);
    /// assert!((legacy.radius(10.0).unwrap().arcsec() - 57.987).abs() < 0.001);
    /// assert!(legacy.radius(f64::NAN).is_none());
    /// ```
    pub fn radius(&self, mag: f64) -> Option<Angle> {
        if !mag.is_finite() {
            return None;
        }
        let mut radius = Angle::from_arcsec(self.terms.iter().map(|term| term.arcsec(mag)).sum());
        if let Some(min) = self.min {
            radius = if radius < min { min } else { radius };
        }
        if let Some(max) = self.max {
            radius = if radius > max { max } else { radius };
        }
        Some(radius)
    }
}

impl fmt::Display for MagnitudeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let terms: Vec<String> = self.terms.iter().map(ToString::to_string).collect();
        write!(f, "{}", terms.join(" + "))?;
        if let Some(min) = self.min {
            write!(f, ", at least {min}")?;
        }
        if let Some(max) = self.max {
            write!(f, ", at most {max}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legacy_rule_matches_its_published_form() {
        let legacy = MagnitudeRule::default();
        for mag in [-1.46, 0.0, 3.5, 7.0, 12.0] {
            let expected = 1630.0 * 1.396f64.powf(-mag);
            let found = legacy.radius(mag).unwrap().arcsec();
            assert!((found - expected).abs() < 1e-9 * expected, "{mag}: {found} vs {expected}");
        }
        assert_eq!("legacy".parse::<PowerLaw>(), Ok(PowerLaw::legacy_surveys()));
    }

    #[test]
    fn terms_add_and_clamps_apply() {
        // An HSC-like two-term rule with made-up constants: the sum of both power laws.
        let rule = MagnitudeRule {
            terms: vec!["200,0.25,7".parse().unwrap(), "10,0.1,0".parse().unwrap()],
            min: Some(Angle::from_arcsec(5.0)),
            max: Some(Angle::from_degrees(0.5)),
        };
        let at = |mag: f64| rule.radius(mag).unwrap().arcsec();
        let plain = |mag: f64| 200.0 * 10f64.powf(0.25 * (7.0 - mag)) + 10.0 * 10f64.powf(0.1 * -mag);
        assert!((at(8.0) - plain(8.0)).abs() < 1e-9);
        assert!((at(-5.0) - 1800.0).abs() < 1e-9, "clamped to 0.5 deg");
        assert!((at(30.0) - 5.0).abs() < 1e-9, "clamped to 5 arcsec");
        assert_eq!(rule.radius(f64::INFINITY), None);
    }

    #[test]
    fn bad_terms_say_what_is_expected() {
        for bad in ["", "1,2", "1,2,3,4", "a,b,c", "-5,0.1,0", "0,1,1", "inf,1,1", "1,nan,1"] {
            let err = bad.parse::<PowerLaw>().unwrap_err();
            assert!(err.contains("A,B,C") || err.contains("A must be"), "{bad}: {err}");
        }
        assert_eq!("  40, 0.2 , 1.5".parse(), Ok(PowerLaw { a_arcsec: 40.0, b: 0.2, c: 1.5 }));
    }
}
