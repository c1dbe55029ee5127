//! Shapes with a hole or cut to a sector of directions: DS9's `panda` ([`Sector`]), `epanda`,
//! `bpanda` and the `ellipse`/`box` of several sizes ([`Ring`]).
//!
//! DS9 measures a sector's angles about the shape's centre as it measures a shape's angle: the
//! direction at DS9 angle alpha points at position angle alpha - 90deg (0 west, 90 north, as the
//! sky is shown north up, east left; astropy `regions` maps DS9 sky angles so). For `epanda` and
//! `bpanda` DS9 counts them from the shape's own first axis (its `Epanda::isIn` tests the angle
//! in the shape's rotated frame), so the caller adds the shape's angle. Directions are taken in
//! the gnomonic plane at the centre, where the great circles through the centre are its straight
//! lines: the tests are exact there, as the ellipse's and the box's own.

use std::f64::consts::TAU;

use super::{Ellipse, Shape, ShapeError, SkyBox, check_centre, dot, from_plane, tangent_basis};
use crate::angle::Angle;
use crate::sky::{SearchRadius, UnitVector, unit_vector};

/// The directions about a centre from DS9 angle `start` on through `span` degrees.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Wedge {
    east: UnitVector,
    north: UnitVector,
    /// DS9 angles in degrees: the first (in [0, 360)), and how far on (0 < span < 360).
    start: f64,
    span: f64,
}

impl Wedge {
    /// The directions about (`ra_deg`, `dec_deg`) from DS9 angle `start` counter-clockwise to
    /// `stop` (so `stop` may be below `start`).
    pub fn new(ra_deg: f64, dec_deg: f64, start: f64, stop: f64) -> Result<Wedge, ShapeError> {
        check_centre(ra_deg, dec_deg)?;
        if !(start.is_finite() && stop.is_finite()) {
            return Err(ShapeError("the sector's angles are not numbers".into()));
        }
        let span = (stop - start).rem_euclid(360.0);
        if span == 0.0 {
            return Err(ShapeError(format!("the sector from {start} to {stop} deg is empty or a whole ring")));
        }
        let (east, north) = tangent_basis(ra_deg, dec_deg);
        Ok(Wedge { east, north, start: start.rem_euclid(360.0), span })
    }

    /// Whether the direction from the centre to `p` lies within.
    #[inline]
    pub fn contains(&self, p: &UnitVector) -> bool {
        let pa = dot(p, &self.east).atan2(dot(p, &self.north)).to_degrees();
        (pa + 90.0 - self.start).rem_euclid(360.0) < self.span
    }

    /// The unit tangent vector at the centre at DS9 angle `alpha` degrees.
    fn direction(&self, alpha: f64) -> UnitVector {
        let (sin, cos) = (alpha - 90.0).to_radians().sin_cos();
        [0, 1, 2].map(|k| self.east[k] * sin + self.north[k] * cos)
    }

    /// The wedge as polar angles in the plane of axes `u`, `v` (radians): the first, and how
    /// far on. DS9 angles grow with position angle, as polar angles from `u` towards `v` do
    /// (`v` lies 90deg east of `u`).
    fn in_plane(&self, u: &UnitVector, v: &UnitVector) -> (f64, f64) {
        let polar = |alpha: f64| {
            let d = self.direction(alpha);
            dot(&d, v).atan2(dot(&d, u))
        };
        let first = polar(self.start);
        (first, (polar(self.start + self.span) - first).rem_euclid(TAU))
    }
}

/// A sector of a ring (DS9's `panda`): between two radii of the centre and within a wedge.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sector {
    centre: UnitVector,
    inner: Option<SearchRadius>,
    outer: SearchRadius,
    wedge: Wedge,
}

