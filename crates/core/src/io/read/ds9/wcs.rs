//! An image's world coordinate system, read from a FITS file or a header as text, for DS9
//! regions drawn in the image's `image` or `physical` pixels.
//!
//! The projection (TAN, SIN, ZEA, AIT and the rest of FITS WCS Paper II, with `CD`, `PC` +
//! `CDELT` or `CROTA2`; no distortions) is the CDS `wcs` crate's. The celestial frame is
//! ours: the crate turns galactic into ICRS with its own matrix and leaves the other frames as
//! they are, so it is given the header as equatorial and its result is turned with the same
//! frames a DS9 file's sky positions use, checked against astropy.

use std::path::{Path, PathBuf};

use super::frame::{GALACTIC_TO_ICRS, SkyFrame};
use crate::error::Error;
use crate::io::fits::{CardValue, FitsHandle, parse_card};

/// The keys of the `wcs` crate's header whose values are integers (the rest are numbers or text).
const INTEGER_KEYS: [&str; 13] = [
    "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4", "ZNAXIS1", "ZNAXIS2", "ZNAXIS3", "ZNAXIS4", "A_ORDER", "B_ORDER",
    "AP_ORDER", "BP_ORDER",
];

/// Where an image's pixels lie on the sky.
///
/// ```no_run
/// use angcut::io::read::ds9::ImageWcs;
/// let wcs = ImageWcs::read(std::path::Path::new("image.fits")).unwrap();
/// let centre = wcs.sky(1024.5, 1024.5); // an ICRS unit vector, FITS pixels counted from 1
/// ```
pub struct ImageWcs {
    projection: wcs::WCS,
    frame: SkyFrame,
    /// IRAF's physical pixels (`LTM`, `LTV`): image = ltm . physical + ltv.
    ltm: [[f64; 2]; 2],
    ltv: [f64; 2],
    path: PathBuf,
}

impl std::fmt::Debug for ImageWcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageWcs").field("path", &self.path).finish_non_exhaustive()
    }
}

impl ImageWcs {
    /// Reads the WCS of the FITS file at `path` (its first HDU with a celestial `CTYPE1`), or
    /// of a header written as text (80-character cards, or `KEY = value` lines).
    pub fn read(path: &Path) -> Result<ImageWcs, Error> {
        let error = |message: String| Error::Wcs { path: path.to_path_buf(), message };
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        let cards = if bytes.starts_with(b"SIMPLE  =") {
            let mut fits = FitsHandle::open(path, false)?;
            let mut found = None;
            for index in 0..fits.hdus()?.len() {
                fits.move_to(index)?;
                let cards = fits.cards()?;
                if cards.iter().any(|c| parse_card(c).0 == "CTYPE1") {
                    found = Some(cards);
                    break;
                }
            }
            found.ok_or_else(|| error("no HDU has a WCS (CTYPE1)".into()))?
        } else {
            let text = String::from_utf8(bytes)
                .map_err(|_| error("neither a FITS file nor a header as text (it is not UTF-8)".into()))?;
            text_cards(&text)
        };
        ImageWcs::from_cards(&cards, path).map_err(error)
    }

