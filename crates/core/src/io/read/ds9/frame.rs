//! The frames of a DS9 file's positions, and how a shape's sizes and angles in its frame become
//! the sky's: sky frames (ICRS, galactic, ecliptic, FK4) turn them by the frame's north; an
//! image's pixels map them through the image's WCS at the shape's centre.

use super::wcs::ImageWcs;
use super::{position, size};
use crate::angle::Angle;

/// A sky frame: ICRS (`fk5`, `icrs`, `J2000`: FK5 is read as ICRS, as every catalogue's
/// positions are), one a fixed rotation away from it, or FK4 (B1950).
#[derive(Clone, Copy)]
pub(super) enum SkyFrame {
    Icrs,
    Rotated {
        to_icrs: [[f64; 3]; 3],
    },
    /// FK4 at equinox and epoch B1950: its E-terms of aberration removed, then a rotation.
    Fk4,
}

/// Galactic (l, b) to ICRS unit vectors: astropy's (8.0) `Galactic` to `ICRS`, its three axes
/// transformed (the IAU 1958 definition through FK5 J2000 and the frame bias).
pub(super) const GALACTIC_TO_ICRS: [[f64; 3]; 3] = [
    [-0.05487565771259219, 0.49410943719272665, -0.8676661375596586],
    [-0.8734370519556163, -0.4448297212232957, -0.19807633727300059],
    [-0.4838350736167157, 0.7469821839866677, 0.4559838136873021],
];

/// Ecliptic (lambda, beta) to ICRS: the mean ecliptic and equinox of J2000, astropy's (8.0)
/// `BarycentricMeanEcliptic` (what astropy `regions` reads DS9's `ecliptic` as), its three axes
/// transformed to `ICRS` (the IAU 2006 obliquity, with the frame bias).
pub(super) const ECLIPTIC_TO_ICRS: [[f64; 3]; 3] = [
    [0.9999999999999943, 3.2897004162583065e-08, -1.0207044720705122e-07],
    [-7.078369026537747e-08, 0.9174821299149586, -0.39777699944404316],
    [8.056213977613189e-08, 0.397776999444048, 0.9174821299149556],
];

/// FK4 without E-terms (equinox and epoch B1950) to ICRS: astropy's (8.0) `FK4NoETerms` to
/// `ICRS`, its three axes transformed (through FK5 J2000; at epoch B1950 no fictitious proper
/// motion term).
const FK4_NO_E_TO_ICRS: [[f64; 3]; 3] = [
    [0.9999256809514503, -0.011181372203849847, -0.004858959705285337],
    [0.011181371753884808, 0.9999374861373455, -2.7258532094273118e-05],
    [0.004858960740738831, -2.707332853596652e-05, 0.9999881948140963],
];

/// The E-terms of aberration at equinox B1950 (astropy's `fk4_e_terms`), as a vector.
const FK4_E_TERMS: [f64; 3] = [-1.6255741516894347e-06, -3.191905371563791e-07, -1.384290671929659e-07];

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The (RA, Dec) of a unit vector, in radians.
fn radec(v: [f64; 3]) -> (f64, f64) {
    (v[1].atan2(v[0]), v[2].atan2(v[0].hypot(v[1])))
}

