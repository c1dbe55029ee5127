//! Shapes on the sky (circles, ellipses, boxes, polygons, and the rings and sectors of DS9's
//! `annulus`, `panda`, `epanda` and `bpanda`), each with its exact test and the
//! bounding cap that the kernels index: the index finds the shapes whose cap holds an object,
//! the shape's own test decides.
//!
//! An ellipse is defined in the gnomonic (tangent-plane) projection at its centre, as survey masks
//! (the Legacy Surveys' large galaxies, HSC's and DESI's) and astropy's `regions` draw them: with
//! xi towards east and eta towards north, and the position angle PA of the major axis measured from
//! north through east, u = xi sin PA + eta cos PA and v = xi cos PA - eta sin PA; a position is
//! inside iff (u / tan a)^2 + (v / tan b)^2 < 1 and it lies in the centre's hemisphere. With
//! a = b this is the circle of radius a. A box is |u| < tan(w/2), |v| < tan(h/2) in the same
//! frame. A polygon's edges are great-circle arcs: seen in the gnomonic projection at its
//! vertices' mean direction they are straight lines, so the plane's even-odd rule decides there.

use crate::angle::Angle;
use crate::sky::{SearchRadius, UnitVector, unit_vector};

mod ring;
pub use ring::{RimKind, Ring, Sector};

/// A shape that cannot be made: an axis that is not an angle in (0, 90deg), or a position or
/// angle that is not finite.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ShapeError(pub String);

/// The local east and north unit vectors at (ra, dec) in degrees: the tangent plane's axes. At
/// a pole they follow the RA given, as the catalogue's own position angles do.
pub fn tangent_basis(ra_deg: f64, dec_deg: f64) -> (UnitVector, UnitVector) {
    let (sin_ra, cos_ra) = ra_deg.to_radians().sin_cos();
    let (sin_dec, cos_dec) = dec_deg.to_radians().sin_cos();
    ([-sin_ra, cos_ra, 0.0], [-sin_dec * cos_ra, -sin_dec * sin_ra, cos_dec])
}

#[inline(always)]
fn dot(a: &UnitVector, b: &UnitVector) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// An ellipse on the sky (see the module's definition), ready to test positions.
///
/// ```
/// use angcut_sky::shape::Ellipse;
/// use angcut_sky::{Angle, unit_vector};
/// // 2 by 1 arcmin (semi-axes), major axis towards PA 90deg (east-west), at the equator.
/// let e = Ellipse::new(10.0, 0.0, Angle::from_arcsec(120.0), Angle::from_arcsec(60.0), Angle::from_degrees(90.0)).unwrap();
/// assert!(e.contains(&unit_vector(10.0 + 1.9 / 60.0, 0.0))); // 1.9 arcmin east
/// assert!(!e.contains(&unit_vector(10.0, 1.1 / 60.0))); // 1.1 arcmin north
/// assert!(e.bounding_cap().angle() >= Angle::from_arcsec(120.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ellipse {
    centre: UnitVector,
    /// The unit tangent vectors along the major (u) and minor (v) axes.
    major: UnitVector,
    minor: UnitVector,
    /// 1 / tan^2 of the semi-axes.
    k_major: f64,
    k_minor: f64,
    cap: SearchRadius,
}

impl Ellipse {
    /// The ellipse centred at (`ra_deg`, `dec_deg`) with semi-axes `semi_major` along position
    /// angle `pa` and `semi_minor` across it. Each semi-axis must lie in (0, 90deg); `semi_minor`
    /// may exceed `semi_major` (the shape is then longer across `pa`).
    pub fn new(
        ra_deg: f64,
        dec_deg: f64,
        semi_major: Angle,
        semi_minor: Angle,
        pa: Angle,
    ) -> Result<Ellipse, ShapeError> {
        check_centre(ra_deg, dec_deg)?;
        for (what, axis) in [("major", semi_major), ("minor", semi_minor)] {
            if !(axis.radians() > 0.0 && axis < Angle::from_degrees(90.0)) {
                return Err(ShapeError(format!("the semi-{what} axis {axis} is not an angle in (0, 90deg)")));
            }
        }
        let (major, minor) = axes(ra_deg, dec_deg, pa)?;
        let inverse_tan2 = |axis: Angle| 1.0 / axis.radians().tan().powi(2);
        // Every point inside lies within the larger semi-axis of the centre.
        Ok(Ellipse {
            centre: unit_vector(ra_deg, dec_deg),
            major,
            minor,
            k_major: inverse_tan2(semi_major),
            k_minor: inverse_tan2(semi_minor),
            cap: cap_around(semi_major.radians().max(semi_minor.radians()))?,
        })
    }

