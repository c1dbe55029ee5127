//! A quick look at a mask (`angcut area --png OUT.png`): its layers drawn on the sky, the area
//! table as the legend. The whole sky in Mollweide's equal-area projection (RA 180 at the
//! centre, RA growing to the left, as the sky is seen), or, when the mask has footprint layers
//! covering less than a quarter of the sky, the footprint's RA/Dec box.
//!
//! Each pixel is coloured by the mask's own exact test at its centre (the lowest bit set wins);
//! a shape smaller than a pixel would then mostly vanish, so every shape's centre is also drawn
//! as a dot. Text is font8x8's public-domain 8x8 glyphs; the PNG is encoded by the `png` crate.

use std::path::Path;

use super::Mask;
use super::area::{AreaReport, SKY_DEG2};
use super::pixels::{Cells, DEPTH_MAX};
use crate::error::Error;
use crate::io::write::{FinishedOutput, write_whole};
use crate::sky::{UnitVector, unit_vector};

/// The map's width in pixels; the whole sky is half as high.
const WIDTH: usize = 1440;

/// Glyphs are drawn at twice their 8x8 size.
const SCALE: usize = 2;
const LINE: usize = 10 * SCALE;

/// Colours: the sky, outside the map, graticule, text; then one per layer, in bit order (cycled).
const SKY: [u8; 3] = [236, 236, 236];
const PAPER: [u8; 3] = [255, 255, 255];
const GRID: [u8; 3] = [190, 190, 190];
const INK: [u8; 3] = [20, 20, 20];
const LAYERS: [[u8; 3]; 10] = [
    [214, 39, 40],
    [31, 119, 180],
    [44, 160, 44],
    [255, 127, 14],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [23, 190, 207],
    [188, 189, 34],
    [127, 127, 127],
];

/// The colour of layer `bit`; a footprint layer's (`outside`, which holds most of the sky)
/// faded towards white, so that what it frames stays in view.
pub fn layer_colour(bit: usize, outside: bool) -> [u8; 3] {
    let colour = LAYERS[bit % LAYERS.len()];
    if outside { colour.map(|c| (u16::from(c) + 3 * 255).div_euclid(4) as u8) } else { colour }
}

/// How sky positions map to the picture.
#[derive(Debug, Clone, Copy, PartialEq)]
enum View {
    /// The whole sky, Mollweide.
    AllSky,
    /// RA from `ra_left` (degrees, the left edge) down to `ra_left - ra_span`, Dec between the two.
    Box { ra_left: f64, ra_span: f64, dec_low: f64, dec_high: f64 },
}

impl View {
    /// The map's height for [`WIDTH`].
    fn height(&self) -> usize {
        match *self {
            View::AllSky => WIDTH / 2,
            View::Box { ra_span, dec_low, dec_high, .. } => {
                let squeeze = ((dec_low + dec_high) / 2.0).to_radians().cos().max(0.05);
                let height = WIDTH as f64 * (dec_high - dec_low) / (ra_span * squeeze);
                (height.round() as usize).clamp(WIDTH / 8, WIDTH)
            }
        }
    }

    /// The sky position (RA, Dec in degrees) at the centre of pixel (`x`, `y`) of a map `height`
    /// high, or `None` off the sky.
    fn position(&self, x: usize, y: usize, height: usize) -> Option<(f64, f64)> {
        let (u, v) = ((x as f64 + 0.5) / WIDTH as f64, (y as f64 + 0.5) / height as f64);
        match *self {
            View::AllSky => {
                // x in [-2 sqrt 2, 2 sqrt 2], y in [-sqrt 2, sqrt 2], north up.
                let (mx, my) =
                    ((2.0 * u - 1.0) * 2.0 * std::f64::consts::SQRT_2, (1.0 - 2.0 * v) * std::f64::consts::SQRT_2);
                let sin_theta = my / std::f64::consts::SQRT_2;
                let theta = sin_theta.clamp(-1.0, 1.0).asin();
                let cos_theta = theta.cos();
                let lambda = std::f64::consts::PI * mx / (2.0 * std::f64::consts::SQRT_2 * cos_theta);
                if lambda.abs() > std::f64::consts::PI || cos_theta == 0.0 {
                    return None;
                }
                let dec = ((2.0 * theta + (2.0 * theta).sin()) / std::f64::consts::PI).clamp(-1.0, 1.0).asin();
                Some(((180.0 - lambda.to_degrees()).rem_euclid(360.0), dec.to_degrees()))
            }
            View::Box { ra_left, ra_span, dec_low, dec_high } => {
                Some(((ra_left - u * ra_span).rem_euclid(360.0), dec_high - v * (dec_high - dec_low)))
            }
        }
    }

