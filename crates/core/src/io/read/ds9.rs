//! DS9 region files as mask layers: `circle`, `ellipse`, `box`, `polygon`, `annulus`, `panda`,
//! `epanda`, `bpanda` and the `ellipse`/`box` of several sizes (rings) in `fk5`/`icrs` (`J2000`
//! means fk5), `fk4` (`B1950`), `galactic` or `ecliptic`, or in an image's `image` or `physical`
//! pixels through its WCS (`frame`, `wcs`), included or excluded (`-circle(...)`).
//!
//! Written by hand: no maintained Rust crate reads DS9 regions, and the subset a mask needs (eight
//! shapes, four sky frames, sizes with units, sexagesimal positions) is small. Angles mean what
//! astropy's `regions` makes of the file: an ellipse or box at DS9 angle theta has its first
//! axis (the first radius, the width) at position angle theta + 90deg, so theta = 0 lies along
//! RA. Shapes without area (`point`, `line`, `text`, `vector`, `ruler`, `compass`, `projection`)
//! are skipped; any other shape or frame, or a pixel size in a sky frame, is refused, naming its
//! line.

mod frame;
mod wcs;

use std::path::Path;

use crate::angle::Angle;
use crate::error::Error;
use crate::shape::{Ellipse, Polygon, Region, RimKind, Ring, Sector, Shape, SkyBox};
use crate::sky::{SearchRadius, unit_vector};
use frame::{ECLIPTIC_TO_ICRS, Frame, GALACTIC_TO_ICRS, SkyFrame};
pub use wcs::ImageWcs;

/// Shapes that mark a position or draw an annotation, with no area to mask.
const NO_AREA: [&str; 7] = ["point", "line", "text", "vector", "ruler", "compass", "projection"];

/// Reads the regions of the DS9 file at `path`; regions in `image` or `physical` pixels are
/// placed on the sky through `wcs`, the image's WCS (a FITS file or a header as text).
pub fn read(path: &Path, wcs: Option<&Path>) -> Result<Vec<Region>, Error> {
    let wcs = wcs.map(ImageWcs::read).transpose()?;
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    parse(&text, wcs.as_ref()).map_err(|(line, problem)| Error::TextRow {
        path: path.to_path_buf(),
        line,
        message: problem,
    })
}

/// The regions of a DS9 file's text; an error is (line number, problem).
///
/// ```
/// use angcut::io::read::ds9::parse;
/// use angcut::unit_vector;
/// let regions = parse("# Region file format: DS9 version 4.1\nfk5\ncircle(10:00:00,+20:00:00,30\")\n-box(150,20,10',10',0)", None).unwrap();
/// assert_eq!(regions.len(), 2);
/// assert!(regions[0].shape.contains(&unit_vector(150.0, 20.005)) && !regions[0].exclude);
/// assert!(regions[1].exclude);
/// ```
pub fn parse(text: &str, wcs: Option<&ImageWcs>) -> Result<Vec<Region>, (u64, String)> {
    let mut regions = Vec::new();
    let mut frame: Option<Frame> = None;
    for (number, line) in text.lines().enumerate() {
        let number = number as u64 + 1;
        for command in commands(line).into_iter().map(str::trim).filter(|c| !c.is_empty()) {
            let lower = command.to_ascii_lowercase();
            if lower.starts_with("global") {
                continue;
            }
            match lower.as_str() {
                "fk5" | "icrs" | "j2000" => {
                    frame = Some(Frame::Sky(SkyFrame::Icrs));
                    continue;
                }
                "galactic" => {
                    frame = Some(Frame::Sky(SkyFrame::Rotated { to_icrs: GALACTIC_TO_ICRS }));
                    continue;
                }
                "ecliptic" => {
                    frame = Some(Frame::Sky(SkyFrame::Rotated { to_icrs: ECLIPTIC_TO_ICRS }));
                    continue;
                }
                "fk4" | "b1950" => {
                    frame = Some(Frame::Sky(SkyFrame::Fk4));
                    continue;
                }
                "image" | "physical" => {
                    let Some(wcs) = wcs else {
                        return Err((
                            number,
                            format!(
                                "the frame '{lower}' needs the image's WCS: name its FITS file (or header) with wcs = \"...\" in the layer"
                            ),
                        ));
                    };
                    frame = Some(Frame::Pixels { wcs, physical: lower == "physical" });
                    continue;
                }
                "linear" | "amplifier" | "detector" | "tile" | "wcs" => {
                    return Err((
                        number,
                        format!(
                            "the frame '{command}' is not read: give fk5, icrs, fk4, galactic, ecliptic, image or physical positions"
                        ),
                    ));
                }
                _ => {}
            }
            let (sign, rest) = match command.as_bytes()[0] {
                b'-' => (true, command[1..].trim_start()),
                b'+' => (false, command[1..].trim_start()),
                _ => (false, command),
            };
            let Some((name, args)) = rest.split_once('(') else {
                return Err((number, format!("'{command}' is not a region: expected shape(arguments)")));
            };
            let name = name.trim().to_ascii_lowercase();
            let Some(args) = args.trim_end().strip_suffix(')').or_else(|| args.split_once(')').map(|(a, _)| a)) else {
                return Err((number, format!("'{command}': the arguments are not closed by ')'")));
            };
            if NO_AREA.contains(&name.as_str()) {
                continue;
            }
            let Some(frame) = frame else {
                return Err((number, "a region before any frame: the file must say fk5 or icrs first".into()));
            };
            let args = arguments(args).map_err(|problem| (number, format!("'{command}': {problem}")))?;
            let shape = shape(&name, &args, frame)
                .map_err(|problem| (number, format!("{name}({}): {problem}", args.join(","))))?;
            regions.push(Region { shape, exclude: sign });
        }
    }
    Ok(regions)
}