    /// The exact test: is `p` strictly inside? (u / tan a)^2 + (v / tan b)^2 < 1 with u, v the
    /// tangent-plane coordinates p.U / p.c and p.V / p.c, multiplied through by (p.c)^2 > 0.
    #[inline]
    pub fn contains(&self, p: &UnitVector) -> bool {
        let d = dot(p, &self.centre);
        if d <= 0.0 {
            return false;
        }
        let (u, v) = (dot(p, &self.major), dot(p, &self.minor));
        u * u * self.k_major + v * v * self.k_minor < d * d
    }

    /// A circle around the centre that holds the whole ellipse: what the kernels index.
    pub fn bounding_cap(&self) -> SearchRadius {
        self.cap
    }

    /// A polygon of `sides` great-circle edges inside the ellipse (its vertices on it) or, with
    /// `outside`, around it (its edges touching it): in the tangent plane the ellipse is convex
    /// and great circles are straight lines, so these hold or are held by it exactly.
    pub fn outline(&self, sides: usize, outside: bool) -> Vec<UnitVector> {
        let (tan_a, tan_b) = (self.k_major.sqrt().recip(), self.k_minor.sqrt().recip());
        let step = std::f64::consts::TAU / sides as f64;
        // A circumscribed polygon's vertices lie 1 / cos(step / 2) out, half a step round.
        let (scale, turn) = if outside { (1.0 / (step / 2.0).cos(), step / 2.0) } else { (1.0, 0.0) };
        (0..sides)
            .map(|i| {
                let (sin, cos) = (i as f64 * step + turn).sin_cos();
                from_plane(&self.centre, &self.major, &self.minor, scale * tan_a * cos, scale * tan_b * sin)
            })
            .collect()
    }

    /// The centre.
    pub fn centre(&self) -> UnitVector {
        self.centre
    }
}

/// A box on the sky (see the module's definition): half-sizes along and across a position angle.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SkyBox {
    centre: UnitVector,
    along: UnitVector,
    across: UnitVector,
    /// tan of the half-sizes.
    half_along: f64,
    half_across: f64,
    cap: SearchRadius,
}

impl SkyBox {
    /// The box centred at (`ra_deg`, `dec_deg`), `width` long along position angle `pa` and
    /// `height` across it; each half-size must lie in (0, 90deg) and the corners within 90deg.
    pub fn new(ra_deg: f64, dec_deg: f64, width: Angle, height: Angle, pa: Angle) -> Result<SkyBox, ShapeError> {
        check_centre(ra_deg, dec_deg)?;
        for (what, size) in [("width", width), ("height", height)] {
            if !(size.radians() > 0.0 && size < Angle::from_degrees(180.0)) {
                return Err(ShapeError(format!("the box {what} {size} is not an angle in (0, 180deg)")));
            }
        }
        let (along, across) = axes(ra_deg, dec_deg, pa)?;
        let (half_along, half_across) = ((width.radians() / 2.0).tan(), (height.radians() / 2.0).tan());
        let corner = half_along.hypot(half_across).atan();
        Ok(SkyBox {
            centre: unit_vector(ra_deg, dec_deg),
            along,
            across,
            half_along,
            half_across,
            cap: cap_around(corner)?,
        })
    }

    /// The corners: the box is the quadrilateral of great-circle edges between them (its sides
    /// are straight in the tangent plane).
    pub fn corners(&self) -> [UnitVector; 4] {
        let corner = |a: f64, b: f64| {
            from_plane(&self.centre, &self.along, &self.across, a * self.half_along, b * self.half_across)
        };
        [corner(1.0, 1.0), corner(-1.0, 1.0), corner(-1.0, -1.0), corner(1.0, -1.0)]
    }