    /// The WCS of a header's cards; `path` is kept for messages.
    fn from_cards(cards: &[String], path: &Path) -> Result<ImageWcs, String> {
        let mut table = toml::Table::new();
        for card in cards {
            let (key, value) = parse_card(card);
            let value = match value {
                Some(CardValue::Number(x)) if INTEGER_KEYS.contains(&key.as_str()) => {
                    if x.fract() != 0.0 || x.abs() > 1e15 {
                        return Err(format!("{key} = {x}: not an integer"));
                    }
                    toml::Value::Integer(x as i64)
                }
                Some(CardValue::Number(x)) => toml::Value::Float(x),
                Some(CardValue::Text(t)) => toml::Value::String(t),
                Some(CardValue::Logical(_)) | None => continue,
            };
            table.entry(key).or_insert(value);
        }
        check_numbers(&table)?;
        let text = |key: &str| table.get(key).and_then(toml::Value::as_str).map(str::to_string);
        let ctype1 = text("CTYPE1").ok_or("no CTYPE1: the header has no WCS")?;
        let ctype2 = text("CTYPE2").ok_or("no CTYPE2: the header has no WCS")?;
        let (lon, projection) = split_ctype(&ctype1)?;
        let (lat, projection2) = split_ctype(&ctype2)?;
        let frame = match (lon, lat) {
            ("RA", "DEC") => equatorial(&table)?,
            ("GLON", "GLAT") => SkyFrame::Rotated { to_icrs: GALACTIC_TO_ICRS },
            ("DEC", "RA") | ("GLAT", "GLON") => {
                return Err(format!(
                    "CTYPE1 = '{ctype1}' is the latitude: axes in the order latitude, longitude are not read"
                ));
            }
            ("ELON", "ELAT") => {
                return Err("an ecliptic WCS (ELON/ELAT) is not read: FITS does not say which ecliptic".into());
            }
            _ => {
                return Err(format!(
                    "CTYPE1 = '{ctype1}', CTYPE2 = '{ctype2}': not a celestial WCS angcut reads (RA/DEC or GLON/GLAT)"
                ));
            }
        };
        if projection2 != projection {
            return Err(format!("CTYPE1 = '{ctype1}' and CTYPE2 = '{ctype2}' name different projections"));
        }
        for key in ["CUNIT1", "CUNIT2"] {
            if let Some(unit) = text(key).filter(|u| !u.trim().eq_ignore_ascii_case("deg") && !u.trim().is_empty()) {
                return Err(format!("{key} = '{unit}': only degrees are read"));
            }
        }
        // The crate is given an equatorial header (see the module's note); a header that names no
        // image size (an astrometry.net `.wcs`) is given one pixel, which only its field of view uses.
        table.insert("CTYPE1".into(), toml::Value::String(format!("RA---{projection}")));
        table.insert("CTYPE2".into(), toml::Value::String(format!("DEC--{projection}")));
        table.remove("RADESYS");
        table.remove("EQUINOX");
        if !table.get("NAXIS").and_then(toml::Value::as_integer).is_some_and(|n| (2..=4).contains(&n)) {
            table.insert("NAXIS".into(), toml::Value::Integer(2));
        }
        for key in ["NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4"] {
            table.entry(key).or_insert(toml::Value::Integer(1));
        }
        let params: wcs::WCSParams =
            toml::Value::Table(table.clone()).try_into().map_err(|e| format!("a WCS key has the wrong type: {e}"))?;
        let projection = wcs::WCS::new(&params).map_err(|e| format!("not a WCS angcut reads: {e}"))?;
        let number = |key: &str, default: f64| table.get(key).and_then(toml::Value::as_float).unwrap_or(default);
        let ltm = [[number("LTM1_1", 1.0), number("LTM1_2", 0.0)], [number("LTM2_1", 0.0), number("LTM2_2", 1.0)]];
        let ltv = [number("LTV1", 0.0), number("LTV2", 0.0)];
        if ltm[0][0] * ltm[1][1] - ltm[0][1] * ltm[1][0] == 0.0 {
            return Err("LTM (image = LTM . physical + LTV) is singular".into());
        }
        Ok(ImageWcs { projection, frame, ltm, ltv, path: path.to_path_buf() })
    }

    /// The ICRS unit vector at image pixel (`x`, `y`), counted as FITS and DS9 count them (the
    /// first pixel's centre is 1, 1); `None` where the projection does not reach.
    pub fn sky(&self, x: f64, y: f64) -> Option<[f64; 3]> {
        self.native(x, y).map(|v| self.frame.to_icrs(v))
    }

    /// The unit vector at image pixel (`x`, `y`) in the WCS's own frame ([`ImageWcs::frame`]).
    pub(super) fn native(&self, x: f64, y: f64) -> Option<[f64; 3]> {
        // No image is a billion pixels across; beyond, the projections lose their unit vectors.
        if !(x.abs() < 1e9 && y.abs() < 1e9) {
            return None;
        }
        let v = self.projection.unproj_xyz(&wcs::ImgXY::new(x, y))?;
        let v = [v.x(), v.y(), v.z()];
        v.iter().all(|c| c.is_finite()).then_some(v)
    }

    /// The WCS's celestial frame (ICRS or galactic).
    pub(super) fn frame(&self) -> SkyFrame {
        self.frame
    }