fn vector(lon: f64, lat: f64) -> [f64; 3] {
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

impl SkyFrame {
    /// The position angle in ICRS (degrees) of this frame's north at (`l`, `b`) of the frame
    /// (radians): towards a point a little north of it in the frame (south of it, turned round,
    /// at the frame's pole).
    pub(super) fn north(self, l: f64, b: f64) -> f64 {
        if let SkyFrame::Icrs = self {
            return 0.0;
        }
        let (ra, dec) = radec(self.to_icrs(vector(l, b)));
        let step = if b < 0.0 { 1e-5 } else { -1e-5 };
        let (ra2, dec2) = radec(self.to_icrs(vector(l, b + step)));
        let d = ra2 - ra;
        let pa = (d.sin() * dec2.cos()).atan2(dec.cos() * dec2.sin() - dec.sin() * dec2.cos() * d.cos());
        pa.to_degrees() + if step < 0.0 { 180.0 } else { 0.0 }
    }

    /// A unit vector of this frame in ICRS.
    pub(super) fn to_icrs(self, v: [f64; 3]) -> [f64; 3] {
        let rotate = |m: [[f64; 3]; 3], v: [f64; 3]| m.map(|row| dot(row, v));
        match self {
            SkyFrame::Icrs => v,
            SkyFrame::Rotated { to_icrs } => rotate(to_icrs, v),
            SkyFrame::Fk4 => {
                // As astropy removes them: v - A + (A . v) v, renormalised.
                let a = FK4_E_TERMS;
                let along = dot(a, v);
                let w = [0, 1, 2].map(|i| v[i] - a[i] + along * v[i]);
                let norm = dot(w, w).sqrt();
                rotate(FK4_NO_E_TO_ICRS, w.map(|x| x / norm))
            }
        }
    }
}

/// The frame of a DS9 file's positions: a sky frame, or an image's pixels (`physical`: IRAF's
/// physical pixels, `LTM`/`LTV` away from the image's).
#[derive(Clone, Copy)]
pub(super) enum Frame<'w> {
    Sky(SkyFrame),
    Pixels { wcs: &'w ImageWcs, physical: bool },
}

/// A shape's centre in ICRS, and how its frame's sizes and angles read there.
pub(super) struct Place {
    pub(super) ra: f64,
    pub(super) dec: f64,
    local: Local,
}

enum Local {
    /// A sky frame whose north lies at position angle `turn` (degrees) in ICRS.
    Sky { turn: f64 },
    /// Pixels: the Jacobian from a step of one pixel along x, y (its columns) to the tangent
    /// plane's (east, north) there (its rows) in the WCS's frame, in degrees; that frame's north
    /// at position angle `turn` in ICRS; `unit`, the suffix DS9 gives the frame's pixels (`i`
    /// image, `p` physical).
    Pixels { jacobian: [[f64; 2]; 2], turn: f64, unit: char },
}

impl Frame<'_> {
    /// The place of a position written in this frame. In galactic and ecliptic frames a
    /// sexagesimal longitude is in degrees, as DS9 writes it; pixels are plain numbers.
    pub(super) fn place(self, lon: &str, lat: &str) -> Result<Place, String> {
        match self {
            Frame::Sky(frame) => {
                let unit = if matches!(frame, SkyFrame::Rotated { .. }) { 'd' } else { 'h' };
                let (l, b) = position(lon, lat, unit)?;
                if let SkyFrame::Icrs = frame {
                    return Ok(Place { ra: l, dec: b, local: Local::Sky { turn: 0.0 } });
                }
                let (l, b) = (l.to_radians(), b.to_radians());
                let (ra, dec) = radec(frame.to_icrs(vector(l, b)));
                let turn = frame.north(l, b);
                Ok(Place { ra: ra.to_degrees().rem_euclid(360.0), dec: dec.to_degrees(), local: Local::Sky { turn } })
            }
            Frame::Pixels { wcs, physical } => {
                let number =
                    |text: &str| {
                        text.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| {
                            format!("'{text}' is not a pixel position (the frame is {})", self.pixel_name())
                        })
                    };
                let (x, y) = (number(lon)?, number(lat)?);
                let at = |x: f64, y: f64| {
                    let (x, y) = if physical { wcs.image_from_physical(x, y) } else { (x, y) };
                    wcs.native(x, y)
                };
                let outside = || format!("pixel ({x}, {y}) lies outside the projection of {}", wcs.path().display());
                let centre = at(x, y).ok_or_else(outside)?;
                // The tangent plane at the centre in the WCS's own frame, its axes east and north
                // (astropy `regions` measures a circle's scale along that frame's north); a
                // pixel's step is measured by central differences a hundredth of a pixel either side.
                let (l, b) = radec(centre);
                let east = [-l.sin(), l.cos(), 0.0];
                let north = [-b.sin() * l.cos(), -b.sin() * l.sin(), b.cos()];
                let plane = |v: [f64; 3]| {
                    let w = dot(v, centre);
                    [dot(v, east) / w, dot(v, north) / w]
                };
                const H: f64 = 0.01;
                let mut jacobian = [[0.0; 2]; 2];
                for (axis, (dx, dy)) in [(H, 0.0), (0.0, H)].into_iter().enumerate() {
                    let ahead = plane(at(x + dx, y + dy).ok_or_else(outside)?);
                    let behind = plane(at(x - dx, y - dy).ok_or_else(outside)?);
                    for row in 0..2 {
                        jacobian[row][axis] = ((ahead[row] - behind[row]) / (2.0 * H)).to_degrees();
                    }
                }
                let det = jacobian[0][0] * jacobian[1][1] - jacobian[0][1] * jacobian[1][0];
                if !det.is_finite() || det == 0.0 {
                    return Err(format!("the WCS of {} is degenerate at pixel ({x}, {y})", wcs.path().display()));
                }
                let (ra, dec) = radec(wcs.frame().to_icrs(centre));
                Ok(Place {
                    ra: ra.to_degrees().rem_euclid(360.0),
                    dec: dec.to_degrees(),
                    local: Local::Pixels {
                        jacobian,
                        turn: wcs.frame().north(l, b),
                        unit: if physical { 'p' } else { 'i' },
                    },
                })
            }
        }
    }

    fn pixel_name(self) -> &'static str {
        match self {
            Frame::Pixels { physical: true, .. } => "physical",
            _ => "image",
        }
    }
}