    /// The exact test: |p.U| < tan(w/2) p.c and |p.V| < tan(h/2) p.c, with p.c > 0.
    #[inline]
    pub fn contains(&self, p: &UnitVector) -> bool {
        let d = dot(p, &self.centre);
        d > 0.0 && dot(p, &self.along).abs() < self.half_along * d && dot(p, &self.across).abs() < self.half_across * d
    }
}

/// A polygon on the sky whose edges are great-circle arcs, smaller than a hemisphere.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Polygon {
    /// The vertices' mean direction: the projection's centre.
    centre: UnitVector,
    east: UnitVector,
    north: UnitVector,
    /// The vertices in the gnomonic plane at `centre`.
    plane: Vec<(f64, f64)>,
    cap: SearchRadius,
}

impl Polygon {
    /// The polygon through `vertices` (RA, Dec in degrees), at least 3, all within 90deg of
    /// their mean direction (a polygon smaller than a hemisphere).
    pub fn new(vertices: &[(f64, f64)]) -> Result<Polygon, ShapeError> {
        if vertices.len() < 3 {
            return Err(ShapeError(format!("a polygon needs at least 3 vertices, not {}", vertices.len())));
        }
        let mut sum = [0.0; 3];
        let mut points = Vec::with_capacity(vertices.len());
        for &(ra, dec) in vertices {
            check_centre(ra, dec)?;
            let v = unit_vector(ra, dec);
            (0..3).for_each(|k| sum[k] += v[k]);
            points.push(v);
        }
        let norm = dot(&sum, &sum).sqrt();
        if norm.is_nan() || norm <= 1e-9 {
            return Err(ShapeError("the polygon's vertices have no mean direction (it spans the sphere)".into()));
        }
        let centre = sum.map(|x| x / norm);
        let (ra, dec) = (centre[1].atan2(centre[0]).to_degrees(), centre[2].clamp(-1.0, 1.0).asin().to_degrees());
        let (east, north) = tangent_basis(ra, dec);
        let mut farthest: f64 = 0.0;
        let mut plane = Vec::with_capacity(points.len());
        for v in &points {
            let d = dot(v, &centre);
            if d.is_nan() || d <= 1e-6 {
                return Err(ShapeError("the polygon is larger than a hemisphere".into()));
            }
            plane.push((dot(v, &east) / d, dot(v, &north) / d));
            farthest = farthest.max(chord_angle(v, &centre));
        }
        Ok(Polygon { centre, east, north, plane, cap: cap_around(farthest)? })
    }

    /// Twice its area over its perimeter in the tangent plane, as an angle: a triangle's
    /// inscribed radius, the scale of any polygon's narrowest parts.
    fn inradius(&self) -> f64 {
        let (mut twice_area, mut perimeter) = (0.0, 0.0);
        let mut previous = self.plane[self.plane.len() - 1];
        for &(x, y) in &self.plane {
            twice_area += previous.0 * y - x * previous.1;
            perimeter += (x - previous.0).hypot(y - previous.1);
            previous = (x, y);
        }
        (twice_area.abs() / perimeter).atan()
    }

    /// The vertices, in order.
    pub fn vertices(&self) -> Vec<UnitVector> {
        self.plane.iter().map(|&(x, y)| from_plane(&self.centre, &self.east, &self.north, x, y)).collect()
    }

    /// The exact test: `p` in the centre's hemisphere, and its gnomonic projection inside the
    /// projected polygon by the even-odd rule.
    pub fn contains(&self, p: &UnitVector) -> bool {
        let d = dot(p, &self.centre);
        if d <= 0.0 {
            return false;
        }
        let (x, y) = (dot(p, &self.east) / d, dot(p, &self.north) / d);
        let mut inside = false;
        let mut previous = self.plane[self.plane.len() - 1];
        for &(xi, yi) in &self.plane {
            let (xj, yj) = previous;
            if (yi > y) != (yj > y) && x < xi + (y - yi) * (xj - xi) / (yj - yi) {
                inside = !inside;
            }
            previous = (xi, yi);
        }
        inside
    }
}

/// The point whose gnomonic coordinates at `centre` are (`x`, `y`) along `u` and `v`.
fn from_plane(centre: &UnitVector, u: &UnitVector, v: &UnitVector, x: f64, y: f64) -> UnitVector {
    let p = [0, 1, 2].map(|k| centre[k] + x * u[k] + y * v[k]);
    let norm = dot(&p, &p).sqrt();
    p.map(|c| c / norm)
}