/// The commands of a line: split at `;`, up to a `#` that starts a comment (or a shape's
/// properties), except inside a shape's parentheses, `{...}` and quoted text, which hold
/// property values such as `text={a;b}` or `font="helvetica;bold"`. Inside parentheses `"` and
/// `'` are units (`30"`), not quotes.
fn commands(line: &str) -> Vec<&str> {
    let (mut found, mut start) = (Vec::new(), 0);
    let (mut parens, mut braces, mut quote) = (0usize, 0usize, None::<char>);
    for (at, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') if parens == 0 && braces == 0 => quote = Some(c),
            (None, '(') if braces == 0 => parens += 1,
            (None, ')') if braces == 0 => parens = parens.saturating_sub(1),
            (None, '{') if parens == 0 => braces += 1,
            (None, '}') if parens == 0 => braces = braces.saturating_sub(1),
            (None, ';') if parens == 0 && braces == 0 => {
                found.push(&line[start..at]);
                start = at + 1;
            }
            (None, '#') if parens == 0 && braces == 0 => {
                found.push(&line[start..at]);
                return found;
            }
            _ => {}
        }
    }
    found.push(&line[start..]);
    found
}

/// A shape's arguments: separated by commas (or, without commas, by blanks); an empty one
/// (`circle(10,,20,1d)`) is an error rather than skipped.
fn arguments(text: &str) -> Result<Vec<&str>, String> {
    if !text.contains(',') {
        return Ok(text.split_whitespace().collect());
    }
    let mut found = Vec::new();
    for (k, piece) in text.split(',').enumerate() {
        let words: Vec<&str> = piece.split_whitespace().collect();
        if words.is_empty() {
            return Err(format!("argument {} is empty", k + 1));
        }
        found.extend(words);
    }
    Ok(found)
}