    /// The image pixel of physical pixel (`x`, `y`).
    pub fn image_from_physical(&self, x: f64, y: f64) -> (f64, f64) {
        let m = self.ltm;
        (m[0][0] * x + m[0][1] * y + self.ltv[0], m[1][0] * x + m[1][1] * y + self.ltv[1])
    }

    /// The file the WCS came from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Refuses numbers no image's WCS holds, which would take the projections outside their
/// domain: every number finite, the reference pixel within a billion pixels, the reference
/// latitude a latitude, pixel sizes and matrix terms below 1000.
fn check_numbers(table: &toml::Table) -> Result<(), String> {
    for (key, value) in table {
        let Some(x) = value.as_float() else { continue };
        let bound = match key.as_str() {
            _ if !x.is_finite() => return Err(format!("{key} = {x}: not a finite number")),
            // Projection parameters (AZP's tilt, ZPN's polynomial, SIN's slant, a moved fiducial
            // point) are read only as their defaults: the crate's projections assert their
            // domains rather than refuse what lies outside them.
            k if k.starts_with("PV") && x != 0.0 => {
                return Err(format!("{key} = {x}: projection parameters (PVi_m) other than 0 are not read"));
            }
            "CRPIX1" | "CRPIX2" | "LTV1" | "LTV2" => 1e9,
            "CRVAL2" | "LATPOLE" => 90.0,
            "CRVAL1" | "LONPOLE" | "CROTA2" => 1e4,
            k if ["CDELT", "CD1_", "CD2_", "PC1_", "PC2_", "LTM"].iter().any(|p| k.starts_with(p)) => 1e3,
            _ => continue,
        };
        if x.abs() > bound {
            return Err(format!("{key} = {x}: beyond what an image's WCS holds (|{key}| <= {bound})"));
        }
    }
    Ok(())
}

/// A celestial `CTYPEi` split as `RA---TAN` is: its axis (`RA`) and its projection (`TAN`); a
/// distortion after them (`-SIP`) is refused.
fn split_ctype(ctype: &str) -> Result<(&str, &str), String> {
    let bad = || format!("CTYPE '{ctype}' is not a celestial axis and projection such as 'RA---TAN'");
    if !ctype.is_ascii() || ctype.len() < 8 || ctype.as_bytes()[4] != b'-' {
        return Err(bad());
    }
    let axis = ctype[..4].trim_end_matches('-');
    let (projection, rest) = (&ctype[5..8], ctype[8..].trim_end());
    if axis.is_empty() || !projection.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad());
    }
    // SIP is refused too: the `wcs` crate (0.4.2) reads it, but puts pixels of a plain TAN-SIP
    // header tens of degrees from where astropy (and so the image) has them.
    match rest {
        "" => Ok((axis, projection)),
        _ => Err(format!("CTYPE '{ctype}': distortions ('{rest}') are not read; give the WCS without them")),
    }
}

/// The frame of an RA/DEC header by `RADESYS` and `EQUINOX` (FITS WCS Paper II: without
/// `RADESYS`, ICRS if there is no `EQUINOX`, FK4 before 1984, FK5 from then on). FK5 J2000 is
/// read as ICRS, as the DS9 frame `fk5` is.
fn equatorial(table: &toml::Table) -> Result<SkyFrame, String> {
    let equinox = table.get("EQUINOX").and_then(toml::Value::as_float);
    let radesys = table.get("RADESYS").and_then(toml::Value::as_str).map(|s| s.trim().to_ascii_uppercase());
    let system = match (radesys.as_deref(), equinox) {
        (Some(system), _) => system.to_string(),
        (None, None) => "ICRS".into(),
        (None, Some(e)) if e < 1984.0 => "FK4".into(),
        (None, Some(_)) => "FK5".into(),
    };
    match (system.as_str(), equinox) {
        ("ICRS", _) => Ok(SkyFrame::Icrs),
        ("FK5", None) => Ok(SkyFrame::Icrs),
        ("FK5", Some(2000.0)) => Ok(SkyFrame::Icrs),
        ("FK5", Some(e)) => Err(format!("RADESYS FK5 at EQUINOX {e}: only J2000 is read")),
        (other, _) => Err(format!("RADESYS {other}: only ICRS and FK5 (J2000) image WCSs are read")),
    }
}

