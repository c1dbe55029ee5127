//! Two rules checked on the source text of the library crates, `angcut-sky` (crates/sky: the
//! geometry and kernels) and `angcut` (crates/core: the rest, re-exporting the first's modules).
//!
//! The modules import one way: each may use only the modules listed before it in [`LAYERS`]
//! (docs/internals.md shows the same order). A `use crate::x` that points up the list, or a
//! module missing from it, fails here with the file and the import. That the geometry imports
//! nothing of the core, Cargo checks: `angcut-sky` does not depend on it.
//!
//! A message names an option only through `Spelling` or the `OptionNames`/`RadiusNames` tables,
//! never as a literal `--flag`: the same core serves the command line (`--batch-size`) and Python
//! (`batch_size=`), and a literal flag would reach Python users as it is.

use std::path::Path;

/// The top-level modules of both crates, lowest first: `angcut-sky`'s up to `positions`, then
/// `angcut`'s.
const LAYERS: &[&str] = &[
    "rng",
    "angle",
    "sky",
    "shape",
    "motion",
    "star_mask",
    "kernel",
    "positions",
    "error",
    "spelling",
    "columns",
    "io",
    "synthetic",
    "contaminants",
    "mask",
    "cut",
    "pipeline",
    "plan",
    "job",
    "randoms",
    "stats",
];

/// The crate-level names a module may mention whatever its layer: the crate's re-exports of
/// lower modules' types.
const REEXPORTS: &[(&str, &str)] = &[("Angle", "angle"), ("Error", "error")];

/// The modules `text` refers to as `crate::NAME`, outside comments and its test module.
fn imports(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut found = Vec::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let module = REEXPORTS.iter().find(|(item, _)| *item == name).map_or(name.clone(), |(_, m)| m.to_string());
            found.push(module);
        }
    }
    found
}

/// The source folders of the two library crates.
fn sources() -> [std::path::PathBuf; 2] {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    [core.join("../sky/src"), core.join("src")]
}

fn rust_files(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the source directory is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// What is wrong with the imports of the file of `module` whose text is `text`: a module missing
/// from [`LAYERS`], an import that points up the list, or one of no module.
fn violations(file: &str, module: &str, text: &str) -> Vec<String> {
    let Some(layer) = LAYERS.iter().position(|m| *m == module) else {
        return vec![format!("{file}: module '{module}' is not in LAYERS")];
    };
    imports(text)
        .into_iter()
        .filter_map(|import| match LAYERS.iter().position(|m| *m == import) {
            Some(at) if at <= layer => None,
            Some(_) => Some(format!("{file}: '{module}' imports '{import}', a layer above it")),
            None => Some(format!("{file}: imports 'crate::{import}', which is no module")),
        })
        .collect()
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let mut wrong = Vec::new();
    for src in sources() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        assert!(files.len() > 10, "the sources in {} were found: {}", src.display(), files.len());
        for file in &files {
            let relative = file.strip_prefix(&src).expect("below src");
            let module = relative.components().next().expect("a file").as_os_str().to_string_lossy().replace(".rs", "");
            if module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(file).expect("a readable source file");
            wrong.extend(violations(&relative.display().to_string(), &module, &text));
        }
    }
    assert!(wrong.is_empty(), "imports against the layering:\n{}", wrong.join("\n"));
}

#[test]
fn the_check_sees_an_import_that_points_up() {
    let text = "use crate::sky::UnitVector;\n// use crate::job::nothing;\nfn f() -> crate::Angle { todo!() }\n#[cfg(test)]\nmod tests {\n    use crate::job::Summary;\n}\n";
    assert_eq!(imports(text), vec!["sky".to_string(), "angle".to_string()]);
    // The same imports are fine in a module above them, refused in one below, and a module or
    // an import that is not in the list is named.
    assert!(violations("kernel/mod.rs", "kernel", text).is_empty());
    assert_eq!(violations("angle.rs", "angle", text), ["angle.rs: 'angle' imports 'sky', a layer above it"]);
    assert_eq!(violations("new.rs", "new", text), ["new.rs: module 'new' is not in LAYERS"]);
    assert_eq!(
        violations("job.rs", "job", "use crate::nowhere::X;\n"),
        ["job.rs: imports 'crate::nowhere', which is no module"]
    );
}

/// The tables of the command line's names, where flags are written out on purpose.
const FLAG_TABLES: &[&str] = &["pub const COMMAND_LINE: RadiusNames", "pub const COMMAND_LINE: OptionNames"];

/// The string literals of `text` (outside comments, its test module and [`FLAG_TABLES`]) that
/// name a `--flag`, with their line numbers.
fn literal_flags(text: &str) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut found = Vec::new();
    let mut in_table = false;
    for (number, line) in code.lines().enumerate() {
        if FLAG_TABLES.iter().any(|table| line.contains(table)) {
            in_table = true;
        }
        if in_table {
            in_table = line.trim() != "};";
            continue;
        }
        if line.trim_start().starts_with("//") {
            continue;
        }
        // The text between each pair of quotes: good enough for the core's one-line literals.
        for (i, piece) in line.split('"').enumerate() {
            let names_a_flag = piece.match_indices("--").any(|(at, _)| {
                let before = piece[..at].chars().next_back();
                let after = piece[at + 2..].chars().next();
                before.is_none_or(|c| c.is_whitespace() || "('`,;[".contains(c))
                    && after.is_some_and(|c| c.is_ascii_lowercase())
            });
            if i % 2 == 1 && names_a_flag {
                found.push((number + 1, piece.to_string()));
            }
        }
    }
    found
}

#[test]
fn messages_name_options_only_as_the_caller_spells_them() {
    let mut wrong = Vec::new();
    for src in sources() {
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for file in &files {
            let text = std::fs::read_to_string(file).expect("a readable source file");
            for (line, literal) in literal_flags(&text) {
                wrong.push(format!("{}:{line}: \"{literal}\"", file.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "flags written as literals (spell them through Spelling or OptionNames):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_check_sees_a_literal_flag() {
    let text = "fn f() -> String {\n    // give --epoch\n    format!(\"add epoch or give --epoch\")\n}\n\
                pub const COMMAND_LINE: OptionNames = OptionNames {\n    ra: \"--contaminant-ra\",\n};\n\
                fn g() { let _ = (\"a -- b\", \"x--y\", \"--\", \"(--ra)\"); }\n\
                #[cfg(test)]\nmod tests {\n    const T: &str = \"--masks\";\n}\n";
    assert_eq!(literal_flags(text), [(3, "add epoch or give --epoch".to_string()), (8, "(--ra)".to_string())]);
}