    /// The pixel of sky position (`ra`, `dec`), if it is on the map.
    fn pixel(&self, ra: f64, dec: f64, height: usize) -> Option<(usize, usize)> {
        let (u, v) = match *self {
            View::AllSky => {
                let lambda = (180.0 - ra).to_radians();
                let lambda = if lambda > std::f64::consts::PI { lambda - std::f64::consts::TAU } else { lambda };
                let phi = dec.to_radians();
                // Newton's method for 2 theta + sin 2 theta = pi sin phi.
                let mut theta = phi;
                for _ in 0..20 {
                    let f = 2.0 * theta + (2.0 * theta).sin() - std::f64::consts::PI * phi.sin();
                    let slope = 2.0 + 2.0 * (2.0 * theta).cos();
                    if slope.abs() < 1e-12 {
                        break;
                    }
                    theta -= f / slope;
                }
                let mx = 2.0 * std::f64::consts::SQRT_2 / std::f64::consts::PI * lambda * theta.cos();
                let my = std::f64::consts::SQRT_2 * theta.sin();
                (mx / (4.0 * std::f64::consts::SQRT_2) + 0.5, 0.5 - my / (2.0 * std::f64::consts::SQRT_2))
            }
            View::Box { ra_left, ra_span, dec_low, dec_high } => {
                ((ra_left - ra).rem_euclid(360.0) / ra_span, (dec_high - dec) / (dec_high - dec_low))
            }
        };
        let (x, y) = (u * WIDTH as f64, v * height as f64);
        (x >= 0.0 && y >= 0.0 && x < WIDTH as f64 && y < height as f64).then_some((x as usize, y as usize))
    }

    /// The box around `footprint` (with a margin) if it covers less than a quarter of the sky.
    fn around(footprint: &Cells) -> View {
        let cells: u128 = footprint.moc_ranges().iter().map(|r| u128::from(r.end - r.start)).sum();
        let fraction = cells as f64 / super::pixels::SKY_CELLS as f64;
        if fraction == 0.0 || fraction > 0.25 {
            return View::AllSky;
        }
        // The centres of the footprint's cells at depth 7 (~0.5 deg), for its extent.
        let depth = 7u8;
        let shift = 2 * u32::from(DEPTH_MAX - depth);
        let mut ras = Vec::new();
        let (mut dec_low, mut dec_high) = (90.0f64, -90.0f64);
        for range in footprint.moc_ranges().iter() {
            for cell in range.start >> shift..=((range.end - 1) >> shift) {
                let (lon, lat) = cdshealpix::nested::center(depth, cell);
                ras.push(lon.to_degrees());
                dec_low = dec_low.min(lat.to_degrees());
                dec_high = dec_high.max(lat.to_degrees());
            }
        }
        ras.sort_unstable_by(f64::total_cmp);
        ras.dedup();
        // RA runs round: the box starts after the widest empty gap.
        let mut gap = (360.0 - ras[ras.len() - 1] + ras[0], 0);
        for i in 1..ras.len() {
            if ras[i] - ras[i - 1] > gap.0 {
                gap = (ras[i] - ras[i - 1], i);
            }
        }
        let ra_span = 360.0 - gap.0;
        let ra_right = ras[gap.1];
        let margin = 1.0;
        let (dec_low, dec_high) = ((dec_low - margin).max(-90.0), (dec_high + margin).min(90.0));
        if dec_high - dec_low >= 170.0 || ra_span > 300.0 {
            return View::AllSky;
        }
        View::Box { ra_left: ra_right + ra_span + margin, ra_span: ra_span + 2.0 * margin, dec_low, dec_high }
    }
}

/// An RGB image being drawn.
struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

impl Canvas {
    fn set(&mut self, x: usize, y: usize, colour: [u8; 3]) {
        if x < self.width && y < self.height {
            let at = 3 * (y * self.width + x);
            self.rgb[at..at + 3].copy_from_slice(&colour);
        }
    }

    /// `text` from (`x`, `y`), its top left; ASCII only (anything else is a '?').
    fn text(&mut self, x: usize, y: usize, text: &str, colour: [u8; 3]) {
        for (i, c) in text.chars().enumerate() {
            let glyph = font8x8::legacy::BASIC_LEGACY[if c.is_ascii() { c as usize } else { '?' as usize }];
            for (row, bits) in glyph.iter().enumerate() {
                for column in 0..8 {
                    if bits & (1 << column) != 0 {
                        for (dx, dy) in (0..SCALE).flat_map(|dx| (0..SCALE).map(move |dy| (dx, dy))) {
                            self.set(x + (8 * i + column) * SCALE + dx, y + row * SCALE + dy, colour);
                        }
                    }
                }
            }
        }
    }
}

