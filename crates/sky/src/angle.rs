//! Angles with units, as astronomers write them: `30arcsec`, `2.5arcmin`, `1deg`, `0.1rad`, `500mas`.

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

/// An angle, stored in radians.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize, serde::Deserialize)]
pub struct Angle {
    radians: f64,
}

/// Why a text could not be read as an angle, or as a search radius.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[allow(missing_docs)] // each variant says what it means in its message
pub enum AngleError {
    #[error("empty angle: expected a number with an optional unit, e.g. 30arcsec")]
    Empty,
    #[error("'{text}' is not a number followed by a unit (deg, arcmin, arcsec, mas, rad), e.g. 30arcsec")]
    Malformed { text: String },
    #[error("unknown angle unit '{unit}' in '{text}': use deg, arcmin, arcsec, mas or rad")]
    UnknownUnit { text: String, unit: String },
    #[error("'{text}' is not finite")]
    NotFinite { text: String },
    #[error("maxsep must be greater than 0 and at most 180deg, got {text}")]
    OutOfRange { text: String },
    #[error("'{text}' is not a unit: use arcsec, arcmin, deg, mas or rad")]
    NotAUnit { text: String },
}

/// The units accepted after the number, and how many radians one of them is.
const UNITS: &[(&str, f64)] = &[
    ("deg", PI / 180.0),
    ("degree", PI / 180.0),
    ("degrees", PI / 180.0),
    ("d", PI / 180.0),
    ("arcmin", PI / 10_800.0),
    ("arcminute", PI / 10_800.0),
    ("arcminutes", PI / 10_800.0),
    ("amin", PI / 10_800.0),
    ("'", PI / 10_800.0),
    ("′", PI / 10_800.0), // prime
    ("arcsec", PI / 648_000.0),
    ("arcsecond", PI / 648_000.0),
    ("arcseconds", PI / 648_000.0),
    ("asec", PI / 648_000.0),
    ("\"", PI / 648_000.0),
    ("″", PI / 648_000.0), // double prime
    ("mas", PI / 648_000_000.0),
    ("rad", 1.0),
    ("radian", 1.0),
    ("radians", 1.0),
];

impl Angle {
    /// The angle of `radians` radians.
    pub const fn from_radians(radians: f64) -> Angle {
        Angle { radians }
    }

    /// The angle of `degrees` degrees.
    pub fn from_degrees(degrees: f64) -> Angle {
        Angle::from_radians(degrees.to_radians())
    }

    /// The angle of `arcsec` seconds of arc.
    pub fn from_arcsec(arcsec: f64) -> Angle {
        Angle::from_radians(arcsec * (PI / 648_000.0))
    }

    /// The angle in radians.
    pub fn radians(self) -> f64 {
        self.radians
    }

    /// The angle in degrees.
    pub fn degrees(self) -> f64 {
        self.radians.to_degrees()
    }

    /// The angle in arcseconds.
    pub fn arcsec(self) -> f64 {
        self.radians * (648_000.0 / PI)
    }

    /// The angle in arcseconds to 15 significant digits, as reports print it: a change of unit
    /// leaves noise in the last bits (30deg is 107999.99999999999 arcsec) that nobody wrote.
    ///
    /// ```
    /// use angcut_sky::Angle;
    /// assert_eq!(Angle::from_degrees(30.0).arcsec_rounded(), 108_000.0);
    /// assert_eq!(Angle::from_arcsec(0.001).arcsec_rounded(), 0.001);
    /// ```
    pub fn arcsec_rounded(self) -> f64 {
        significant(self.arcsec())
    }

    /// A unit's name as an angle of one unit (`"arcsec"` is 1 arcsec): how a column of radii
    /// says what its numbers mean (`--radius-unit`, Python's `radius_unit`).
    ///
    /// ```
    /// use angcut_sky::Angle;
    /// assert_eq!(Angle::parse_unit("arcmin").unwrap(), Angle::from_arcsec(60.0));
    /// assert!(Angle::parse_unit("2deg").is_err());
    /// ```
    pub fn parse_unit(text: &str) -> Result<Angle, AngleError> {
        let unit = text.trim();
        if unit.is_empty() || unit.chars().any(|c| c.is_ascii_digit() || c == '.') {
            return Err(AngleError::NotAUnit { text: text.to_string() });
        }
        format!("1{unit}").parse()
    }
}

/// The warning a bare number above 1 deserves where an angle is asked for: it is read as degrees,
/// but a user who writes `--maxsep 30` more likely meant 30 arcsec (30 degrees removes most of
/// the sky). `None` for a number with a unit, or one of at most 1 degree. `option` names where the
/// text was given (`--maxsep`, `maxsep=`).
///
/// ```
/// use angcut_sky::angle::unitless_warning;
/// assert_eq!(
///     unitless_warning("--maxsep", "30").as_deref(),
///     Some("--maxsep 30 is read as 30 deg; write 30arcsec for arcseconds (a unit also silences this warning: 30deg)")
/// );
/// assert_eq!(unitless_warning("--maxsep", "30arcsec"), None);
/// assert_eq!(unitless_warning("--maxsep", "0.5"), None);
/// ```
pub fn unitless_warning(option: &str, text: &str) -> Option<String> {
    let text = text.trim();
    let degrees: f64 = text.parse().ok()?;
    (degrees > 1.0).then(|| {
        format!("{option} {text} is read as {text} deg; write {text}arcsec for arcseconds (a unit also silences this warning: {text}deg)")
    })
}

impl FromStr for Angle {
    type Err = AngleError;

