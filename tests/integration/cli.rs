//! The command line as people expect it (ripgrep's way): `--version` naming the build, shell
//! completions and man pages generated from the same definitions as the flags.

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use crate::support::*;

#[test]
fn version_names_the_commit_and_target() {
    let out = angcut().arg("--version").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(text.starts_with(&format!("angcut {} (commit ", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(text.contains("linux") || text.contains("darwin") || text.contains("windows"), "{text}");
}

#[test]
fn completions_cover_every_subcommand_and_flag() {
    let bash = angcut().args(["completions", "bash"]).output().unwrap();
    let bash = String::from_utf8(bash.stdout).unwrap();
    for word in ["_angcut", "randoms", "area", "--maxsep", "--mask-bits", "--healsparse", "--density"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    angcut().args(["completions", "zsh"]).assert().success().stdout(contains("#compdef angcut"));
    angcut().args(["completions", "fish"]).assert().success().stdout(contains("complete -c angcut"));
    angcut().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn man_pages_are_roff_for_angcut_and_each_subcommand() {
    angcut().arg("man").assert().success().stdout(contains(".SH NAME").and(contains("randoms")));
    let stream = angcut().args(["man", "stream"]).output().unwrap();
    let page = String::from_utf8(stream.stdout).unwrap();
    assert!(page.contains(".TH angcut\\-stream 1") || page.contains(".TH angcut-stream 1"), "{}", &page[..300]);
    assert!(page.contains("\\-\\-maxsep") && page.contains("\\-\\-cut\\-layers"));
    angcut()
        .args(["man", "nope"])
        .assert()
        .code(2)
        .stderr(contains("'nope' is no subcommand of angcut: stream, randoms"));
}

/// The help names what angcut reads and writes, from the same lists the code uses.
#[test]
fn help_names_every_format() {
    let out = angcut().args(["stream", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let formats = angcut::io::formats::written_names();
    assert!(help.contains(&format!("Output format: {formats}")) && formats.contains("votable"), "{help}");
    assert!(help.contains(&angcut::io::formats::written_extensions()), "{help}");
    // The positional and contaminant help are built from the same table as the reader's and
    // writer's own messages, so a format added to it shows up here.
    let read = angcut::io::formats::formats_read();
    assert!(read.contains("VOTable") && read.contains("IPAC"), "{read}");
    assert!(help.contains(&format!("IN OUT: the object catalogue to cut ({read}, recognised by content;")), "{help}");
    let written = format!("format from the name: {}, or --output-format", angcut::io::formats::written_extensions());
    assert!(help.contains(&written) && written.contains(".vot"), "{help}");
    assert!(help.contains(&format!("The contaminant positions: {read}")), "{help}");
    let globs = angcut::io::formats::parquet_globs();
    assert!(globs.contains("*.parq") && help.contains(&globs), "{help}");
}

/// `angcut formats` prints the one formats table, and docs/formats.md shows exactly it: a row
/// added to the code (or a help line changed) fails here until the page has it.
#[test]
fn formats_prints_the_table_the_guide_shows() {
    let out = angcut().arg("formats").output().unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 2 + angcut::io::formats::FORMATS.len());
    for name in ["Parquet", "VOTable", "IPAC table", "HealSparse map", "DS9 region file", "HDF5"] {
        assert!(rows.iter().any(|row| row.starts_with(&format!("| {name} |"))), "{name}: {table}");
    }
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/formats.md")).unwrap();
    assert!(guide.contains(&table), "docs/formats.md does not show `angcut formats` as it prints now:\n{table}");
}