/// The angle between two unit vectors in radians, from their chord (exact at small angles).
fn chord_angle(a: &UnitVector, b: &UnitVector) -> f64 {
    2.0 * (crate::sky::chord2(a, b).sqrt() / 2.0).min(1.0).asin()
}

/// A bounding cap of `radians`, widened far beyond the exact tests' rounding.
fn cap_around(radians: f64) -> Result<SearchRadius, ShapeError> {
    if radians.is_nan() || radians >= std::f64::consts::FRAC_PI_2 {
        return Err(ShapeError(format!(
            "the shape reaches {} from its centre: more than 90deg",
            Angle::from_radians(radians)
        )));
    }
    SearchRadius::new(Angle::from_radians(radians * (1.0 + 1e-9) + 1e-15)).map_err(|e| ShapeError(e.to_string()))
}

fn check_centre(ra_deg: f64, dec_deg: f64) -> Result<(), ShapeError> {
    if ra_deg.is_finite() && dec_deg.is_finite() && (-90.0..=90.0).contains(&dec_deg) {
        Ok(())
    } else {
        Err(ShapeError(format!("({ra_deg}, {dec_deg}) is not a position")))
    }
}

/// The unit tangent vectors along position angle `pa` and across it (90deg further east).
fn axes(ra_deg: f64, dec_deg: f64, pa: Angle) -> Result<(UnitVector, UnitVector), ShapeError> {
    if !pa.radians().is_finite() {
        return Err(ShapeError("the position angle is not a number".into()));
    }
    let (east, north) = tangent_basis(ra_deg, dec_deg);
    let (sin_pa, cos_pa) = pa.radians().sin_cos();
    let along = |a: f64, b: f64| [east[0] * a + north[0] * b, east[1] * a + north[1] * b, east[2] * a + north[2] * b];
    Ok((along(sin_pa, cos_pa), along(cos_pa, -sin_pa)))
}

/// Any shape a mask layer holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Shape {
    /// A circle: strictly within the radius of the centre (the chord predicate of [`crate::sky`]).
    Circle(UnitVector, SearchRadius),
    /// An ellipse.
    Ellipse(Ellipse),
    /// A box.
    Box(SkyBox),
    /// A polygon.
    Polygon(Polygon),
    /// A ring: within the outer radius of the centre and not within the inner one (DS9's
    /// `annulus`; several radii are the ring from the first to the last).
    Annulus(UnitVector, SearchRadius, SearchRadius),
    /// A sector of a ring (DS9's `panda`).
    Sector(Sector),
    /// An elliptical or box ring, or one cut to a sector (DS9's `ellipse` and `box` of several
    /// sizes, `epanda`, `bpanda`); boxed, as it is the largest.
    Ring(Box<Ring>),
}

impl Shape {
    /// Is `p` strictly inside?
    #[inline]
    pub fn contains(&self, p: &UnitVector) -> bool {
        match self {
            Shape::Circle(centre, radius) => radius.contains(crate::sky::chord2(p, centre)),
            Shape::Ellipse(e) => e.contains(p),
            Shape::Box(b) => b.contains(p),
            Shape::Polygon(polygon) => polygon.contains(p),
            Shape::Annulus(centre, inner, outer) => {
                let chord2 = crate::sky::chord2(p, centre);
                outer.contains(chord2) && !inner.contains(chord2)
            }
            Shape::Sector(sector) => sector.contains(p),
            Shape::Ring(ring) => ring.contains(p),
        }
    }

    /// The cap around [`Shape::centre`] that holds the whole shape.
    pub fn bounding_cap(&self) -> SearchRadius {
        match self {
            Shape::Circle(_, radius) => *radius,
            Shape::Ellipse(e) => e.cap,
            Shape::Box(b) => b.cap,
            Shape::Polygon(polygon) => polygon.cap,
            Shape::Annulus(_, _, outer) => *outer,
            Shape::Sector(sector) => sector.bounding_cap(),
            Shape::Ring(ring) => ring.bounding_cap(),
        }
    }