impl Place {
    /// A radius (or any size not along an axis) written `text` in the frame: on the sky, as
    /// [`size`] reads it; in pixels, scaled by the pixel's size along the north of the WCS's
    /// own frame, as astropy `regions` scales a circle.
    pub(super) fn radius(&self, text: &str) -> Result<Angle, String> {
        match &self.local {
            Local::Sky { .. } => size(text),
            Local::Pixels { jacobian: j, unit, .. } => {
                let det = (j[0][0] * j[1][1] - j[0][1] * j[1][0]).abs();
                Ok(Angle::from_degrees(pixels(text, *unit)? * det / j[0][0].hypot(j[0][1])))
            }
        }
    }

    /// The two sizes (semi-axes or sides) of an ellipse or box whose first axis lies at DS9
    /// angle `theta` (degrees) in the frame: their sizes on the sky and the position angle of
    /// the first axis. Pixels map as astropy `regions` maps them: the axes of the image of the
    /// shape's two axes under the local Jacobian (its singular vectors), exact where the pixels
    /// are square.
    pub(super) fn axes(&self, first: &str, second: &str, theta: f64) -> Result<(Angle, Angle, Angle), String> {
        match &self.local {
            Local::Sky { turn } => Ok((size(first)?, size(second)?, Angle::from_degrees(theta + 90.0 + turn))),
            Local::Pixels { jacobian: j, turn, unit } => {
                let (a, b) = (pixels(first, *unit)?, pixels(second, *unit)?);
                let (s, c) = theta.to_radians().sin_cos();
                // The images of the two semi-axes (columns), east and north (rows).
                let first_axis = [j[0][0] * a * c + j[0][1] * a * s, j[1][0] * a * c + j[1][1] * a * s];
                let second_axis = [-j[0][0] * b * s + j[0][1] * b * c, -j[1][0] * b * s + j[1][1] * b * c];
                let (major, minor, direction) = ellipse_of(first_axis, second_axis);
                // Which singular direction is the first axis: the one it leans on most.
                let along = |d: [f64; 2]| d[0] * first_axis[0] + d[1] * first_axis[1];
                let across = [-direction[1], direction[0]];
                let (sizes, mut dir) = if along(direction).abs() >= along(across).abs() {
                    ((major, minor), direction)
                } else {
                    ((minor, major), across)
                };
                if along(dir) < 0.0 {
                    dir = [-dir[0], -dir[1]];
                }
                if a == b {
                    // A circle or square: the SVD's axes are arbitrary; the first axis's image is not.
                    let norm = first_axis[0].hypot(first_axis[1]);
                    dir = [first_axis[0] / norm, first_axis[1] / norm];
                }
                let pa = dir[0].atan2(dir[1]).to_degrees() + turn;
                Ok((Angle::from_degrees(sizes.0), Angle::from_degrees(sizes.1), Angle::from_degrees(pa)))
            }
        }
    }

