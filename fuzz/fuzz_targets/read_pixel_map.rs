//! Arbitrary bytes as a pixel-map mask layer (HealSparse, HEALPix FITS, MOC FITS/ASCII/JSON),
//! opened by content with each kind of rule and looked up at points over the whole sky (so a
//! HealSparse map's blocks are read as objects reach them). Every failure must be an `Err`
//! naming the file: a panic, an abort, a hang or a memory blow-up is a finding.
#![no_main]

use std::sync::Once;

use angcut::mask::pixels::{PixelMap, PixelRule, cell_of};
use angcut::unit_vector;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static SILENT_HOOK: Once = Once::new();
    SILENT_HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("layer.hsp");
    std::fs::write(&path, data).expect("write the input");
    let rules = [
        PixelRule::default(),
        PixelRule { bits: Some(vec![0, 9]), ..PixelRule::default() },
        PixelRule { below: Some(24.5), outside: true, ..PixelRule::default() },
    ];
    for rule in &rules {
        let Ok(map) = PixelMap::open(&path, rule) else { continue };
        for ra in (0..360).step_by(15) {
            for dec in (-90..=90).step_by(15) {
                if let Err(error) = map.holds(cell_of(&unit_vector(f64::from(ra), f64::from(dec)))) {
                    assert!(error.to_string().contains("layer.hsp"), "{error}");
                    break;
                }
            }
        }
    }
});