/// A header's cards from its text: 80-character cards one after another (as FITS stores them),
/// or one card per line, `KEY = value / comment` written with or without FITS's columns.
fn text_cards(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let pieces: Vec<String> = if lines.len() == 1 && text.len() > 80 && text.is_ascii() {
        text.as_bytes().chunks(80).map(|c| String::from_utf8_lossy(c).into_owned()).collect()
    } else {
        lines.iter().map(|l| l.to_string()).collect()
    };
    pieces
        .into_iter()
        .map(|line| match line.split_once('=') {
            Some((key, value)) if line.get(8..10) != Some("= ") && !key.trim().contains(' ') => {
                format!("{:<8}= {}", key.trim(), value.trim_start())
            }
            _ => line,
        })
        .take_while(|card| card.split_whitespace().next() != Some("END"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sky::{chord2, unit_vector};

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(name)
    }

    fn cards(text: &str) -> Result<ImageWcs, String> {
        ImageWcs::from_cards(&text_cards(text), Path::new("test.hdr"))
    }

    /// astropy 8.0's `WCS(header).pixel_to_world(x - 1, y - 1).icrs` for the fixtures' four WCSs
    /// (fixtures/make_wcs.py): a FITS file and three headers as text; FK5, a mirrored image,
    /// next to the pole, galactic AIT.
    #[test]
    fn pixels_land_where_astropy_puts_them() {
        let cases = [
            ("image_tan.fits", 1.0, 1.0, 150.35751740477136, 1.8175276557893822),
            ("image_tan.fits", 1500.25, 300.75, 150.03829368658998, 2.09784878246194),
            ("image_tan.fits", 200.0, 1900.0, 150.57360106971598, 2.301955678501034),
            // FK5 J2000, read as ICRS: astropy's FK5 values (its ICRS ones are 30 mas away).
            ("image_sin.hdr", 1.0, 1.0, 209.45210535562137, -60.126124532757615),
            ("image_sin.hdr", 1500.25, 300.75, 210.71850373336088, -60.22160933819041),
            ("image_sin.hdr", 200.0, 1900.0, 210.1486489318218, -59.41198651681582),
            ("image_zea.hdr", 1.0, 1.0, 13.701076706357549, 88.2180184195627),
            ("image_zea.hdr", 1500.25, 300.75, 325.5549402922286, 87.75026209008908),
            ("image_zea.hdr", 200.0, 1900.0, 235.60428438376096, 89.5699089966564),
            ("image_ait.hdr", 3600.5, 1800.5, 266.4049882865447, -28.936177761791473),
            ("image_ait.hdr", 4300.0, 1700.0, 239.96507180842175, -59.58766648521035),
            ("image_ait.hdr", 3000.0, 2000.0, 272.9230215287943, 2.3230844203110195),
        ];
        for (file, x, y, ra, dec) in cases {
            let wcs = ImageWcs::read(&fixture(file)).unwrap();
            let got = wcs.sky(x, y).unwrap();
            let mas = chord2(&got, &unit_vector(ra, dec)).sqrt().to_degrees() * 3.6e6;
            assert!(mas < 0.1, "{file} ({x}, {y}): {mas} mas from astropy's ({ra}, {dec})");
        }
        // Beyond the edge of the AIT projection, astropy says NaN: nothing.
        assert!(ImageWcs::read(&fixture("image_ait.hdr")).unwrap().sky(7000.0, 1800.5).is_none());
    }

    /// A TAN-SIP header (second-order A and B polynomials, a CD matrix) is refused: the `wcs`
    /// crate 0.4.2 puts its pixel (1, 1) 81 degrees from astropy 8.0's (35.64619109765067,
    /// -4.40138018512719), its reference pixel's neighbours likewise.
    #[test]
    fn sip_distortions_are_refused() {
        let header = "CTYPE1 = 'RA---TAN-SIP'\nCTYPE2 = 'DEC--TAN-SIP'\nCRVAL1 = 35.5\nCRVAL2 = -4.25\n\
            CRPIX1 = 2048.5\nCRPIX2 = 2048.5\nCD1_1 = -7.3E-05\nCD1_2 = 1.2E-06\nCD2_1 = 1.1E-06\nCD2_2 = 7.3E-05\n\
            A_ORDER = 2\nB_ORDER = 2\nA_0_2 = 2.5E-06\nA_1_1 = -1.5E-06\nA_2_0 = 3.1E-06\nB_0_2 = -2.2E-06\n\
            B_1_1 = 1.9E-06\nB_2_0 = 1.3E-06\nRADESYS = 'ICRS'";
        let problem = cards(header).map(|_| ()).unwrap_err();
        assert!(problem.contains("distortions ('-SIP') are not read"), "{problem}");
    }

    #[test]
    fn physical_pixels_map_through_ltm_and_ltv() {
        let wcs = ImageWcs::read(&fixture("image_tan.fits")).unwrap();
        // image = 0.5 physical + (10, -20)
        assert_eq!(wcs.image_from_physical(100.0, 200.0), (60.0, 80.0));
        let plain = cards("CTYPE1 = 'RA---TAN'\nCTYPE2 = 'DEC--TAN'\nCDELT1 = -0.001\nCDELT2 = 0.001").unwrap();
        assert_eq!(plain.image_from_physical(3.5, 4.0), (3.5, 4.0), "no LTM/LTV: physical is image");
    }

    #[test]
    fn headers_as_text_take_fits_cards_and_plain_lines() {
        let line = |key: &str, value: &str| format!("{key:<8}= {value:<70}");
        let joined =
            [line("CTYPE1", "'RA---TAN'"), line("CTYPE2", "'DEC--TAN'"), format!("{:<80}", "END"), line("X", "1")]
                .concat();
        let found = text_cards(&joined);
        assert_eq!(found.len(), 2, "80-character cards, up to END");
        assert_eq!(parse_card(&found[1]).1, Some(CardValue::Text("DEC--TAN".into())));
        let found = text_cards("CRVAL1=150.5 / a comment\nCTYPE1 = 'RA---SIN'\nEND\nCRVAL2 = 3");
        assert_eq!(found.len(), 2);
        assert_eq!(parse_card(&found[0]), ("CRVAL1".into(), Some(CardValue::Number(150.5))));
        let wcs = cards("CTYPE1='RA---TAN'\nCTYPE2='DEC--TAN'\nCRVAL1=150\nCRVAL2=2\nCRPIX1=1\nCRPIX2=1\nCDELT1=-0.001\nCDELT2=0.001")
            .unwrap();
        let mas = chord2(&wcs.sky(1.0, 1.0).unwrap(), &unit_vector(150.0, 2.0)).sqrt().to_degrees() * 3.6e6;
        assert!(mas < 1e-6, "the reference pixel is the reference value: {mas} mas");
    }

    #[test]
    fn what_is_not_read_is_refused_by_name() {
        let base = "CTYPE1 = 'RA---TAN'\nCTYPE2 = 'DEC--TAN'\nCDELT1 = -0.001\nCDELT2 = 0.001\n";
        let cases = [
            ("CDELT1 = 1".to_string(), "no CTYPE1"),
            ("CTYPE1 = 'RA---TAN'".to_string(), "no CTYPE2"),
            ("CTYPE1 = 'DEC--TAN'\nCTYPE2 = 'RA---TAN'".to_string(), "is the latitude"),
            ("CTYPE1 = 'ELON-TAN'\nCTYPE2 = 'ELAT-TAN'".to_string(), "ecliptic WCS"),
            ("CTYPE1 = 'RA---TAN'\nCTYPE2 = 'DEC--SIN'".to_string(), "different projections"),
            ("CTYPE1 = 'RA--TAN'\nCTYPE2 = 'DEC-TAN'".to_string(), "is not a celestial axis"),
            ("CTYPE1 = 'RA---TÄN'\nCTYPE2 = 'DEC--TAN'".to_string(), "is not a celestial axis"),
            ("CTYPE1 = 'RA---TAN-TPV'\nCTYPE2 = 'DEC--TAN-TPV'".to_string(), "distortions ('-TPV') are not read"),
            ("CTYPE1 = 'RA---XYZ'\nCTYPE2 = 'DEC--XYZ'".to_string(), "not a WCS angcut reads"),
            ("CTYPE1 = 'VELO-LSR'\nCTYPE2 = 'DEC--TAN'".to_string(), "not a celestial WCS angcut reads"),
            ("CTYPE1 = 'FREQ'\nCTYPE2 = 'DEC--TAN'".to_string(), "is not a celestial axis"),
            (format!("{base}RADESYS = 'FK4'"), "RADESYS FK4"),
            (format!("{base}EQUINOX = 1950.0"), "RADESYS FK4"),
            (format!("{base}RADESYS = 'FK5'\nEQUINOX = 1975.0"), "only J2000"),
            (format!("{base}CUNIT1 = 'arcsec'"), "only degrees"),
            (format!("{base}NAXIS1 = 20.5"), "not an integer"),
            (format!("{base}LTM1_1 = 0\nLTM2_2 = 0"), "singular"),
            (format!("{base}PV2_1 = 0.3"), "projection parameters (PVi_m) other than 0"),
            (format!("{base}CRVAL2 = 91"), "beyond what an image's WCS holds"),
            (format!("{base}CRVAL1 = NaN"), "not a finite number"),
            ("CTYPE1 = 'GLON-TAN'\nCTYPE2 = 'DEC--TAN'".to_string(), "not a celestial WCS angcut reads"),
        ];
        for (text, expected) in cases {
            let problem = cards(&text).map(|_| ()).unwrap_err();
            assert!(problem.contains(expected), "{text:?}: {problem:?} lacks {expected:?}");
        }
        assert!(cards(&format!("{base}RADESYS = 'FK5'\nEQUINOX = 2000.0")).is_ok(), "FK5 J2000 is read as ICRS");
        assert!(cards(&format!("{base}EQUINOX = 2000")).is_ok(), "no RADESYS after 1984: FK5");
    }

    /// Odd headers are refused or read, never a panic: every projection code the crate knows
    /// (and some it does not) with degenerate matrices, poles, NaN and huge values.
    #[test]
    fn odd_headers_never_panic() {
        let codes = [
            "TAN", "SIN", "ZEA", "AIT", "ARC", "STG", "AZP", "SZP", "ZPN", "AIR", "NCP", "CYP", "CEA", "CAR", "MER",
            "SFL", "PAR", "MOL", "COP", "COD", "COE", "COO", "HPX", "BON", "TSC", "XYZ",
        ];
        let extras = [
            "",
            "CDELT1 = 0\n",
            "CD1_1 = 0\nCD2_2 = 0\n",
            "CRVAL2 = 95\n",
            "CRVAL2 = -90\n",
            "LONPOLE = NaN\n",
            "LATPOLE = 1E300\n",
            "NAXIS = 7\n",
            "PV2_1 = -3\nPV2_2 = 1E10\n",
            "PV1_1 = 10\nPV1_2 = 95\n",
            "CROTA2 = 1E308\n",
            "CRPIX1 = NaN\n",
            "CDELT1 = 1E200\nCDELT2 = 1E200\n",
            "CD1_1 = 1E-300\n",
        ];
        let mut read = 0;
        for code in codes {
            for extra in extras {
                let header =
                    format!("CTYPE1 = 'RA---{code}'\nCTYPE2 = 'DEC--{code}'\nCDELT1 = -0.01\nCDELT2 = 0.01\n{extra}");
                if let Ok(wcs) = cards(&header) {
                    read += 1;
                    for (x, y) in [(0.0, 0.0), (1.0, 1.0), (-1e6, 3.0), (1e300, -1e300), (f64::NAN, 0.0)] {
                        if let Some(v) = wcs.sky(x, y) {
                            assert!(v.iter().all(|c| c.is_finite()), "{header}: ({x}, {y}) gives {v:?}");
                        }
                    }
                }
            }
        }
        assert!(read > 100, "only {read} odd headers read");
    }

    #[test]
    fn files_without_a_wcs_are_refused_naming_them() {
        let problem = ImageWcs::read(&fixture("objects_2k.fits")).unwrap_err().to_string();
        assert!(problem.contains("objects_2k.fits") && problem.contains("no HDU has a WCS"), "{problem}");
        let problem = ImageWcs::read(&fixture("objects.parquet")).unwrap_err().to_string();
        assert!(problem.contains("objects.parquet") && problem.contains("not UTF-8"), "{problem}");
        let problem = ImageWcs::read(&fixture("no_such.fits")).unwrap_err().to_string();
        assert!(problem.contains("no_such.fits"), "{problem}");
    }
}