impl Sector {
    /// The sector at (`ra_deg`, `dec_deg`) between `inner` (none: from the centre) and `outer`,
    /// from DS9 angle `start` to `stop` (counter-clockwise, so `stop` may be below `start`).
    pub fn new(
        ra_deg: f64,
        dec_deg: f64,
        inner: Option<SearchRadius>,
        outer: SearchRadius,
        start: f64,
        stop: f64,
    ) -> Result<Sector, ShapeError> {
        let wedge = Wedge::new(ra_deg, dec_deg, start, stop)?;
        if inner.is_some_and(|i| i.angle() >= outer.angle()) || outer.angle() >= Angle::from_degrees(90.0) {
            return Err(ShapeError(
                "a sector's inner radius must be below its outer, which must be below 90deg".into(),
            ));
        }
        Ok(Sector { centre: unit_vector(ra_deg, dec_deg), inner, outer, wedge })
    }

    /// The exact test: strictly within the outer radius, not within the inner one, and in the
    /// wedge.
    pub fn contains(&self, p: &UnitVector) -> bool {
        let chord2 = crate::sky::chord2(p, &self.centre);
        if !self.outer.contains(chord2) || self.inner.is_some_and(|inner| inner.contains(chord2)) {
            return false;
        }
        self.wedge.contains(p)
    }

    /// The centre.
    pub fn centre(&self) -> UnitVector {
        self.centre
    }

    /// The outer radius: the cap that holds the sector.
    pub fn bounding_cap(&self) -> SearchRadius {
        self.outer
    }

    /// Half the ring's width, in radians.
    pub fn least_radius(&self) -> f64 {
        let inner = self.inner.map_or(0.0, |i| i.angle().radians());
        (self.outer.angle().radians() - inner) / 2.0
    }

    /// A polygon of great-circle edges inside the sector (`outside` false) or around it: in the
    /// tangent plane its rays are straight and its arcs circles, approximated by `per_arc`
    /// chords (inside a circle) or tangents (outside it).
    pub fn outline(&self, per_arc: usize, outside: bool) -> Vec<UnitVector> {
        let step = self.wedge.span.to_radians() / per_arc as f64;
        let widen = 1.0 / (step / 2.0).cos();
        let tan = |r: &SearchRadius| r.angle().radians().tan();
        // The outer arc is approximated from inside by chords, from outside by tangents; the
        // inner arc the other way round (the sector lies outside it).
        let (outer, inner) = match outside {
            false => (tan(&self.outer), self.inner.map_or(0.0, |i| tan(&i) * widen)),
            true => (tan(&self.outer) * widen, self.inner.map_or(0.0, |i| tan(&i))),
        };
        let (east, north) = (self.wedge.east, self.wedge.north);
        let point = |radius: f64, i: usize| {
            let pa = (self.wedge.start - 90.0).to_radians() + i as f64 * step;
            from_plane(&self.centre, &east, &north, radius * pa.sin(), radius * pa.cos())
        };
        let mut vertices: Vec<UnitVector> = (0..=per_arc).map(|i| point(outer, i)).collect();
        if inner == 0.0 {
            vertices.push(self.centre);
        } else {
            vertices.extend((0..=per_arc).rev().map(|i| point(inner, i)));
        }
        vertices
    }
}

/// Which shape a [`Ring`]'s rims have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RimKind {
    /// Ellipses, sized by their semi-axes (DS9's `ellipse`, `epanda`).
    Ellipse,
    /// Boxes, sized by their full width and height (DS9's `box`, `bpanda`).
    Box,
}

/// One rim of a ring.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
enum Rim {
    Ellipse(Ellipse),
    Box(SkyBox),
}

impl Rim {
    fn new(kind: RimKind, ra_deg: f64, dec_deg: f64, (a, b): (Angle, Angle), pa: Angle) -> Result<Rim, ShapeError> {
        Ok(match kind {
            RimKind::Ellipse => Rim::Ellipse(Ellipse::new(ra_deg, dec_deg, a, b, pa)?),
            RimKind::Box => Rim::Box(SkyBox::new(ra_deg, dec_deg, a, b, pa)?),
        })
    }