    /// DS9 angles from `start` to `stop` (counter-clockwise in the frame, so `stop` may be
    /// below `start`) as the sky's DS9 angles (0 west, 90 north). Pixels turn by the
    /// direction the Jacobian gives each; where the image is mirrored (east clockwise from
    /// north), the arc runs the other way, so its ends swap.
    pub(super) fn arc(&self, start: f64, stop: f64) -> (f64, f64) {
        match &self.local {
            Local::Sky { turn } => (start + turn, stop + turn),
            Local::Pixels { jacobian: j, turn, .. } => {
                let sky = |angle: f64| {
                    let (s, c) = angle.to_radians().sin_cos();
                    let (e, n) = (j[0][0] * c + j[0][1] * s, j[1][0] * c + j[1][1] * s);
                    e.atan2(n).to_degrees() + 90.0 + turn
                };
                let mirrored = j[0][0] * j[1][1] - j[0][1] * j[1][0] > 0.0;
                if mirrored { (sky(stop), sky(start)) } else { (sky(start), sky(stop)) }
            }
        }
    }
}

/// A size in the frame's pixels: a plain number, or one ending in the frame's `unit` (DS9's `i`
/// for image pixels, `p` for physical ones). Sizes on the sky or in the other kind of pixel are
/// refused rather than mixed into the shape's pixels.
fn pixels(text: &str, unit: char) -> Result<f64, String> {
    let frame = if unit == 'p' { "physical" } else { "image" };
    let number = text.strip_suffix(unit).unwrap_or(text);
    number.trim().parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0).ok_or_else(|| {
        format!("'{text}' is not a positive size in {frame} pixels (the frame is {frame}: give sizes as plain numbers)")
    })
}