    /// Reads a number followed by an optional unit; a bare number is degrees.
    fn from_str(text: &str) -> Result<Angle, AngleError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(AngleError::Empty);
        }
        let split = trimmed
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
            .unwrap_or(trimmed.len());
        // The number is the longest prefix of number characters; no unit starts with 'e' or 'E'.
        let (number, unit) = match trimmed[..split].parse::<f64>() {
            Ok(value) => (value, trimmed[split..].trim()),
            Err(_) => {
                return Err(AngleError::Malformed { text: trimmed.to_string() });
            }
        };
        let per_unit = if unit.is_empty() {
            PI / 180.0
        } else {
            let lower = unit.to_ascii_lowercase();
            match UNITS.iter().find(|(name, _)| *name == lower) {
                Some((_, radians)) => *radians,
                None => {
                    return Err(AngleError::UnknownUnit { text: trimmed.to_string(), unit: unit.to_string() });
                }
            }
        };
        if !number.is_finite() {
            return Err(AngleError::NotFinite { text: trimmed.to_string() });
        }
        Ok(Angle::from_radians(number * per_unit))
    }
}

impl fmt::Display for Angle {
    /// Shows the angle in the unit that reads best: arcsec below 1 arcmin, arcmin below 1 deg;
    /// radians for angles too large to convert (what it prints, `parse` reads back to 15
    /// significant digits).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (arcsec, degrees) = (self.arcsec(), self.degrees());
        if !degrees.is_finite() {
            write!(f, "{:e}rad", self.radians)
        } else if arcsec.abs() < 60.0 {
            write!(f, "{}arcsec", significant(arcsec))
        } else if arcsec.abs() < 3600.0 {
            write!(f, "{}arcmin", significant(arcsec / 60.0))
        } else {
            write!(f, "{}deg", significant(degrees))
        }
    }
}

/// `x` rounded to 15 significant digits, which every f64 holds exactly enough to print back.
fn significant(x: f64) -> f64 {
    format!("{x:.14e}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-15 * b.abs().max(1e-300)
    }

    #[test]
    fn reads_every_unit() {
        let cases = [
            ("1deg", 1.0),
            ("1", 1.0),
            ("2.5arcmin", 2.5 / 60.0),
            ("30arcsec", 30.0 / 3600.0),
            ("30 arcsec", 30.0 / 3600.0),
            ("30ARCSEC", 30.0 / 3600.0),
            ("500mas", 0.5 / 3600.0),
            ("1e3mas", 1.0 / 3600.0),
            ("2d", 2.0),
            ("1.5'", 1.5 / 60.0),
            ("3\"", 3.0 / 3600.0),
            ("30 arcseconds", 30.0 / 3600.0),
            ("1 arcsecond", 1.0 / 3600.0),
            ("2 arcminutes", 2.0 / 60.0),
            ("1arcminute", 1.0 / 60.0),
            ("1.5′", 1.5 / 60.0),
            ("3″", 3.0 / 3600.0),
        ];
        for (text, degrees) in cases {
            let angle: Angle = text.parse().unwrap();
            assert!(close(angle.degrees(), degrees), "{text}: {}", angle.degrees());
        }
        let rad: Angle = "0.1rad".parse().unwrap();
        assert_eq!(rad.radians(), 0.1);
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        assert_eq!("".parse::<Angle>(), Err(AngleError::Empty));
        assert!(matches!("abc".parse::<Angle>(), Err(AngleError::Malformed { .. })));
        assert!(matches!("1..2deg".parse::<Angle>(), Err(AngleError::Malformed { .. })));
        assert!(matches!(
            "3parsec".parse::<Angle>(),
            Err(AngleError::UnknownUnit { unit, .. }) if unit == "parsec"
        ));
        assert!(matches!("1e999deg".parse::<Angle>(), Err(AngleError::NotFinite { .. })));
        assert!(matches!("nan".parse::<Angle>(), Err(AngleError::Malformed { .. })));
    }

    #[test]
    fn displays_in_a_readable_unit() {
        assert_eq!(Angle::from_arcsec(30.0).to_string(), "30arcsec");
        assert_eq!(Angle::from_degrees(0.5).to_string(), "30arcmin");
        assert_eq!(Angle::from_degrees(2.0).to_string(), "2deg");
        assert_eq!(Angle::from_arcsec(-90.0).to_string(), "-1.5arcmin");
        assert_eq!(Angle::from_radians(-1e308).to_string(), "-1e308rad");
        // A change of unit leaves last-bit noise, which is not printed.
        assert_eq!(Angle::from_degrees(30.0).arcsec(), 107_999.999_999_999_99);
        assert_eq!(Angle::from_arcsec(108_000.0).to_string(), "30deg");
        assert_eq!(Angle::from_degrees(0.1).to_string(), "6arcmin");
        assert_eq!(Angle::from_degrees(1.0 / 3600.0 * 7.0).to_string(), "7arcsec");
    }

    proptest! {
        #[test]
        fn any_text_parses_to_a_finite_angle_or_says_why(text in "\\PC{0,20}") {
            match text.parse::<Angle>() {
                Ok(angle) => {
                    prop_assert!(angle.radians().is_finite(), "{text:?} -> {angle:?}");
                    prop_assert!(text.chars().any(|c| c.is_ascii_digit()), "{text:?} has no number");
                }
                Err(error) => prop_assert!(!error.to_string().is_empty()),
            }
        }

        #[test]
        fn what_an_angle_prints_it_reads_back(radians in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            let angle = Angle::from_radians(radians);
            let again: Angle = angle.to_string().parse().unwrap();
            prop_assert!((again.radians() - radians).abs() <= 1e-12 * radians.abs(), "{angle} -> {again:?}");
        }

        #[test]
        fn arcsec_round_trips(value in 1e-3f64..1e5) {
            let angle: Angle = format!("{value}arcsec").parse().unwrap();
            prop_assert!((angle.arcsec() - value).abs() <= 1e-12 * value);
        }
    }
}