    #[inline]
    fn contains(&self, p: &UnitVector) -> bool {
        match self {
            Rim::Ellipse(e) => e.contains(p),
            Rim::Box(b) => b.contains(p),
        }
    }

    /// The rim as a shape of its own.
    fn shape(&self) -> Shape {
        match self {
            Rim::Ellipse(e) => Shape::Ellipse(*e),
            Rim::Box(b) => Shape::Box(*b),
        }
    }

    /// The gnomonic frame: centre, the axes u and v, and the half-sizes along them (as tangents).
    fn frame(&self) -> (UnitVector, UnitVector, UnitVector, f64, f64) {
        match self {
            Rim::Ellipse(e) => (e.centre, e.major, e.minor, e.k_major.sqrt().recip(), e.k_minor.sqrt().recip()),
            Rim::Box(b) => (b.centre, b.along, b.across, b.half_along, b.half_across),
        }
    }
}

/// A ring between two rims of one centre, axes and kind (the inner smaller on both axes), or a
/// filled rim, either cut to a wedge of directions about its centre or not: DS9's `ellipse(x, y, a1, b1, ..., an, bn,
/// angle)` and `box(...)` of several sizes (the union of their rings: from the first rim to the
/// last), `epanda` and `bpanda`.
///
/// ```
/// use angcut_sky::shape::{Ring, RimKind};
/// use angcut_sky::{Angle, unit_vector};
/// let arcmin = |m: f64| Angle::from_arcsec(60.0 * m);
/// // An elliptical ring, 2x1 to 4x2 arcmin (semi-axes), its major axis east-west, the north half.
/// let ring = Ring::new(RimKind::Ellipse, 10.0, 0.0, Some((arcmin(2.0), arcmin(1.0))), (arcmin(4.0), arcmin(2.0)),
///     Angle::from_degrees(90.0), Some((0.0, 180.0))).unwrap();
/// assert!(ring.contains(&unit_vector(10.0, 1.5 / 60.0))); // 1.5 arcmin north
/// assert!(!ring.contains(&unit_vector(10.0, -1.5 / 60.0))); // south: outside the wedge
/// assert!(!ring.contains(&unit_vector(10.0 + 1.0 / 60.0, 0.1 / 60.0))); // in the hole
/// ```
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Ring {
    outer: Rim,
    inner: Option<Rim>,
    wedge: Option<Wedge>,
}

impl Ring {
    /// The ring of `kind` at (`ra_deg`, `dec_deg`) from `inner` (none: filled) to `outer` sizes
    /// (semi-axes of an ellipse, width and height of a box), its first axis along position angle
    /// `pa`, within DS9 angles `sector` (start, stop) if given.
    pub fn new(
        kind: RimKind,
        ra_deg: f64,
        dec_deg: f64,
        inner: Option<(Angle, Angle)>,
        outer: (Angle, Angle),
        pa: Angle,
        sector: Option<(f64, f64)>,
    ) -> Result<Ring, ShapeError> {
        if inner.is_some_and(|(a, b)| !(a < outer.0 && b < outer.1)) {
            return Err(ShapeError("the inner sizes of a ring must be below the outer on both axes".into()));
        }
        let wedge = sector.map(|(start, stop)| Wedge::new(ra_deg, dec_deg, start, stop)).transpose()?;
        Ok(Ring {
            outer: Rim::new(kind, ra_deg, dec_deg, outer, pa)?,
            inner: inner.map(|sizes| Rim::new(kind, ra_deg, dec_deg, sizes, pa)).transpose()?,
            wedge,
        })
    }

    /// The exact test: inside the outer rim, not inside the inner one, and in the wedge.
    #[inline]
    pub fn contains(&self, p: &UnitVector) -> bool {
        self.outer.contains(p)
            && !self.inner.is_some_and(|inner| inner.contains(p))
            && self.wedge.is_none_or(|wedge| wedge.contains(p))
    }