/// The ellipse swept by `u cos t + v sin t`: its semi-axes (largest first) and the unit
/// direction of the largest, from the 2 x 2 singular value decomposition of [u v] in closed form.
fn ellipse_of(u: [f64; 2], v: [f64; 2]) -> (f64, f64, [f64; 2]) {
    // M M^T, symmetric: [[p, q], [q, r]].
    let p = u[0] * u[0] + v[0] * v[0];
    let q = u[0] * u[1] + v[0] * v[1];
    let r = u[1] * u[1] + v[1] * v[1];
    let mean = 0.5 * (p + r);
    let spread = (0.5 * (p - r)).hypot(q);
    let (big, small) = (mean + spread, (mean - spread).max(0.0));
    let angle = 0.5 * (2.0 * q).atan2(p - r);
    (big.sqrt(), small.sqrt(), [angle.cos(), angle.sin()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sky::{chord2, unit_vector};

    /// A TAN image at (`ra`, `dec`) with pixels of one arcsecond, the reference pixel (0, 0),
    /// east left (or right, `mirrored`), north up.
    fn tan(ra: f64, dec: f64, mirrored: bool) -> ImageWcs {
        let east = if mirrored { 1.0 } else { -1.0 };
        let text = format!(
            "CTYPE1='RA---TAN'\nCTYPE2='DEC--TAN'\nCRVAL1={ra}\nCRVAL2={dec}\nCRPIX1=0\nCRPIX2=0\nCDELT1={}\nCDELT2={}",
            east / 3600.0,
            1.0 / 3600.0
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        ImageWcs::read(file.path()).unwrap()
    }

    /// Whether two angles in degrees are the same direction (to 1e-6 deg).
    fn same_angle(a: f64, b: f64) -> bool {
        ((a - b + 180.0).rem_euclid(360.0) - 180.0).abs() < 1e-6
    }

    #[test]
    fn an_ellipse_of_two_axes_is_their_singular_value_decomposition() {
        // Orthogonal axes: the ellipse is theirs.
        let (major, minor, d) = ellipse_of([3.0, 0.0], [0.0, 1.0]);
        assert!((major - 3.0).abs() < 1e-12 && (minor - 1.0).abs() < 1e-12 && (d[0].abs() - 1.0).abs() < 1e-12);
        // Sheared: (cos t, sin t) x [[2, 1], [0, 1]] has singular values sqrt(3 +- sqrt 5).
        let (major, minor, d) = ellipse_of([2.0, 0.0], [1.0, 1.0]);
        assert!(
            (major - (3.0 + 5f64.sqrt()).sqrt()).abs() < 1e-12 && (minor - (3.0 - 5f64.sqrt()).sqrt()).abs() < 1e-12
        );
        // The major direction: the farthest point of the curve lies along it.
        let far = (0..3600)
            .map(|k| {
                let t = f64::from(k).to_radians() / 10.0;
                [2.0 * t.cos() + t.sin(), t.sin()]
            })
            .max_by(|a, b| a[0].hypot(a[1]).total_cmp(&b[0].hypot(b[1])))
            .unwrap();
        let along = (far[0] * d[0] + far[1] * d[1]).abs() / far[0].hypot(far[1]);
        assert!(along > 0.9999, "{along}");
    }

    #[test]
    fn pixels_give_sizes_and_angles_on_the_sky() {
        for mirrored in [false, true] {
            let wcs = tan(150.0, 30.0, mirrored);
            let frame = Frame::Pixels { wcs: &wcs, physical: false };
            let at = frame.place("0", "0").unwrap();
            assert!((at.ra - 150.0).abs() < 1e-9 && (at.dec - 30.0).abs() < 1e-9);
            assert!((at.radius("90").unwrap().arcsec() - 90.0).abs() < 1e-6, "one arcsecond a pixel");
            // Angle 0 (along x) is west when east is left, east when mirrored; 90 is north.
            let (first, second, pa) = at.axes("40", "10", 0.0).unwrap();
            assert!((first.arcsec() - 40.0).abs() < 1e-6 && (second.arcsec() - 10.0).abs() < 1e-6);
            let expected = if mirrored { 90.0 } else { 270.0 };
            assert!(same_angle(pa.degrees(), expected), "{mirrored}: {}", pa.degrees());
            let (_, _, pa) = at.axes("40", "10", 90.0).unwrap();
            assert!(same_angle(pa.degrees(), 0.0), "{mirrored}: {}", pa.degrees());
            // The arc from x to y: west to north (sky DS9 angles 0 to 90); mirrored, east to
            // north, which the sky's counter-clockwise arc runs from north (90) to east (180).
            let (start, stop) = at.arc(0.0, 90.0);
            let expected = if mirrored { (90.0, 180.0) } else { (0.0, 90.0) };
            assert!(same_angle(start, expected.0) && same_angle(stop, expected.1), "{start}, {stop}");
            // Sizes in another unit than the frame's pixels are refused.
            assert!(at.radius("3\"").unwrap_err().contains("image pixels"));
            assert!(at.radius("3p").is_err() && at.radius("3i").is_ok());
        }
    }

    #[test]
    fn a_place_in_pixels_is_where_the_wcs_puts_the_pixel() {
        let wcs = tan(10.0, -45.0, false);
        let at = Frame::Pixels { wcs: &wcs, physical: false }.place("3600", "0").unwrap();
        let expected = wcs.sky(3600.0, 0.0).unwrap();
        assert!(chord2(&unit_vector(at.ra, at.dec), &expected) < 1e-24);
        assert!(Frame::Pixels { wcs: &wcs, physical: false }.place("1:00:00", "0").is_err());
    }
}