/// One shape from its name and arguments, its positions, sizes and angles in `frame`.
fn shape(name: &str, args: &[&str], frame: Frame) -> Result<Shape, String> {
    let count = |expected: &[usize]| {
        if expected.contains(&args.len()) {
            Ok(())
        } else {
            Err(format!("{} arguments; {name} takes {expected:?}", args.len()))
        }
    };
    let error = |e: crate::shape::ShapeError| e.0;
    let radius = |a: Angle| SearchRadius::new(a).map_err(|e| e.to_string());
    match name {
        "circle" => {
            count(&[3])?;
            let at = frame.place(args[0], args[1])?;
            Ok(Shape::Circle(unit_vector(at.ra, at.dec), radius(at.radius(args[2])?)?))
        }
        "ellipse" if args.len() == 5 => {
            let at = frame.place(args[0], args[1])?;
            let (first, second, pa) = at.axes(args[2], args[3], degrees(args[4])?)?;
            Ellipse::new(at.ra, at.dec, first, second, pa).map(Shape::Ellipse).map_err(error)
        }
        "box" if args.len() == 4 || args.len() == 5 => {
            let at = frame.place(args[0], args[1])?;
            let theta = args.get(4).map_or(Ok(0.0), |a| degrees(a))?;
            let (width, height, pa) = at.axes(args[2], args[3], theta)?;
            SkyBox::new(at.ra, at.dec, width, height, pa).map(Shape::Box).map_err(error)
        }
        "ellipse" | "box" => {
            // Several sizes, `ellipse(x, y, a1, b1, ..., an, bn, angle)`: rings from each size to
            // the next, whose union is the ring from the first to the last (as astropy regions
            // reads them, each an annulus; so each size must grow on both axes).
            if args.len() < 7 || args.len().is_multiple_of(2) {
                return Err(format!(
                    "{} arguments; {name} takes x, y, its sizes and an angle: 5 (one size), or 7, 9, ... (a ring)",
                    args.len()
                ));
            }
            let at = frame.place(args[0], args[1])?;
            let theta = degrees(args[args.len() - 1])?;
            let sizes = args[2..args.len() - 1]
                .chunks(2)
                .map(|pair| at.axes(pair[0], pair[1], theta))
                .collect::<Result<Vec<(Angle, Angle, Angle)>, String>>()?;
            if sizes.windows(2).any(|pair| !(pair[0].0 < pair[1].0 && pair[0].1 < pair[1].1)) {
                return Err(format!("each size of a ring ({name} of several sizes) must grow on both axes"));
            }
            let kind = if name == "ellipse" { RimKind::Ellipse } else { RimKind::Box };
            let ((a, b, _), (c, d, pa)) = (sizes[0], sizes[sizes.len() - 1]);
            Ring::new(kind, at.ra, at.dec, Some((a, b)), (c, d), pa, None)
                .map(|ring| Shape::Ring(Box::new(ring)))
                .map_err(error)
        }
        "annulus" => {
            // `annulus(x, y, r1, r2, ..., rn)` or `annulus(x, y, inner, outer, n=N)`: rings from
            // one radius to the next, whose union is the ring from the first to the last.
            let radii = match args.last() {
                Some(last) if last.to_ascii_lowercase().starts_with("n=") => &args[2..args.len() - 1],
                _ => args.get(2..).unwrap_or_default(),
            };
            if radii.len() < 2 {
                return Err(format!("{} radii; an annulus takes 2 or more, growing", radii.len()));
            }
            let at = frame.place(args[0], args[1])?;
            let sizes = radii.iter().map(|r| at.radius(r)).collect::<Result<Vec<Angle>, String>>()?;
            if sizes.windows(2).any(|pair| pair[1] <= pair[0]) {
                return Err("the radii of an annulus must grow".into());
            }
            Ok(Shape::Annulus(unit_vector(at.ra, at.dec), radius(sizes[0])?, radius(sizes[sizes.len() - 1])?))
        }
        "polygon" => {
            if args.len() < 6 || !args.len().is_multiple_of(2) {
                return Err(format!("{} arguments; a polygon takes 3 or more RA, Dec pairs", args.len()));
            }
            let vertices = args
                .chunks(2)
                .map(|pair| frame.place(pair[0], pair[1]).map(|at| (at.ra, at.dec)))
                .collect::<Result<Vec<_>, _>>()?;
            Polygon::new(&vertices).map(Shape::Polygon).map_err(error)
        }
        "panda" => {
            // `panda(x, y, start, stop, nangle, inner, outer, nradius)`: nangle x nradius sectors
            // whose union is the sector from start to stop between inner and outer.
            count(&[8])?;
            let at = frame.place(args[0], args[1])?;
            let inner = if is_zero(args[5]) { None } else { Some(radius(at.radius(args[5])?)?) };
            let outer = radius(at.radius(args[6])?)?;
            let centre = unit_vector(at.ra, at.dec);
            let Some((start, stop)) = part_of_a_turn(degrees(args[2])?, degrees(args[3])?) else {
                return Ok(match inner {
                    Some(inner) => Shape::Annulus(centre, inner, outer),
                    None => Shape::Circle(centre, outer),
                });
            };
            let (start, stop) = at.arc(start, stop);
            Sector::new(at.ra, at.dec, inner, outer, start, stop).map(Shape::Sector).map_err(error)
        }
        "epanda" | "bpanda" => {
            // `epanda(x, y, start, stop, nangle, inner_a, inner_b, outer_a, outer_b, nradius,
            // angle)`: the sectors' union, the ring from inner to outer between the angles, which
            // DS9 counts from the shape's first axis (`bpanda`: widths and heights).
            count(&[11])?;
            let at = frame.place(args[0], args[1])?;
            let theta = degrees(args[10])?;
            let inner = match (is_zero(args[5]), is_zero(args[6])) {
                (false, false) => Some(at.axes(args[5], args[6], theta)?),
                (true, true) => None,
                _ => return Err("the inner sizes must both be 0 (no hole) or both positive".into()),
            };
            let (first, second, pa) = at.axes(args[7], args[8], theta)?;
            let sector = part_of_a_turn(degrees(args[2])? + theta, degrees(args[3])? + theta)
                .map(|(start, stop)| at.arc(start, stop));
            let kind = if name == "epanda" { RimKind::Ellipse } else { RimKind::Box };
            let inner = inner.map(|(a, b, _)| (a, b));
            Ring::new(kind, at.ra, at.dec, inner, (first, second), pa, sector)
                .map(|ring| Shape::Ring(Box::new(ring)))
                .map_err(error)
        }
        _ => Err(
            "not a shape angcut reads: circle, ellipse, box, polygon, annulus, panda, epanda and bpanda are (and -shape to exclude)"
                .into(),
        ),
    }
}

fn degrees(text: &str) -> Result<f64, String> {
    text.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| format!("'{text}' is not an angle in degrees"))
}

/// A `panda`'s (`epanda`'s, `bpanda`'s) angles from `start` to `stop`, or `None` when they make a full turn (the whole
/// ring, as DS9 draws `0,360`).
fn part_of_a_turn(start: f64, stop: f64) -> Option<(f64, f64)> {
    ((stop - start).abs() < 360.0).then_some((start, stop))
}

/// Whether a size is 0 (none: a sector or ring without a hole), in any unit DS9 writes.
fn is_zero(text: &str) -> bool {
    text.trim_end_matches(['"', '\'', 'd', 'r', 'i', 'p']).parse::<f64>().is_ok_and(|r| r == 0.0)
}