    /// The centre.
    pub fn centre(&self) -> UnitVector {
        self.outer.frame().0
    }

    /// The outer rim's cap: it holds the ring.
    pub fn bounding_cap(&self) -> SearchRadius {
        match self.outer {
            Rim::Ellipse(e) => e.cap,
            Rim::Box(b) => b.cap,
        }
    }

    /// The scale of its detail in radians: the outer rim's smaller half-size, or half the ring's
    /// narrower width.
    pub fn least_radius(&self) -> f64 {
        let (.., a, b) = self.outer.frame();
        match self.inner {
            None => a.min(b).atan(),
            Some(inner) => {
                let (.., ia, ib) = inner.frame();
                (a.atan() - ia.atan()).min(b.atan() - ib.atan()) / 2.0
            }
        }
    }

    /// The filled shapes it is made of: the outer rim and the inner one (the hole), each within
    /// the wedge, so that the ring is the first less the second.
    pub fn parts(&self) -> (Shape, Option<Shape>) {
        let filled = |rim: Rim| match self.wedge {
            None => rim.shape(),
            Some(wedge) => Shape::Ring(Box::new(Ring { outer: rim, inner: None, wedge: Some(wedge) })),
        };
        (filled(self.outer), self.inner.map(filled))
    }

    /// A polygon of great-circle edges inside (`outside` false) or around the filled outer rim
    /// within the wedge (the hole not drawn: see [`Ring::parts`]): an ellipse's arc by `per_arc`
    /// chords or tangents, a box exactly.
    pub fn outline(&self, per_arc: usize, outside: bool) -> Vec<UnitVector> {
        let (centre, u, v, a, b) = self.outer.frame();
        let point = |x: f64, y: f64| from_plane(&centre, &u, &v, x, y);
        let Some(wedge) = self.wedge else {
            return match self.outer {
                Rim::Ellipse(e) => e.outline(per_arc, outside),
                Rim::Box(b) => b.corners().to_vec(),
            };
        };
        let (first, span) = wedge.in_plane(&u, &v);
        let mut vertices = vec![centre];
        match self.outer {
            Rim::Ellipse(_) => {
                // The ellipse is the unit circle scaled by a and b along u and v, which maps rays
                // from the centre to rays: the circle's sector outline, scaled.
                let parametric = |polar: f64| (polar.sin() / b).atan2(polar.cos() / a);
                let t0 = parametric(first);
                let t_span = (parametric(first + span) - t0).rem_euclid(TAU);
                let step = t_span / per_arc as f64;
                let widen = if outside { 1.0 / (step / 2.0).cos() } else { 1.0 };
                vertices.extend((0..=per_arc).map(|i| {
                    let (sin, cos) = (t0 + i as f64 * step).sin_cos();
                    point(widen * a * cos, widen * b * sin)
                }));
            }
            Rim::Box(_) => {
                // Exact: where the wedge's rays leave the box, and the corners between them.
                let exit = |polar: f64| {
                    let (sin, cos) = polar.sin_cos();
                    let r = (a / cos.abs()).min(b / sin.abs());
                    point(r * cos, r * sin)
                };
                let mut corners: Vec<(f64, UnitVector)> = [(1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)]
                    .into_iter()
                    .map(|(x, y): (f64, f64)| (((y * b).atan2(x * a) - first).rem_euclid(TAU), point(x * a, y * b)))
                    .filter(|(on, _)| *on > 0.0 && *on < span)
                    .collect();
                corners.sort_by(|x, y| x.0.total_cmp(&y.0));
                vertices.push(exit(first));
                vertices.extend(corners.into_iter().map(|(_, corner)| corner));
                vertices.push(exit(first + span));
            }
        }
        vertices
    }
}

#[cfg(test)]
mod tests {
    use super::super::Polygon;
    use super::*;
    use crate::rng::SplitMix64;

    fn deg(x: f64) -> Angle {
        Angle::from_degrees(x)
    }