/// Draws `mask` (its layers, and `report` as the legend; zoomed to `footprint`, the mask's
/// [`Mask::footprint`], if it is small) as a PNG into a temporary file for `path`, committed by
/// the caller.
pub fn write_png(
    mask: &Mask,
    report: &AreaReport,
    footprint: Option<&Cells>,
    path: &Path,
) -> Result<FinishedOutput, Error> {
    let view = footprint.map_or(View::AllSky, View::around);
    let map_height = view.height();
    let legend = LINE * (report.layers.len() + 3);
    let mut canvas =
        Canvas { width: WIDTH, height: map_height + legend, rgb: vec![255; 3 * WIDTH * (map_height + legend)] };

    // The footprint layers' bits: drawn only where no other layer holds.
    let outside: u64 = mask
        .layers()
        .iter()
        .enumerate()
        .filter(|(_, l)| l.pixels().is_some_and(|map| map.rule().outside))
        .fold(0, |bits, (bit, _)| bits | 1 << bit);
    let colour_of = |word: u64| {
        let shown = if word & !outside != 0 { word & !outside } else { word };
        let bit = shown.trailing_zeros() as usize;
        layer_colour(bit, outside >> bit & 1 == 1)
    };
    // The map, a row at a time through the mask.
    let step = match view {
        View::AllSky => 30.0,
        View::Box { ra_span, .. } => nice_step(ra_span / 6.0),
    };
    for y in 0..map_height {
        let positions: Vec<Option<(f64, f64)>> = (0..WIDTH).map(|x| view.position(x, y, map_height)).collect();
        let on_sky: Vec<(f64, f64)> = positions.iter().flatten().copied().collect();
        let vectors: Vec<UnitVector> = on_sky.iter().map(|&(ra, dec)| unit_vector(ra, dec)).collect();
        let mut bits = vec![0u64; vectors.len()];
        mask.mark_at(&vectors, Some(&on_sky), &mut bits)?;
        let mut next = bits.iter();
        for (x, position) in positions.iter().enumerate() {
            let colour = match position {
                None => PAPER,
                Some((ra, dec)) => {
                    let word = *next.next().unwrap_or(&0);
                    if word != 0 {
                        colour_of(word)
                    } else if on_graticule(*ra, *dec, step, &view, map_height) {
                        GRID
                    } else {
                        SKY
                    }
                }
            };
            canvas.set(x, y, colour);
        }
    }
    // Every shape's centre, seen even when the shape is smaller than a pixel; bit 0 on top.
    for (bit, layer) in mask.layers().iter().enumerate().rev() {
        for v in &layer.contaminants().positions {
            let (ra, dec) =
                (v[1].atan2(v[0]).to_degrees().rem_euclid(360.0), v[2].clamp(-1.0, 1.0).asin().to_degrees());
            if let Some((x, y)) = view.pixel(ra, dec, map_height) {
                canvas.set(x, y, layer_colour(bit, false));
            }
        }
    }

    // The legend: per layer its colour, bit, name and area; then the union.
    let mut y = map_height + LINE / 2;
    for (bit, layer) in report.layers.iter().enumerate() {
        for dy in 0..8 * SCALE {
            for dx in 0..8 * SCALE {
                canvas.set(LINE + dx, y + dy, colour_of(1 << bit));
            }
        }
        // 16-pixel glyphs: 86 characters fit beside the swatch.
        let footprint = match (layer.in_footprint, report.footprint_deg2) {
            (Some(inside), Some(f)) if f > 0.0 => format!(" {:>8.4}% of footprint", 100.0 * inside.best / f),
            _ => String::new(),
        };
        let how = match (layer.exact, outside >> bit & 1 == 1) {
            (_, true) => " (outside)",
            (true, false) => "",
            (false, false) => " (cells)",
        };
        let name: String = layer.name.chars().take(14).collect();
        let text = format!(
            "{bit:<2} {name:<14} {:>11.4} deg2 {:>8.4}% of sky{footprint}{how}",
            layer.area.best,
            100.0 * layer.area.best / SKY_DEG2
        );
        canvas.text(3 * LINE, y, &text, INK);
        y += LINE;
    }
    let union = format!(
        "   {:<14} {:>11.4} deg2 {:>8.4}% of sky; shapes at HEALPix order {}",
        "union",
        report.union.best,
        100.0 * report.union.best / SKY_DEG2,
        report.order
    );
    canvas.text(3 * LINE, y, &union, INK);
    y += LINE;
    let view_text = match view {
        View::AllSky => "   Mollweide, RA 180 at the centre, east to the left; grid every 30 deg".to_string(),
        View::Box { .. } => format!("   the footprint's RA/Dec box, east to the left; grid every {step} deg"),
    };
    canvas.text(3 * LINE, y, &view_text, INK);

    let failed = |e: png::EncodingError| Error::Io { path: path.to_path_buf(), source: std::io::Error::other(e) };
    write_whole(path, |out| {
        let mut encoder = png::Encoder::new(out, canvas.width as u32, canvas.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(failed)?;
        writer.write_image_data(&canvas.rgb).map_err(failed)?;
        writer.finish().map_err(failed)
    })
}

/// Whether (`ra`, `dec`) lies on a grid line every `step` degrees (within about a pixel).
fn on_graticule(ra: f64, dec: f64, step: f64, view: &View, height: usize) -> bool {
    let per_pixel = match *view {
        View::AllSky => 360.0 / WIDTH as f64,
        View::Box { ra_span, .. } => ra_span / WIDTH as f64,
    };
    let near = |value: f64, tolerance: f64| {
        let off = value.rem_euclid(step);
        off < tolerance / 2.0 || step - off < tolerance / 2.0
    };
    let dec_per_pixel = match *view {
        View::AllSky => 180.0 / height as f64,
        View::Box { dec_low, dec_high, .. } => (dec_high - dec_low) / height as f64,
    };
    near(dec, dec_per_pixel) || (dec.abs() < 89.0 && near(ra, per_pixel / dec.to_radians().cos().max(0.05)))
}

/// A round grid step near `rough` degrees: 1, 2 or 5 times a power of ten.
fn nice_step(rough: f64) -> f64 {
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= rough).unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spelling::Spelling;

    /// Mollweide's forward and inverse projections agree, at the poles and across RA 0.
    #[test]
    fn the_projection_goes_both_ways() {
        let view = View::AllSky;
        let height = view.height();
        for (x, y) in [(720, 360), (100, 360), (1339, 200), (720, 2), (720, 717), (1000, 600)] {
            let (ra, dec) = view.position(x, y, height).unwrap();
            assert_eq!(view.pixel(ra, dec, height), Some((x, y)), "({ra}, {dec})");
        }
        assert_eq!(view.position(0, 0, height), None, "the corner is off the sky");
        let (ra, _) = view.position(WIDTH / 2, height / 2, height).unwrap();
        assert!((ra - 180.0).abs() < 0.2, "{ra}");
        // East to the left: RA grows leftwards.
        assert!(view.position(700, 360, height).unwrap().0 > view.position(740, 360, height).unwrap().0);
    }

    /// A footprint of a few cells gets a box around it, also across RA 0; one of most of the sky
    /// the whole sky.
    #[test]
    fn a_small_footprint_is_framed() {
        // A disc of 2 degrees, as cells of depth 8.
        let cells = |ra: f64, dec: f64| {
            let disc = cdshealpix::nested::cone_coverage_approx(
                8,
                f64::to_radians(ra),
                f64::to_radians(dec),
                2f64.to_radians(),
            );
            super::super::pixels::cells_from(8, disc.flat_iter().collect())
        };
        for (ra, dec) in [(40.0, 20.0), (0.05, -10.0), (359.95, 60.0)] {
            let view = View::around(&cells(ra, dec));
            let View::Box { ra_left, ra_span, dec_low, dec_high } = view else { panic!("{view:?}") };
            assert!(ra_span < 20.0 && dec_low < dec && dec < dec_high, "{view:?}");
            let height = view.height();
            let (x, y) = view.pixel(ra, dec, height).unwrap_or_else(|| panic!("({ra}, {dec}) off {view:?}"));
            let (back_ra, back_dec) = view.position(x, y, height).unwrap();
            assert!(
                (back_dec - dec).abs() < 1.0 && ((back_ra - ra + 180.0).rem_euclid(360.0) - 180.0).abs() < 1.0,
                "{ra_left}"
            );
        }
        let most = super::super::pixels::merged(0, std::iter::once(0..super::super::pixels::SKY_CELLS / 2));
        assert_eq!(View::around(&most), View::AllSky);
    }

    /// The guide's mask (fixtures/masks.toml) drawn and read back: its size, each layer's colour where the layer is
    /// (the LMC for the galaxies, the polygon across RA 0 for the region file, away from its
    /// hole), the sky where none is, and a legend swatch per layer.
    #[test]
    fn the_picture_shows_each_layer_where_it_is() {
        use crate::kernel::KernelChoice;
        use crate::mask::MaskSpec;
        let mask = Mask::read(
            &MaskSpec::read(Path::new("fixtures/masks.toml"), None, Spelling::CommandLine).unwrap(),
            KernelChoice::Auto,
        )
        .unwrap();
        let report = crate::mask::area::area(&mask, Some(8)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mask.png");
        write_png(&mask, &report, None, &path).unwrap().commit().unwrap();
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).unwrap();
        let map_height = View::AllSky.height();
        assert_eq!((info.width as usize, info.height as usize), (WIDTH, map_height + LINE * 6));
        let at = |x: usize, y: usize| -> [u8; 3] {
            let i = 3 * (y * WIDTH + x);
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        };
        let sky = |ra: f64, dec: f64| {
            let (x, y) = View::AllSky.pixel(ra, dec, map_height).unwrap();
            at(x, y)
        };
        assert_eq!(sky(80.894, -69.756), layer_colour(1, false), "the LMC");
        assert_eq!(sky(5.0, 3.0), layer_colour(2, false), "the polygon across RA 0");
        assert_eq!(sky(1.0, 0.7), SKY, "the polygon's hole");
        assert_eq!(sky(155.0, 45.5), SKY, "nothing there");
        assert_eq!(at(0, 0), PAPER, "off the sky");
        for bit in 0..3 {
            assert_eq!(at(LINE + 2, map_height + LINE / 2 + bit * LINE + 2), layer_colour(bit, false));
        }
    }

    /// A footprint (a MOC of a 5 degree disc, as `outside`) is framed, the rest of the sky in the
    /// footprint layer's faded colour, a circle inside it in its own.
    #[test]
    fn a_footprint_is_drawn_zoomed() {
        use crate::kernel::KernelChoice;
        use crate::mask::MaskSpec;
        let dir = tempfile::tempdir().unwrap();
        let disc =
            cdshealpix::nested::cone_coverage_approx(9, 40f64.to_radians(), (-30f64).to_radians(), 5f64.to_radians());
        let moc = dir.path().join("footprint.fits");
        let cells = super::super::pixels::cells_from(9, disc.flat_iter().collect());
        super::super::products::write_moc(&[cells], &moc).unwrap().commit().unwrap();
        std::fs::write(dir.path().join("star.csv"), "ra,dec\n41,-29\n").unwrap();
        let text = "[[layer]]\nname = \"star\"\nfile = \"star.csv\"\nradius = \"0.5deg\"\n\
                    [[layer]]\nname = \"footprint\"\nfile = \"footprint.fits\"\noutside = true\n";
        let toml = dir.path().join("mask.toml");
        std::fs::write(&toml, text).unwrap();
        let mask =
            Mask::read(&MaskSpec::read(&toml, None, Spelling::CommandLine).unwrap(), KernelChoice::Auto).unwrap();
        let (report, measured) = crate::mask::area::area_and_cells(&mask, Some(9)).unwrap();
        let path = dir.path().join("mask.png");
        write_png(&mask, &report, measured.footprint.as_ref(), &path).unwrap().commit().unwrap();
        let mut reader = png::Decoder::new(std::fs::File::open(&path).unwrap()).read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).unwrap();
        // The footprint the area measured is the mask's own.
        let footprint = mask.footprint().unwrap().unwrap();
        assert_eq!(footprint.moc_ranges(), measured.footprint.as_ref().unwrap().moc_ranges());
        let view = View::around(&footprint);
        assert!(matches!(view, View::Box { .. }), "{view:?}");
        let height = view.height();
        assert_eq!(info.height as usize, height + LINE * 5);
        let sky = |ra: f64, dec: f64| {
            let (x, y) = view.pixel(ra, dec, height).unwrap();
            let i = 3 * (y * WIDTH + x);
            [rgb[i], rgb[i + 1], rgb[i + 2]]
        };
        assert_eq!(sky(41.0, -29.0), layer_colour(0, false));
        assert_eq!(sky(37.0, -31.0), SKY);
        assert_eq!(sky(40.0, -35.6), layer_colour(1, true), "outside the footprint, faded");
    }

    #[test]
    fn grid_steps_are_round() {
        assert_eq!(nice_step(3.3), 5.0);
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(12.0), 20.0);
    }
}