/// A size: `30"` arcsec, `2'` arcmin, `1d` degrees, `0.1r` radians, a bare number degrees.
fn size(text: &str) -> Result<Angle, String> {
    let (number, per_unit) = match text.char_indices().last() {
        Some((at, '"')) => (&text[..at], 1.0 / 3600.0),
        Some((at, '\'')) => (&text[..at], 1.0 / 60.0),
        Some((at, 'd')) => (&text[..at], 1.0),
        Some((at, 'r')) => (&text[..at], 180.0 / std::f64::consts::PI),
        Some((_, 'p' | 'i')) => return Err(format!("'{text}' is in pixels; give sizes in \", ' or d")),
        _ => (text, 1.0),
    };
    let value = number.trim().parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0);
    value.map(|v| Angle::from_degrees(v * per_unit)).ok_or_else(|| format!("'{text}' is not a positive size"))
}

/// A position: decimal degrees, or sexagesimal (`10:20:30.5` or `10h20m30.5s` hours for RA,
/// `-20:10:05` or `-20d10m05s` degrees for Dec; a longitude `unit` 'd' reads the first in
/// degrees too, as a galactic or ecliptic longitude is written).
fn position(ra: &str, dec: &str, unit: char) -> Result<(f64, f64), String> {
    let ra = match sexagesimal(ra, unit)? {
        Some(_) if ra.trim_start().starts_with('-') => {
            return Err(format!("'{ra}' is a negative longitude"));
        }
        Some(value) if unit == 'h' => value * 15.0,
        Some(degrees) => degrees,
        None => ra.parse::<f64>().map_err(|_| format!("'{ra}' is not a right ascension"))?,
    };
    let dec = match sexagesimal(dec, 'd')? {
        Some(degrees) => degrees,
        None => {
            dec.strip_suffix('d').unwrap_or(dec).parse::<f64>().map_err(|_| format!("'{dec}' is not a declination"))?
        }
    };
    if !(ra.is_finite() && (-90.0..=90.0).contains(&dec)) {
        return Err(format!("({ra}, {dec}) is not a position"));
    }
    Ok((ra.rem_euclid(360.0), dec))
}