    /// The plain reference for a ring: the tangent-plane coordinates by the textbook formulas,
    /// the rim tests on them, and the direction as a DS9 angle (atan2 of north over west).
    #[allow(clippy::too_many_arguments)]
    fn reference(
        ellipse: bool,
        (ra0, dec0): (f64, f64),
        inner: Option<(f64, f64)>,
        outer: (f64, f64),
        theta: f64,
        sector: Option<(f64, f64)>,
        (ra, dec): (f64, f64),
    ) -> Option<bool> {
        let (ra0, dec0, ra, dec) = (ra0.to_radians(), dec0.to_radians(), ra.to_radians(), dec.to_radians());
        let cos_c = dec0.sin() * dec.sin() + dec0.cos() * dec.cos() * (ra - ra0).cos();
        if cos_c <= 0.0 {
            return Some(false);
        }
        let xi = dec.cos() * (ra - ra0).sin() / cos_c; // east
        let eta = (dec0.cos() * dec.sin() - dec0.sin() * dec.cos() * (ra - ra0).cos()) / cos_c; // north
        // DS9's frame: x west, y north; the shape's first axis at DS9 angle theta.
        let (x, y) = (-xi, eta);
        let (s, c) = theta.to_radians().sin_cos();
        let (along, across) = (x * c + y * s, -x * s + y * c);
        let inside = |(a, b): (f64, f64)| match ellipse {
            true => (along / a.to_radians().tan()).powi(2) + (across / b.to_radians().tan()).powi(2) < 1.0,
            false => along.abs() < (a / 2.0).to_radians().tan() && across.abs() < (b / 2.0).to_radians().tan(),
        };
        let in_wedge = sector.is_none_or(|(start, stop)| {
            let alpha = across.atan2(along).to_degrees(); // from the first axis, as DS9 counts
            (alpha - start).rem_euclid(360.0) < (stop - start).rem_euclid(360.0)
        });
        Some(inside(outer) && !inner.is_some_and(inside) && in_wedge)
    }

    /// Random rings (elliptical and box, with and without a hole and a wedge, about the poles
    /// and across RA 0) agree with the reference at random points near them, but for points
    /// within rounding of an edge (the reference's own error).
    #[test]
    fn rings_agree_with_the_reference() {
        let mut rng = SplitMix64::new(7);
        let mut uniform = |lo: f64, hi: f64| lo + (hi - lo) * rng.next_f64();
        let (mut checked, mut inside) = (0, 0);
        for case in 0..400 {
            let ellipse = case % 2 == 0;
            let centre = match case % 5 {
                0 => (uniform(0.0, 360.0), uniform(89.0, 89.9)),
                1 => (uniform(359.0, 360.0), uniform(-30.0, 30.0)),
                _ => (uniform(0.0, 360.0), uniform(-80.0, 80.0)),
            };
            let outer = (uniform(0.2, 3.0), uniform(0.2, 3.0));
            let inner = (case % 3 != 0).then(|| (outer.0 * uniform(0.1, 0.9), outer.1 * uniform(0.1, 0.9)));
            let theta = uniform(-180.0, 360.0);
            let sector = (case % 4 != 0).then(|| (uniform(-90.0, 360.0), uniform(-90.0, 360.0)));
            let sector = sector.filter(|(a, b)| (b - a).rem_euclid(360.0) > 1.0);
            let kind = if ellipse { RimKind::Ellipse } else { RimKind::Box };
            let sizes = |(a, b): (f64, f64)| (deg(a), deg(b));
            // The ring's own frame: its first axis at position angle theta + 90, its wedge's
            // angles counted from it (the caller's work for epanda).
            let wedge = sector.map(|(s, e)| (s + theta, e + theta));
            let ring =
                Ring::new(kind, centre.0, centre.1, inner.map(sizes), sizes(outer), deg(theta + 90.0), wedge).unwrap();
            for _ in 0..200 {
                let reach = outer.0.max(outer.1) * 1.2;
                let p = (
                    centre.0 + uniform(-reach, reach) / centre.1.to_radians().cos().max(0.02),
                    centre.1 + uniform(-reach, reach),
                );
                let p = (p.0.rem_euclid(360.0), p.1.clamp(-90.0, 90.0));
                let expected = reference(ellipse, centre, inner, outer, theta, sector, p).unwrap();
                let got = ring.contains(&unit_vector(p.0, p.1));
                if got != expected {
                    // Allowed only within rounding of an edge: a hair away, both agree.
                    let nudged =
                        |d: f64| reference(ellipse, centre, inner, outer, theta, sector, (p.0 + d, p.1 + d)).unwrap();
                    assert!(nudged(1e-9) != nudged(-1e-9), "case {case}: {p:?} got {got}, {ring:?}");
                }
                checked += 1;
                inside += usize::from(expected);
            }
        }
        assert!(inside > 5_000 && checked - inside > 5_000, "{inside} of {checked} inside");
    }