    /// Its smallest half-size in radians (a circle's radius, an ellipse's smaller semi-axis, a
    /// box's smaller half-side, a polygon's bounding radius): the scale of its detail.
    pub fn least_radius(&self) -> f64 {
        match self {
            Shape::Circle(_, radius) => radius.angle().radians(),
            Shape::Ellipse(e) => e.k_major.max(e.k_minor).sqrt().recip().atan(),
            Shape::Box(b) => b.half_along.min(b.half_across).atan(),
            Shape::Polygon(polygon) => polygon.inradius(),
            Shape::Annulus(_, inner, outer) => (outer.angle().radians() - inner.angle().radians()) / 2.0,
            Shape::Sector(sector) => sector.least_radius(),
            Shape::Ring(ring) => ring.least_radius(),
        }
    }

    /// The centre of the bounding cap.
    pub fn centre(&self) -> UnitVector {
        match self {
            Shape::Circle(centre, _) => *centre,
            Shape::Ellipse(e) => e.centre,
            Shape::Box(b) => b.centre,
            Shape::Polygon(polygon) => polygon.centre,
            Shape::Annulus(centre, ..) => *centre,
            Shape::Sector(sector) => sector.centre(),
            Shape::Ring(ring) => ring.centre(),
        }
    }
}

/// A shape of a region file: objects inside an included shape are in the layer unless they are
/// inside an excluded one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Region {
    /// The shape.
    pub shape: Shape,
    /// Whether it cuts a hole (DS9's `-circle(...)`) rather than adding area.
    pub exclude: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sky::{chord2, separation_deg};
    use proptest::prelude::*;

    /// The plain reference: gnomonic coordinates by the textbook formulas in RA/Dec, then the
    /// ellipse inequality as the issue states it (division and all).
    fn reference(ra0: f64, dec0: f64, a: f64, b: f64, pa: f64, ra: f64, dec: f64) -> Option<f64> {
        let (ra0, dec0, ra, dec) = (ra0.to_radians(), dec0.to_radians(), ra.to_radians(), dec.to_radians());
        let cos_c = dec0.sin() * dec.sin() + dec0.cos() * dec.cos() * (ra - ra0).cos();
        if cos_c <= 0.0 {
            return None;
        }
        let xi = dec.cos() * (ra - ra0).sin() / cos_c;
        let eta = (dec0.cos() * dec.sin() - dec0.sin() * dec.cos() * (ra - ra0).cos()) / cos_c;
        let pa = pa.to_radians();
        let u = xi * pa.sin() + eta * pa.cos();
        let v = xi * pa.cos() - eta * pa.sin();
        Some((u / a.to_radians().tan()).powi(2) + (v / b.to_radians().tan()).powi(2))
    }

    fn ellipse(ra: f64, dec: f64, a_deg: f64, b_deg: f64, pa_deg: f64) -> Ellipse {
        Ellipse::new(ra, dec, Angle::from_degrees(a_deg), Angle::from_degrees(b_deg), Angle::from_degrees(pa_deg))
            .unwrap()
    }

    /// The polygons inside and around an ellipse hold and are held by it: points just inside
    /// the inner one's vertices are in the ellipse, the outer one's vertices are not, its edges'
    /// midpoints touch it; a box's corners and a polygon's vertices come back as they were made.
    #[test]
    fn outlines_bound_their_shapes() {
        let deg = Angle::from_degrees;
        let e = Ellipse::new(359.8, -89.3, deg(1.5), deg(0.4), deg(70.0)).unwrap();
        let towards = |p: &UnitVector, t: f64| {
            let q = [0, 1, 2].map(|k| e.centre[k] + t * (p[k] - e.centre[k]));
            let n = dot(&q, &q).sqrt();
            q.map(|c| c / n)
        };
        let inner = e.outline(64, false);
        assert!(inner.iter().all(|v| e.contains(&towards(v, 0.999_999)) && !e.contains(&towards(v, 1.000_001))));
        let outer = e.outline(64, true);
        assert!(outer.iter().all(|v| !e.contains(v)));
        for (a, b) in outer.iter().zip(outer.iter().cycle().skip(1)) {
            let mid = towards(&[0, 1, 2].map(|k| (a[k] + b[k]) / 2.0), 1.0);
            assert!(!e.contains(&towards(&mid, 1.000_001)) && e.contains(&towards(&mid, 0.999_999)));
        }
        let b = SkyBox::new(10.0, 20.0, deg(2.0), deg(1.0), deg(30.0)).unwrap();
        for corner in b.corners() {
            assert!(
                b.contains(&towards_of(&b.centre, &corner, 0.999_999))
                    && !b.contains(&towards_of(&b.centre, &corner, 1.000_001))
            );
        }
        let corners = [(350.0, -5.0), (10.0, -5.0), (10.0, 5.0), (350.0, 5.0)];
        let p = Polygon::new(&corners).unwrap();
        for (v, (ra, dec)) in p.vertices().iter().zip(corners) {
            assert!(chord2(v, &unit_vector(ra, dec)) < 1e-24, "{v:?} vs ({ra}, {dec})");
        }
    }

    /// The point a fraction `t` of the way from `from` to `to` in the tangent plane at `from`.
    fn towards_of(from: &UnitVector, to: &UnitVector, t: f64) -> UnitVector {
        let d = dot(to, from);
        let q = [0, 1, 2].map(|k| from[k] + t * (to[k] / d - from[k]));
        let n = dot(&q, &q).sqrt();
        q.map(|c| c / n)
    }

    #[test]
    fn the_major_axis_points_along_the_position_angle() {
        // PA 0: major axis north-south; PA 90: east-west; at dec 60 an RA offset shrinks by cos dec.
        let north = ellipse(100.0, 60.0, 1.0, 0.2, 0.0);
        assert!(north.contains(&unit_vector(100.0, 60.9)));
        assert!(!north.contains(&unit_vector(100.0 + 0.3 / 0.5, 60.0)));
        let east = ellipse(100.0, 60.0, 1.0, 0.2, 90.0);
        assert!(east.contains(&unit_vector(100.0 + 0.9 / 0.5, 60.0)));
        assert!(!east.contains(&unit_vector(100.0, 60.3)));
        // PA 45: the major axis runs north-east.
        let diagonal = ellipse(0.0, 0.0, 1.0, 0.1, 45.0);
        assert!(diagonal.contains(&unit_vector(0.6, 0.6)));
        assert!(!diagonal.contains(&unit_vector(-0.6, 0.6)));
        assert!(!diagonal.contains(&unit_vector(180.0, 0.0)), "the antipode is outside");
    }

    #[test]
    fn equal_axes_make_the_circle() {
        let circle = ellipse(359.9, -89.5, 0.7, 0.7, 33.0);
        let radius = SearchRadius::new(Angle::from_degrees(0.7)).unwrap();
        for i in 0..2_000 {
            let (ra, dec) = (f64::from(i) * 0.37 % 360.0, -88.6 - f64::from(i % 97) * 0.014);
            let p = unit_vector(ra, dec);
            let separation = separation_deg(ra, dec, 359.9, -89.5);
            if (separation - 0.7).abs() > 1e-9 {
                assert_eq!(circle.contains(&p), radius.contains(chord2(&p, &circle.centre())), "{ra} {dec}");
            }
        }
    }

    #[test]
    fn axes_outside_zero_to_ninety_degrees_are_refused() {
        let make = |a: f64, b: f64| {
            Ellipse::new(0.0, 0.0, Angle::from_degrees(a), Angle::from_degrees(b), Angle::from_degrees(0.0))
        };
        assert!(make(90.0, 1.0).unwrap_err().0.contains("semi-major axis 90deg"));
        assert!(make(1.0, 0.0).unwrap_err().0.contains("semi-minor"));
        assert!(make(f64::NAN, 1.0).is_err());
        assert!(
            Ellipse::new(0.0, 91.0, Angle::from_degrees(1.0), Angle::from_degrees(1.0), Angle::from_degrees(0.0))
                .is_err()
        );
    }

    #[test]
    fn a_box_is_long_along_its_position_angle() {
        // 2 x 0.5 deg, long side north-east (PA 45), across RA 0 at dec 0.
        let b = SkyBox::new(0.0, 0.0, Angle::from_degrees(2.0), Angle::from_degrees(0.5), Angle::from_degrees(45.0))
            .unwrap();
        assert!(b.contains(&unit_vector(0.6, 0.6)));
        assert!(b.contains(&unit_vector(359.4, -0.6)));
        assert!(!b.contains(&unit_vector(359.4, 0.6)), "north-west is across the short side");
        assert!(!b.contains(&unit_vector(0.8, 0.8)), "beyond the half-length 1deg");
        // The corner (1, 0.25) in the box frame is inside the cap, a point just past it is not.
        let corner = (1.0f64.to_radians().tan().hypot(0.25f64.to_radians().tan())).atan().to_degrees();
        assert!((b.cap.angle().degrees() - corner).abs() < 1e-7);
        assert!(
            SkyBox::new(0.0, 0.0, Angle::from_degrees(180.0), Angle::from_degrees(1.0), Angle::from_degrees(0.0))
                .is_err()
        );
    }

    #[test]
    fn polygons_have_great_circle_edges_at_the_pole_and_across_ra_zero() {
        // A square around the north pole: its edges are great circles, which run poleward of the
        // parallel dec 80 between vertices (at the edge midpoints they reach dec 82.89).
        let square = Polygon::new(&[(0.0, 80.0), (90.0, 80.0), (180.0, 80.0), (270.0, 80.0)]).unwrap();
        assert!(square.contains(&unit_vector(123.0, 89.0)));
        assert!(square.contains(&unit_vector(45.0, 83.0)));
        assert!(!square.contains(&unit_vector(45.0, 82.8)), "outside the great-circle edge, above dec 80");
        assert!(square.contains(&unit_vector(0.0, 80.1)));
        // A thin triangle across RA 0, and a concave (L-shaped) polygon.
        let triangle = Polygon::new(&[(359.0, -1.0), (1.0, -1.0), (0.0, 1.0)]).unwrap();
        assert!(triangle.contains(&unit_vector(0.0, 0.0)) && triangle.contains(&unit_vector(359.6, -0.5)));
        assert!(!triangle.contains(&unit_vector(359.1, 0.9)) && !triangle.contains(&unit_vector(180.0, 0.0)));
        let l = Polygon::new(&[(10.0, 0.0), (12.0, 0.0), (12.0, 1.0), (11.0, 1.0), (11.0, 2.0), (10.0, 2.0)]).unwrap();
        assert!(l.contains(&unit_vector(10.5, 1.5)) && l.contains(&unit_vector(11.5, 0.5)));
        assert!(!l.contains(&unit_vector(11.5, 1.5)), "the notch");
        assert!(Polygon::new(&[(0.0, 0.0), (1.0, 1.0)]).is_err());
        assert!(Polygon::new(&[(0.0, 0.0), (120.0, 0.0), (240.0, 0.0)]).unwrap_err().0.contains("mean direction"));
    }

    proptest! {
        /// A polygon's test agrees with a plain spherical reference (the point is inside a
        /// convex polygon iff it lies on the inner side of every edge's great circle), and every
        /// point inside lies in the bounding cap.
        #[test]
        fn convex_polygons_agree_with_the_great_circle_sides(
            ra0 in 0.0..360.0f64, dec0 in -90.0..90.0f64, size in 1e-3..20.0f64, sides in 3usize..9,
            turn in 0.0..360.0f64, dra in -1.5..1.5f64, ddec in -1.5..1.5f64,
        ) {
            // A regular polygon drawn around (ra0, dec0), vertices counter-clockwise seen from outside.
            let centre = unit_vector(ra0, dec0);
            let (east, north) = tangent_basis(ra0, dec0);
            let radius = size.to_radians();
            let vertices: Vec<(f64, f64)> = (0..sides)
                .map(|k| {
                    let angle = (turn + 360.0 * k as f64 / sides as f64).to_radians();
                    let (s, c) = angle.sin_cos();
                    let v: Vec<f64> = (0..3).map(|i| centre[i] * radius.cos() + (east[i] * s + north[i] * c) * radius.sin()).collect();
                    (v[1].atan2(v[0]).to_degrees().rem_euclid(360.0), v[2].clamp(-1.0, 1.0).asin().to_degrees())
                })
                .collect();
            let polygon = Polygon::new(&vertices).unwrap();
            let dec = (dec0 + ddec * size).clamp(-90.0, 90.0);
            let ra = (ra0 + dra * size / dec0.to_radians().cos().max(0.05)).rem_euclid(360.0);
            let p = unit_vector(ra, dec);
            let cross = |a: UnitVector, b: UnitVector| [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
            let points: Vec<UnitVector> = vertices.iter().map(|&(r, d)| unit_vector(r, d)).collect();
            let sides_of: Vec<f64> = (0..sides).map(|k| {
                let normal = cross(points[k], points[(k + 1) % sides]);
                dot(&normal, &p) / dot(&normal, &normal).sqrt()
            }).collect();
            // The vertices go clockwise in (east, north) when `turn` grows east of north: inside is
            // the negative side of every edge; skip points within 1e-12 rad of an edge.
            let sign = if dot(&cross(points[0], points[1]), &centre) > 0.0 { 1.0 } else { -1.0 };
            if sides_of.iter().all(|s| (s * sign).abs() > 1e-12) && dot(&p, &centre) > 0.0 {
                let expected = sides_of.iter().all(|s| s * sign > 0.0);
                prop_assert_eq!(polygon.contains(&p), expected);
            }
            if polygon.contains(&p) {
                prop_assert!(polygon.cap.contains(chord2(&p, &polygon.centre)));
            }
        }

        /// A box is the polygon through its four corners (its edges are great circles too).
        #[test]
        fn a_box_is_the_polygon_of_its_corners(
            ra0 in 0.0..360.0f64, dec0 in -89.0..89.0f64, w in 1e-3..10.0f64, h in 1e-3..10.0f64, pa in 0.0..360.0f64,
            dra in -1.0..1.0f64, ddec in -1.0..1.0f64,
        ) {
            let b = SkyBox::new(ra0, dec0, Angle::from_degrees(w), Angle::from_degrees(h), Angle::from_degrees(pa)).unwrap();
            let corners: Vec<(f64, f64)> = [(1.0, 1.0), (1.0, -1.0), (-1.0, -1.0), (-1.0, 1.0)].iter().map(|&(su, sv)| {
                let v: Vec<f64> = (0..3).map(|i| b.centre[i] + su * b.half_along * b.along[i] + sv * b.half_across * b.across[i]).collect();
                (v[1].atan2(v[0]).to_degrees().rem_euclid(360.0), (v[2] / (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()).asin().to_degrees())
            }).collect();
            let polygon = Polygon::new(&corners).unwrap();
            let reach = w.max(h);
            let p = unit_vector((ra0 + dra * reach / dec0.to_radians().cos().max(0.05)).rem_euclid(360.0), (dec0 + ddec * reach).clamp(-90.0, 90.0));
            let d = dot(&p, &b.centre);
            let margin = (dot(&p, &b.along).abs() - b.half_along * d).abs().min((dot(&p, &b.across).abs() - b.half_across * d).abs());
            if margin > 1e-12 {
                prop_assert_eq!(b.contains(&p), polygon.contains(&p));
            }
        }

        /// Away from the boundary (where rounding may go either way) the exact test agrees with
        /// the textbook formula, at the poles and across RA 0/360 too; and nothing inside lies
        /// outside the bounding cap.
        #[test]
        fn agrees_with_the_textbook_formula(
            ra0 in 0.0..360.0f64, dec0 in prop_oneof![-90.0..90.0f64, Just(90.0), Just(-90.0), 89.0..90.0f64],
            a in 1e-4..30.0f64, ratio in 0.05..1.0f64, pa in -360.0..360.0f64,
            dra in -1.5..1.5f64, ddec in -1.5..1.5f64,
        ) {
            let b = a * ratio;
            let e = ellipse(ra0, dec0, a, b, pa);
            // Points scattered at up to 1.5 semi-major axes, RA offsets widened towards the poles.
            let dec = (dec0 + ddec * a).clamp(-90.0, 90.0);
            let ra = (ra0 + dra * a / dec0.to_radians().cos().max(0.05)).rem_euclid(360.0);
            let p = unit_vector(ra, dec);
            if e.contains(&p) {
                prop_assert!(e.bounding_cap().contains(chord2(&p, &e.centre())));
            }
            if let Some(value) = reference(ra0, dec0, a, b, pa, ra, dec) && (value - 1.0).abs() > 1e-7 {
                prop_assert_eq!(e.contains(&p), value < 1.0, "reference {}", value);
            }
        }
    }
}