/// The value of `a:b` or `a:b:c`, or of `a<first>bm`, `a<first>bmcs` (first = 'h' or 'd'), or
/// `None` for a plain number. The parts come in that order, each a number: `12m30h`, `12::30`
/// and `12h30` are errors, not 12h30m.
fn sexagesimal(text: &str, first: char) -> Result<Option<f64>, String> {
    let unit_form = text.contains(first) && text.contains('m');
    if !text.contains(':') && !unit_form {
        return Ok(None);
    }
    let bad = || format!("'{text}' is not sexagesimal");
    let trimmed = text.trim();
    let negative = trimmed.starts_with('-');
    let body = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
    let parts: Vec<&str> = if text.contains(':') {
        body.split(':').collect()
    } else {
        // Units in order: the first, then 'm', then an optional 's' ending the text.
        let (whole, rest) = body.split_once(first).ok_or_else(bad)?;
        let (minutes, rest) = rest.split_once('m').ok_or_else(bad)?;
        match rest {
            "" => vec![whole, minutes],
            seconds => vec![whole, minutes, seconds.strip_suffix('s').ok_or_else(bad)?],
        }
    };
    let numbers: Vec<f64> = parts
        .iter()
        .map(|p| p.parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0 && !p.starts_with(['+', '-'])))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    if !(2..=3).contains(&numbers.len()) || numbers[1..].iter().any(|&x| x >= 60.0) {
        return Err(bad());
    }
    if first == 'h' && numbers[0] >= 24.0 {
        return Err(format!("'{text}' is more than 24 hours of right ascension"));
    }
    let value = numbers.iter().rev().fold(0.0, |acc, &x| x + acc / 60.0);
    Ok(Some(if negative { -value } else { value }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sky::chord2;

    fn one(text: &str) -> Region {
        let regions = parse(&format!("fk5\n{text}"), None).unwrap();
        assert_eq!(regions.len(), 1, "{text}");
        regions.into_iter().next().unwrap()
    }

    #[test]
    fn positions_and_sizes_take_every_ds9_form() {
        assert_eq!(position("10:30:00", "-20:30:00", 'h').unwrap(), (157.5, -20.5));
        assert_eq!(position("10h30m00s", "-20d30m00s", 'h').unwrap(), (157.5, -20.5));
        assert_eq!(position("-0.5", "+45", 'h').unwrap(), (359.5, 45.0));
        assert_eq!(position("0:0:0", "-0:30:0", 'h').unwrap(), (0.0, -0.5), "a negative zero degrees keeps its sign");
        assert!(position("10:70:00", "0", 'h').is_err());
        assert!(position("270:00:00", "0", 'h').unwrap_err().contains("more than 24 hours"));
        assert!(position("10", "91", 'h').is_err());
        assert_eq!(size("36\"").unwrap(), Angle::from_degrees(0.01));
        assert_eq!(size("3'").unwrap(), Angle::from_degrees(0.05));
        assert_eq!(size("2d").unwrap(), Angle::from_degrees(2.0));
        assert_eq!(size("0.5").unwrap(), Angle::from_degrees(0.5));
        assert!(size("30p").unwrap_err().contains("pixels"));
        assert!(size("-1\"").is_err());
    }

    /// Found by fuzzing: malformed coordinates were read as something else.
    #[test]
    fn malformed_coordinates_are_errors_naming_the_line() {
        for (text, expected) in [
            ("circle(12m30h,20,1d)", "'12m30h' is not sexagesimal"),
            ("circle(12::30,20,1d)", "'12::30' is not sexagesimal"),
            ("circle(-12:00:00,20,1d)", "'-12:00:00' is a negative longitude"),
            ("circle(10,45dd,1d)", "'45dd' is not a declination"),
            ("circle(10,,20,0.5d)", "argument 2 is empty"),
            ("circle(10,20,0.5d,)", "argument 4 is empty"),
            ("circle(12h30,20,1d)", "'12h30' is not a right ascension"),
            ("circle(12:30:10:5,20,1d)", "'12:30:10:5' is not sexagesimal"),
        ] {
            let (line, problem) = parse(&format!("fk5\n{text}"), None).unwrap_err();
            assert_eq!(line, 2, "{text}");
            assert!(problem.contains(expected), "{problem:?} lacks {expected:?}");
        }
        assert_eq!(position("12h30m", "-20d30m", 'h').unwrap(), (187.5, -20.5));
        assert_eq!(position("0h0m1.5s", "45d", 'h').unwrap(), (15.0 * 1.5 / 3600.0, 45.0));
    }

    /// Found by fuzzing: `;` inside a property value split the line and added a shape.
    #[test]
    fn braces_and_quotes_hold_their_text() {
        let text = "fk5\ntext(10,10) text={a;circle(30,30,1d)}\nglobal font=\"helvetica;circle(10,10,1d)\"\n\
                    circle(1,1,30\") # text={b;circle(5,5,1d)}\ncircle(2,2,10') color=red text='x;circle(7,7,1d)'; circle(3,3,1d)\n";
        let regions = parse(text, None).unwrap();
        assert_eq!(regions.len(), 3, "{regions:?}");
        let Shape::Circle(centre, _) = &regions[2].shape else { panic!("a circle") };
        assert!(chord2(centre, &unit_vector(3.0, 3.0)) < 1e-20);
    }

    #[test]
    fn ds9_angles_put_the_first_axis_at_theta_plus_90_degrees() {
        // theta = 0: the first radius (2deg) along RA, the second (0.5deg) along Dec.
        let Region { shape, .. } = one("ellipse(100,0,2d,0.5d,0)");
        assert!(shape.contains(&unit_vector(101.9, 0.0)) && !shape.contains(&unit_vector(100.0, 0.6)));
        // theta = 90: the first radius along Dec.
        let Region { shape, .. } = one("ellipse(100,0,2d,0.5d,90)");
        assert!(!shape.contains(&unit_vector(101.9, 0.0)) && shape.contains(&unit_vector(100.0, 1.9)));
        // A box: width along RA at theta = 0.
        let Region { shape, .. } = one("box(100,0,4d,1d)");
        assert!(shape.contains(&unit_vector(101.9, 0.4)) && !shape.contains(&unit_vector(100.0, 0.6)));
    }

    /// An annulus is its ring, whichever way DS9 or astropy regions wrote it: radii listed, or
    /// inner, outer and n=.
    #[test]
    fn an_annulus_holds_its_ring() {
        // The last as astropy regions 0.12 writes a CircleAnnulusSkyRegion (sizes in degrees).
        let forms = [
            "annulus(10,-89.5,30',1d,2d)",
            "annulus(10,-89.5,30',2d,n=3)",
            "annulus(10 -89.5 30' 2d)",
            "annulus(10.00000000,-89.50000000,0.50000000,2.00000000)",
        ];
        for text in forms {
            let Region { shape, .. } = one(text);
            assert!(!shape.contains(&unit_vector(10.0, -89.5)), "{text}: the hole");
            assert!(!shape.contains(&unit_vector(10.0, -89.5 + 0.49)), "{text}: inside the inner radius");
            assert!(shape.contains(&unit_vector(10.0, -89.5 + 0.51)), "{text}: the ring");
            assert!(shape.contains(&unit_vector(190.0, -89.0)), "{text}: across the pole, 1.5 deg away");
            assert!(!shape.contains(&unit_vector(190.0, -87.9)), "{text}: beyond 2 deg");
        }
    }

    /// A panda is the sector of its ring between its angles, as astropy regions maps DS9 sky
    /// angles: theta 0 points west, 90 north (position angle theta - 90deg); a full turn is the
    /// ring, an inner radius of 0 a pie slice.
    #[test]
    fn a_panda_holds_its_sector() {
        // From theta 0 (west, PA 270) to 90 (north, PA 0), radii 1 to 2 deg, at the equator.
        let Region { shape, .. } = one("panda(100,0,0,90,3,1d,2d,2)");
        assert!(shape.contains(&unit_vector(98.5, 0.1)), "west, just north of the start");
        assert!(shape.contains(&unit_vector(99.1, 1.2)), "north-west");
        assert!(shape.contains(&unit_vector(99.95, 1.5)), "almost due north");
        assert!(!shape.contains(&unit_vector(98.5, -0.1)), "south of west: outside the angles");
        assert!(!shape.contains(&unit_vector(100.1, 1.5)), "east of north: outside the angles");
        assert!(!shape.contains(&unit_vector(99.5, 0.5)), "inside the inner radius");
        // Across 360: from theta 270 (south, PA 180) on through 0 (west): the south-west.
        let Region { shape, .. } = one("panda(100,0,270,0,2,0,2d,1)");
        assert!(shape.contains(&unit_vector(99.5, -0.5)), "south-west, a pie slice from the centre");
        assert!(!shape.contains(&unit_vector(100.5, -0.5)), "south-east");
        let Region { shape, .. } = one("panda(100,0,0,360,4,1d,2d,1)");
        assert!(matches!(shape, Shape::Annulus(..)), "a full turn is the ring");
    }

    /// `ellipse` and `box` of several sizes are the ring from the first to the last, as astropy
    /// regions reads them (each pair of sizes an annulus); the integration test checks them
    /// against `regions` itself (fixtures/annuli.reg).
    #[test]
    fn ellipses_and_boxes_of_several_sizes_are_rings() {
        // From 1 x 0.5 to 2 x 1 deg (semi-axes), the first axis along RA.
        let Region { shape, .. } = one("ellipse(100,0,1d,0.5d,1.5d,0.75d,2d,1d,0)");
        assert!(shape.contains(&unit_vector(98.5, 0.0)), "1.5 deg west: in the ring");
        assert!(!shape.contains(&unit_vector(99.5, 0.0)), "0.5 deg west: in the hole");
        assert!(shape.contains(&unit_vector(100.0, 0.8)), "0.8 deg north: in the ring");
        assert!(!shape.contains(&unit_vector(100.0, 1.1)), "1.1 deg north: beyond it");
        let Region { shape, .. } = one("box(100,0,1d,1d,2d,2d,0)");
        assert!(shape.contains(&unit_vector(100.8, 0.8)) && !shape.contains(&unit_vector(100.3, 0.3)));
        assert!(!shape.contains(&unit_vector(101.1, 0.0)));
    }

    /// `epanda` and `bpanda` are their rings between their angles, counted from the shape's
    /// first axis (DS9's `Epanda::isIn` tests the angle in the shape's own rotated frame).
    #[test]
    fn epanda_and_bpanda_count_their_angles_from_the_first_axis() {
        // Unrotated: the first axis west, the sector from west to north.
        let Region { shape, .. } = one("epanda(100,0,0,90,3,1d,0.5d,2d,1d,1,0)");
        assert!(shape.contains(&unit_vector(98.5, 0.1)), "west, a little north");
        assert!(!shape.contains(&unit_vector(98.5, -0.1)), "west, a little south");
        assert!(!shape.contains(&unit_vector(101.5, 0.1)), "east");
        assert!(shape.contains(&unit_vector(99.9, 0.8)), "north, beyond the hole");
        assert!(!shape.contains(&unit_vector(99.9, 0.4)), "north, in the hole");
        // Turned by 90: the first axis (2 deg) north, the sector from north to east.
        let Region { shape, .. } = one("epanda(100,0,0,90,3,1d,0.5d,2d,1d,1,90)");
        assert!(shape.contains(&unit_vector(100.1, 1.5)), "north, a little east");
        assert!(!shape.contains(&unit_vector(99.9, 1.5)), "north, a little west");
        assert!(shape.contains(&unit_vector(100.9, 0.1)), "east, a little north");
        assert!(!shape.contains(&unit_vector(98.5, 0.1)), "west: the unturned sector");
        // A box ring, whole (a full turn) and its northern quarter (45 to 135 from west).
        let Region { shape, .. } = one("bpanda(100,0,0,360,1,1d,1d,2d,2d,1,0)");
        assert!(shape.contains(&unit_vector(100.8, 0.8)) && !shape.contains(&unit_vector(100.3, 0.3)));
        let Region { shape, .. } = one("bpanda(100,0,45,135,1,1d,1d,2d,2d,1,0)");
        assert!(shape.contains(&unit_vector(100.0, 0.8)) && !shape.contains(&unit_vector(100.8, 0.0)));
        // No hole: a pie slice of the ellipse; in galactic, turned with the frame.
        let Region { shape, .. } = one("epanda(100,0,0,90,1,0,0,2d,1d,1,0)");
        assert!(shape.contains(&unit_vector(99.9, 0.1)), "near the centre");
        let Region { shape, .. } = parse("galactic\nepanda(30,0,0,180,1,0,0,1d,0.5d,1,0)", None).unwrap().remove(0);
        let north = |b: f64| {
            let v = SkyFrame::Rotated { to_icrs: GALACTIC_TO_ICRS }.to_icrs(unit_vector(30.0, b));
            shape.contains(&v)
        };
        assert!(north(0.3) && !north(-0.3), "the galactic north half");
    }

    #[test]
    fn a_file_of_several_commands_excludes_comments_and_annotations() {
        let text = "# Region file format: DS9 version 4.1\n\
            global color=green dashlist=8 3 width=1 font=\"helvetica 10 normal roman\"\n\
            icrs; circle(0,0,1d) # color=red text={bright}\n\
            -circle(0,0,10\") ; point(5,5) # point=x\n\
            # circle(50,50,1d)\n\
            polygon(10,10,11,10,11,11) # a triangle\n\
            text(3,3) text={label}\n";
        let regions = parse(text, None).unwrap();
        assert_eq!(regions.iter().map(|r| r.exclude).collect::<Vec<_>>(), [false, true, false]);
        let Shape::Circle(centre, radius) = &regions[0].shape else { panic!("a circle") };
        assert!(radius.contains(chord2(centre, &unit_vector(0.0, 0.99))));
        let detected = crate::io::formats::recognise(text.as_bytes(), Path::new("x"), |_| true);
        assert_eq!(detected.map(|(f, _)| f.role), Some(crate::io::formats::Role::Regions));
    }

    #[test]
    fn frames_turn_positions_into_icrs_as_astropy_does() {
        // astropy 8.0: SkyCoord(l, b, frame=FK4() | Galactic() | BarycentricMeanEcliptic()).icrs
        let cases = [
            (SkyFrame::Fk4, 0.0, 0.0, 0.6406846126253535, 0.2784069696545816),
            (SkyFrame::Fk4, 83.2041667, -5.4227778, 83.81855598694607, -5.391300289652622),
            (SkyFrame::Fk4, 200.5, 40.25, 201.05745913331174, 39.98976926849696),
            (SkyFrame::Fk4, 270.0, -30.0, 270.8014965384017, -29.998060071829773),
            (SkyFrame::Fk4, 10.0, 89.9, 174.62996853688296, 89.81918079307268),
            (SkyFrame::Fk4, 359.99, -89.5, 0.5214243161274985, -89.2215060787437),
            (SkyFrame::Rotated { to_icrs: GALACTIC_TO_ICRS }, 0.0, 0.0, 266.4049882865447, -28.936177761791473),
            (SkyFrame::Rotated { to_icrs: GALACTIC_TO_ICRS }, 120.5, 10.25, 4.664334134741277, 72.96677903319528),
            (SkyFrame::Rotated { to_icrs: GALACTIC_TO_ICRS }, 300.5, 60.0, 191.6422847062989, -2.8487555092969705),
            (SkyFrame::Rotated { to_icrs: GALACTIC_TO_ICRS }, 45.0, -89.99, 12.84849031375991, -27.126161250334217),
            (SkyFrame::Rotated { to_icrs: ECLIPTIC_TO_ICRS }, 30.0, 5.0, 26.082846901083915, 16.1465754983751),
            (SkyFrame::Rotated { to_icrs: ECLIPTIC_TO_ICRS }, 150.0, -60.0, 127.03700875143781, -44.03667020860303),
            (SkyFrame::Rotated { to_icrs: ECLIPTIC_TO_ICRS }, 250.0, 85.0, 266.3817379218466, 61.813291460862814),
            (SkyFrame::Rotated { to_icrs: ECLIPTIC_TO_ICRS }, 0.0, 90.0, 269.9999852977778, 66.56071866138889),
        ];
        for (frame, l, b, ra, dec) in cases {
            let at = Frame::Sky(frame).place(&l.to_string(), &b.to_string()).unwrap();
            let (got_ra, got_dec) = (at.ra, at.dec);
            let apart = crate::sky::chord2(&unit_vector(got_ra, got_dec), &unit_vector(ra, dec)).sqrt();
            let mas = apart.to_degrees() * 3.6e6;
            assert!(mas < 0.01, "({l}, {b}): {mas} mas from astropy's ({ra}, {dec}), got ({got_ra}, {got_dec})");
        }
        // A frame's north at its own pole: the turn is still defined (from just south of it).
        let at = Frame::Sky(SkyFrame::Fk4).place("10", "90").unwrap();
        assert!(at.arc(0.0, 90.0).0.is_finite());
    }

    /// Shapes in an image's pixels hold the pixels the image shows inside them: points drawn
    /// in pixels, placed through the WCS, are inside exactly when the pixel is inside the
    /// shape drawn on the image (pixels within half a pixel of an edge aside). On a turned TAN
    /// image and a mirrored SIN one, where a panda's arc runs the other way on the sky.
    #[test]
    fn image_shapes_hold_the_pixels_inside_them() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        for (file, x0, y0) in [("image_tan.fits", 1000.0, 900.0), ("image_sin.hdr", 500.0, 450.0)] {
            let wcs = ImageWcs::read(&fixtures.join(file)).unwrap();
            let shapes = [
                // (DS9 text, inside in pixels, distance from an edge in pixels)
                format!("box({x0},{y0},300,120,30)"),
                format!("ellipse({x0},{y0},150,60,30)"),
                format!("panda({x0},{y0},20,110,2,40,150,1)"),
                format!("epanda({x0},{y0},200,300,2,0,0,150,60,1,30)"),
            ];
            let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
            let truth = |k: usize, dx: f64, dy: f64| -> (bool, f64) {
                let (u, v) = (dx * c + dy * s, -dx * s + dy * c); // along the shapes' first axis
                let r = dx.hypot(dy);
                let angle = dy.atan2(dx).to_degrees().rem_euclid(360.0);
                match k {
                    0 => (u.abs() < 150.0 && v.abs() < 60.0, (150.0 - u.abs()).abs().min((60.0 - v.abs()).abs())),
                    1 => {
                        let q = (u / 150.0).hypot(v / 60.0);
                        (q < 1.0, (q - 1.0).abs() * 60.0)
                    }
                    2 => (
                        (40.0..150.0).contains(&r) && (20.0..110.0).contains(&angle),
                        [
                            (r - 40.0).abs(),
                            (r - 150.0).abs(),
                            r * (angle - 20.0).to_radians().sin().abs(),
                            r * (angle - 110.0).to_radians().sin().abs(),
                        ]
                        .into_iter()
                        .fold(f64::MAX, f64::min),
                    ),
                    _ => {
                        let q = (u / 150.0).hypot(v / 60.0);
                        let from_axis = v.atan2(u).to_degrees().rem_euclid(360.0);
                        (
                            q < 1.0 && (200.0..300.0).contains(&from_axis),
                            ((q - 1.0).abs() * 60.0)
                                .min(r * (from_axis - 200.0).to_radians().sin().abs())
                                .min(r * (from_axis - 300.0).to_radians().sin().abs()),
                        )
                    }
                }
            };
            let mut rng = crate::rng::SplitMix64::new(29);
            for (k, text) in shapes.iter().enumerate() {
                let shape = parse(&format!("image\n{text}"), Some(&wcs)).unwrap().remove(0).shape;
                let (mut inside, mut checked) = (0, 0);
                for _ in 0..4000 {
                    let (dx, dy) = (340.0 * rng.next_f64() - 170.0, 340.0 * rng.next_f64() - 170.0);
                    let (expected, margin) = truth(k, dx, dy);
                    if margin < 0.5 {
                        continue;
                    }
                    let point = wcs.sky(x0 + dx, y0 + dy).unwrap();
                    assert_eq!(shape.contains(&point), expected, "{file} {text}: pixel offset ({dx}, {dy})");
                    checked += 1;
                    inside += usize::from(expected);
                }
                assert!(checked > 3000 && inside > 100, "{file} {text}: {checked} checked, {inside} inside");
            }
        }
    }

    #[test]
    fn what_cannot_be_read_is_refused_naming_the_line() {
        let cases = [
            ("image\ncircle(0,0,1d)", 1, "the frame 'image' needs the image's WCS"),
            ("physical\ncircle(0,0,1)", 1, "the frame 'physical' needs the image's WCS"),
            ("linear\ncircle(0,0,1)", 1, "the frame 'linear' is not read"),
            ("circle(0,0,1d)", 1, "a region before any frame"),
            ("fk5\n\nsegment(0,0,1d,2d)", 3, "segment(0,0,1d,2d): not a shape angcut reads"),
            ("fk5\nepanda(0,0,0,90,2,1d,0,2d,2d,1,0)", 2, "both be 0 (no hole) or both positive"),
            ("fk5\nbpanda(0,0,0,90,2,1d,1d,2d,2d,1)", 2, "10 arguments; bpanda takes [11]"),
            (
                "fk5\nellipse(0,0,1d,1d,2d,0.5d,0)",
                2,
                "each size of a ring (ellipse of several sizes) must grow on both axes",
            ),
            ("fk5\nbox(0,0,1d,1d,2d,2d)", 2, "6 arguments; box takes x, y, its sizes and an angle"),
            ("fk5\nannulus(0,0,2d,1d)", 2, "the radii of an annulus must grow"),
            ("fk5\nannulus(0,0,2d)", 2, "1 radii; an annulus takes 2 or more"),
            ("fk5\nellipse(0,0,1d,2d)", 2, "4 arguments; ellipse takes x, y, its sizes and an angle"),
            ("fk5\npolygon(0,0,1,1)", 2, "a polygon takes 3 or more"),
            ("fk5\ncircle(0,0,5p)", 2, "is in pixels"),
            ("fk5\ncircle 0 0 1", 2, "is not a region"),
            ("fk5\nellipse(0,0,95d,1d,0)", 2, "semi-major axis 95deg"),
        ];
        for (text, line, expected) in cases {
            let (found, problem) = parse(text, None).unwrap_err();
            assert_eq!(found, line, "{text}");
            assert!(problem.contains(expected), "{problem:?} lacks {expected:?}");
        }
    }
}