    /// An outline made inside holds only points of the shape, one made around it every point:
    /// tested at random points, through the even-odd polygon.
    #[test]
    fn outlines_bound_the_filled_ring() {
        let mut rng = SplitMix64::new(11);
        for (kind, centre, start, stop) in [
            (RimKind::Ellipse, (10.0, 20.0), 10.0, 100.0),
            (RimKind::Ellipse, (359.9, -89.0), 300.0, 250.0),
            (RimKind::Box, (0.1, 45.0), 80.0, 20.0),
            (RimKind::Box, (200.0, 89.5), 0.0, 90.0),
        ] {
            let ring = Ring::new(kind, centre.0, centre.1, None, (deg(1.5), deg(0.5)), deg(30.0), Some((start, stop)))
                .unwrap();
            let polygon = |outside: bool| {
                let vertices: Vec<(f64, f64)> = ring
                    .outline(6, outside)
                    .iter()
                    .map(|v| (v[1].atan2(v[0]).to_degrees().rem_euclid(360.0), v[2].asin().to_degrees()))
                    .collect();
                Polygon::new(&vertices).unwrap()
            };
            let (inside, around) = (polygon(false), polygon(true));
            let mut hits = 0;
            for _ in 0..20_000 {
                let p = unit_vector(
                    centre.0 + (rng.next_f64() - 0.5) * 4.0 / centre.1.to_radians().cos(),
                    (centre.1 + (rng.next_f64() - 0.5) * 4.0).clamp(-90.0, 90.0),
                );
                let holds = ring.contains(&p);
                assert!(!inside.contains(&p) || holds, "{kind:?} at {centre:?}: inside polygon, not in the ring");
                assert!(
                    !holds || around.contains(&p),
                    "{kind:?} at {centre:?}: in the ring, not in the polygon around"
                );
                hits += usize::from(holds);
            }
            assert!(hits > 100, "{kind:?} at {centre:?}: {hits} points inside");
        }
    }

    #[test]
    fn sizes_must_nest() {
        let ring = |inner: (f64, f64)| {
            Ring::new(
                RimKind::Ellipse,
                0.0,
                0.0,
                Some((deg(inner.0), deg(inner.1))),
                (deg(2.0), deg(1.0)),
                deg(0.0),
                None,
            )
        };
        assert!(ring((1.0, 0.5)).is_ok());
        for bad in [(2.0, 0.5), (1.0, 1.0), (3.0, 0.1)] {
            let error = ring(bad).unwrap_err();
            assert!(error.0.contains("below the outer on both axes"), "{bad:?}: {error}");
        }
        let empty = Ring::new(RimKind::Box, 0.0, 0.0, None, (deg(2.0), deg(1.0)), deg(0.0), Some((30.0, 390.0)));
        assert!(empty.unwrap_err().0.contains("empty or a whole ring"));
    }
}
