//! Pixel-map layers (HealSparse, HEALPix, MOC) in `--masks`, end to end: their bits beside a
//! circle layer's, the layers that cut, and the mistakes, against what healsparse, healpy and
//! mocpy said of the same points (fixtures/pixels/points.csv, made by fixtures/make_pixels.py).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, UInt8Array};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::support::*;
use angcut::sky::separation_deg;

/// The reference points: position and each reference column, in file order.
fn points() -> Vec<HashMap<String, f64>> {
    let text = std::fs::read_to_string(fixture("pixels/points.csv")).unwrap();
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines.map(|l| names.iter().zip(l.split(',')).map(|(n, v)| (n.to_string(), v.parse().unwrap())).collect()).collect()
}

/// Two circles, away from the pixel discs' centres.
const CIRCLES: [(f64, f64, f64); 2] = [(12.0, 21.0, 1.5), (300.0, 40.0, 5.0)];

/// A mask of a circle layer (bit 0) and six pixel layers (bits 1-6) in `dir`.
fn mask_file(dir: &Path) -> PathBuf {
    let circles = dir.join("circles.csv");
    let rows: String = CIRCLES.iter().map(|(ra, dec, r)| format!("{ra},{dec},{r}\n")).collect();
    std::fs::write(&circles, format!("ra,dec,r_deg\n{rows}")).unwrap();
    let pixels = fixture("pixels");
    let layer = |name: &str, file: &str, keys: &str| {
        format!("[[layer]]\nname = \"{name}\"\nfile = \"{}\"\n{keys}\n", pixels.join(file).display())
    };
    let text = [
        "[[layer]]\nname = \"circle\"\nfile = \"circles.csv\"\nradius_col = \"r_deg\"\nradius_unit = \"deg\"\n".into(),
        layer("discs", "bool.hsp", ""),
        layer("bits", "int.hsp", "bits = [0, 3]"),
        layer("shallow", "depth.hsp", "below = 24.5"),
        layer("wide", "wide.hsp", "bits = [3, 10]"),
        layer("ring", "ring.fits", "above = 2.5"),
        layer("outside", "discs.moc.json", "outside = true"),
    ]
    .join("\n");
    let path = dir.join("pixels.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The bits the references give each point, for the mask of [`mask_file`].
fn expected(point: &HashMap<String, f64>) -> u8 {
    let circle = CIRCLES.iter().any(|&(ra, dec, r)| separation_deg(point["ra"], point["dec"], ra, dec) < r);
    let unseen = -1.0e30;
    let int = point["int"] as i64;
    [
        circle,
        point["bool"] == 1.0,
        int > 0 && int & 0b1001 != 0,
        point["depth"] > unseen && point["depth"] < 24.5,
        point["wide_3_10"] == 1.0,
        point["ring"] > 2.5,
        point["moc"] == 0.0,
    ]
    .iter()
    .enumerate()
    .map(|(bit, &held)| u8::from(held) << bit)
    .sum()
}

/// `angcut stream` of the reference points into `out` against the mask file `mask`.
fn run(mask: &Path, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    angcut().arg("stream").arg(fixture("pixels/points.csv")).arg(out).arg("--masks").arg(mask).args(extra).assert()
}

fn bits(path: &Path) -> Vec<u8> {
    let batch = read_parquet(path);
    let array = batch.column_by_name("maskbits").unwrap().as_any().downcast_ref::<UInt8Array>().unwrap().clone();
    assert_eq!(array.null_count(), 0);
    array.values().to_vec()
}

#[test]
fn pixel_layers_set_the_bits_the_reference_tools_give_beside_shape_layers() {
    let dir = tempfile::tempdir().unwrap();
    let mask = mask_file(dir.path());
    let points = points();
    let expected: Vec<u8> = points.iter().map(expected).collect();
    for bit in 0..7 {
        let held = expected.iter().filter(|b| *b & (1 << bit) != 0).count();
        assert!(held > 20 && held < points.len() - 20, "bit {bit}: {held} of {}", points.len());
    }
    for kernel in ["naive", "grid"] {
        let out = dir.path().join(format!("{kernel}.parquet"));
        run(&mask, &out, &["--mask-bits", "maskbits", "--kernel", kernel])
            .success()
            .stderr(contains("discs "))
            .stderr(contains("(HealSparse, nside 1024,"));
        let found = bits(&out);
        assert_eq!(found.len(), points.len());
        for (i, (f, e)) in found.iter().zip(&expected).enumerate() {
            assert_eq!(f, e, "{kernel}: point {i} at ({}, {})", points[i]["ra"], points[i]["dec"]);
        }
    }
}

#[test]
fn pixel_layers_cut_as_other_layers_do() {
    let dir = tempfile::tempdir().unwrap();
    let mask = mask_file(dir.path());
    let points = points();
    let expected: Vec<u8> = points.iter().map(expected).collect();
    let out = dir.path().join("cut.parquet");
    run(&mask, &out, &["--cut-layers", "discs,circle", "--mask-bits", "maskbits"]).success();
    let kept = bits(&out);
    let want: Vec<u8> = expected.iter().copied().filter(|b| b & 0b11 == 0).collect();
    assert!(want.len() > 100 && want.len() < points.len() - 100, "{}", want.len());
    assert_eq!(kept, want);
}

#[test]
fn mistakes_with_pixel_layers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    mask_file(dir.path()); // its circles.csv: a catalogue that `outside` does not apply to
    let run_toml = |toml: &str| {
        let mask = dir.path().join("m.toml");
        std::fs::write(&mask, toml).unwrap();
        run(&mask, &dir.path().join("out.parquet"), &[])
    };
    let map = |file: &str| fixture("pixels").join(file).display().to_string();
    let layer = |file: &str, keys: &str| format!("[[layer]]\nname = \"p\"\nfile = \"{}\"\n{keys}\n", map(file));
    for (toml, message) in [
        (layer("bool.hsp", "bits = [1]"), "bits apply to integer and wide-mask maps"),
        (layer("bool.hsp", "radius = \"1deg\""), "radius does not apply to a pixel map"),
        (layer("depth.hsp", "below = 24.0\nabove = 23.0"), "below must not exceed above"),
        (layer("int.hsp", "bits = [-1]"), "bits: -1 is not a bit number"),
        ("[[layer]]\nname = \"p\"\nfile = \"circles.csv\"\noutside = true\n".into(), "outside applies to pixel maps"),
    ] {
        run_toml(&toml).code(2).stderr(contains(message));
    }
    // A map given as the mask file itself: pointed to a [[layer]].
    run(&fixture("pixels/bool.hsp"), &dir.path().join("out.parquet"), &[])
        .code(2)
        .stderr(contains("bool.hsp: a pixel map, not a mask file: name it in a [[layer]]"));
    // A damaged map: exit 1 naming it, and no output left behind.
    let mut bytes = std::fs::read(fixture("pixels/int.hsp")).unwrap();
    bytes[2880..2888].copy_from_slice(&(1i64 << 40).to_be_bytes());
    let damaged = dir.path().join("damaged.hsp");
    std::fs::write(&damaged, bytes).unwrap();
    run_toml(&format!("[[layer]]\nname = \"p\"\nfile = \"{}\"\n", damaged.display()))
        .code(1)
        .stderr(contains("damaged.hsp: the COV map points past"));
    assert!(!dir.path().join("out.parquet").exists());
}

/// `angcut area`: pixel layers exact against healsparse's `get_valid_area` and mocpy's
/// `sky_fraction` (fixtures/pixels/areas.csv), a circle layer bounded, the cumulative column,
/// JSON; ellipse and region layers bounded.
#[test]
fn area_reports_each_layer_their_union_and_the_cumulative_area() {
    let dir = tempfile::tempdir().unwrap();
    let mask = mask_file(dir.path());
    let references = std::fs::read_to_string(fixture("pixels/areas.csv")).unwrap();
    let reference = |name: &str| -> f64 {
        references.lines().find_map(|l| l.strip_prefix(&format!("{name},"))).unwrap().parse().unwrap()
    };
    let out = angcut().arg("area").arg("--masks").arg(&mask).args(["--json", "--order", "12"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = String::from_utf8(out.stdout).unwrap();
    let layer = |name: &str| json.lines().find(|l| l.contains(&format!("\"name\": \"{name}\""))).unwrap().to_string();
    let best = |line: &str| -> f64 {
        let at = line.find("\"best_deg2\": ").unwrap() + 13;
        line[at..].split([',', '}']).next().unwrap().parse().unwrap()
    };
    assert!((best(&layer("discs")) - reference("bool.hsp")).abs() < 1e-9, "{}", layer("discs"));
    assert!(layer("discs").contains("\"exact\": true") && layer("circle").contains("\"exact\": false"));
    let circles: f64 = CIRCLES
        .iter()
        .map(|&(_, _, r)| {
            2.0 * std::f64::consts::PI * (1.0 - r.to_radians().cos()) * (180.0 / std::f64::consts::PI).powi(2)
        })
        .sum();
    assert!((best(&layer("circle")) - circles).abs() / circles < 1e-3, "{} vs {circles}", layer("circle"));
    assert!(json.contains("\"order\": 12"));
    let table = angcut().arg("area").arg("--masks").arg(&mask).args(["--order", "10"]).output().unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.lines().any(|l| l.starts_with("discs ") && l.contains("exact")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("union ")), "{table}");
    // Ellipse and region layers (the README's mask: galaxies, a DS9 file with a hole) are bounded
    // too; their truths are checked in mask/area.rs.
    let out = angcut()
        .arg("area")
        .arg("--masks")
        .arg(fixture("masks.toml"))
        .args(["--order", "12", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = String::from_utf8(out.stdout).unwrap();
    for name in ["galaxy", "region"] {
        let line = json.lines().find(|l| l.contains(&format!("\"name\": \"{name}\""))).unwrap();
        let number = |key: &str| -> f64 {
            let at = line.find(&format!("\"{key}\": ")).unwrap() + key.len() + 4;
            line[at..].split([',', '}']).next().unwrap().parse().unwrap()
        };
        let (lower, best, upper) = (number("lower_deg2"), number("best_deg2"), number("upper_deg2"));
        assert!(lower < best && best < upper && best > 50.0, "{line}");
    }
}

/// `angcut randoms`: with a mask and --mask-bits, the points and bits `angcut stream` gives the
/// same points drawn unmasked (same seed, one thread) through the same mask; other formats; the
/// mistakes.
#[test]
fn randoms_get_the_bits_the_data_get_from_the_same_mask() {
    let dir = tempfile::tempdir().unwrap();
    let mask = mask_file(dir.path());
    let path = |name: &str| dir.path().join(name);
    let randoms = |out: &Path, extra: &[&str]| {
        angcut().arg("randoms").arg(out).args(["--rows", "30000", "--seed", "8"]).args(extra).assert()
    };
    let stats = path("stats.json");
    let stats_flag = ["--stats-json", stats.to_str().unwrap()];
    randoms(
        &path("masked.parquet"),
        &["--masks", mask.to_str().unwrap(), "--mask-bits", "bits", stats_flag[0], stats_flag[1]],
    )
    .success()
    .stderr(contains("drew 30000 randoms in the footprint's 123.3303 deg2 (seed 8)"));
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(
        json.contains("\"randoms\": {\"seed\": 8, \"rows\": 30000, \"area_deg2\": 123.33")
            && json.contains("\"footprint\": true"),
        "{json}"
    );
    // The mask's `outside` layer makes a footprint that the randoms are drawn in: the same
    // points unmasked are drawn with the same mask, cutting only the layer no random is in.
    let footprint = ["--masks", mask.to_str().unwrap(), "--cut-layers", "outside", "--threads", "1"];
    randoms(&path("plain.parquet"), &footprint).success();
    angcut()
        .arg("stream")
        .arg(path("plain.parquet"))
        .arg(path("streamed.parquet"))
        .arg("--masks")
        .arg(&mask)
        .args(["--mask-bits", "bits"])
        .assert()
        .success();
    let (masked, streamed) = (read_parquet(&path("masked.parquet")), read_parquet(&path("streamed.parquet")));
    assert_eq!(masked.columns(), streamed.columns());
    let bits = masked.column_by_name("bits").unwrap().as_any().downcast_ref::<UInt8Array>().unwrap();
    // Bit 0 (the circles) and bit 1 (the discs map) both set on some randoms.
    assert!(bits.values().iter().any(|b| b & 1 == 1) && bits.values().iter().any(|b| b & 2 == 2));

    // Any output format: CSV here, the same points.
    randoms(&path("r.csv"), &footprint).success();
    let csv = std::fs::read_to_string(path("r.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("ra,dec"));
    let first: Vec<f64> = lines.next().unwrap().split(',').map(|v| v.parse().unwrap()).collect();
    let plain = positions(&path("plain.parquet"));
    assert_eq!((first[0], first[1]), plain[0]);
    assert_eq!(csv.lines().count(), 30_001);

    // Without a mask: the whole sky, and no cut to speak of.
    angcut().arg("randoms").arg(path("sky.parquet")).args(["--rows", "5"]).assert().success().stderr(
        contains("drew 5 randoms in the whole sky's 41252.9612 deg2 (seed 1); wrote 5 in")
            .and(contains("kernel").not()),
    );
    let refused = |args: &[&str], message: &str| {
        angcut()
            .arg("randoms")
            .arg(path("bad.parquet"))
            .args(args)
            .assert()
            .code(2)
            .stderr(contains(message.to_string()));
    };
    refused(&[], "--rows");
    refused(&["--rows", "5", "--density", "3"], "cannot be used with");
    refused(&["--density", "0"], "--density 0: give a positive number");
    refused(&["--rows", "5", "--mask-bits", "bits"], "--masks, which is not given");
    // A mask that cannot be read fails (exit 1) and writes nothing.
    std::fs::write(path("broken.toml"), "[[layer]]\nname = \"x\"\nfile = \"missing.hsp\"\n").unwrap();
    angcut()
        .arg("randoms")
        .arg(path("bad.parquet"))
        .args(["--rows", "5", "--masks"])
        .arg(path("broken.toml"))
        .assert()
        .failure()
        .stderr(contains("missing.hsp"));
    assert!(!path("bad.parquet").exists());
}
