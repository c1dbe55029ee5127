//! Arbitrary text into every parser of the command line's values: angles (with and without the
//! maxsep range), star-mask power laws, compression names, output formats, kernels, policies.
//! None may panic; what they accept must be what they promise.
#![no_main]

use std::str::FromStr;

use angcut::io::write::{OutputCompression, OutputFormat};
use angcut::star_mask::PowerLaw;
use angcut::{Angle, KernelChoice, OnInvalid, SearchRadius};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(maxsep) = SearchRadius::parse(text) {
        let degrees = maxsep.angle().degrees();
        assert!(degrees > 0.0 && degrees <= 180.0, "maxsep {text:?} accepted as {degrees} deg");
    }
    if let Ok(angle) = Angle::from_str(text) {
        assert!(angle.radians().is_finite(), "angle {text:?} accepted as {angle:?}");
        // What an angle prints, it reads back.
        let again: Angle = angle.to_string().parse().expect("an angle's own text parses");
        assert!((again.radians() - angle.radians()).abs() <= 1e-12 * angle.radians().abs().max(1.0));
    }
    let _ = PowerLaw::from_str(text);
    let _ = OutputCompression::from_str(text);
    let _ = OutputFormat::from_str(text);
    let _ = KernelChoice::from_str(text);
    let _ = OnInvalid::from_str(text);
});
