//! The guide keeps its promises: every relative link and `#anchor` in the README and `docs/`
//! resolves; every `sh` and `console` block runs as written on a copy of the fixtures (a
//! `console` block's output, with `[..]` for what varies, and its exit code as shown); every
//! `toml` block is the file it names; and the command-line reference lists exactly the options
//! that `--help` prints. Blocks marked `norun` show files the reader does not have; any other
//! language is refused, so no example escapes the tests by accident. (`python` blocks are run by
//! python/tests/test_docs.py, Rust blocks as doctests from crates/core/src/lib.rs.)

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Markdown files whose links are checked: the front page, the guide, and the READMEs they
/// point into.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    pages.extend(["README.md", "fixtures/README.md", "fuzz/README.md"].map(|p| repo().join(p)));
    pages
}

/// The pages whose blocks are run: the front page and the guide.
fn guide_pages() -> Vec<PathBuf> {
    pages().into_iter().filter(|p| !p.ends_with("fixtures/README.md") && !p.ends_with("fuzz/README.md")).collect()
}

/// A fenced code block: where it starts, its info string's words, its text.
struct Block {
    line: usize,
    info: Vec<String>,
    text: String,
}

impl Block {
    fn lang(&self) -> &str {
        self.info.first().map_or("", String::as_str)
    }
    fn runs(&self) -> bool {
        !self.info.iter().any(|word| word == "norun")
    }
}

/// The fenced blocks of a page, and its other lines (with their numbers) for links and headings.
fn parse(text: &str) -> (Vec<Block>, Vec<(usize, &str)>) {
    let mut blocks = Vec::new();
    let mut prose = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                let info = info.split_whitespace().map(str::to_string).collect();
                open = Some(Block { line: i + 1, info, text: String::new() });
            }
            (Some(_), Some("")) => blocks.push(open.take().expect("a block is open")),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => prose.push((i + 1, line)),
        }
    }
    assert!(open.is_none(), "a code block is never closed");
    (blocks, prose)
}

/// A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings (a repeated heading's gets -1, -2... as on GitHub).
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for (_, line) in parse(text).1 {
        let Some(heading) = line.strip_prefix('#').map(|h| h.trim_start_matches('#')) else { continue };
        let base = slug(heading);
        let mut anchor = base.clone();
        let mut n = 0;
        while !seen.insert(anchor.clone()) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
    }
    seen
}

/// The link targets on a line, outside inline code: `[text](target)`.
fn links(line: &str) -> Vec<String> {
    let mut targets = Vec::new();
    // Even segments between backticks are prose; odd ones are code spans.
    for prose in line.split('`').step_by(2) {
        let mut rest = prose;
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            targets.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    targets
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (number, line) in parse(&text).1 {
            for target in links(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
                let file = if path.is_empty() { page.clone() } else { page.parent().unwrap().join(path) };
                let at = format!("{}:{number}: ({target})", page.strip_prefix(repo()).unwrap().display());
                if !file.exists() {
                    broken.push(format!("{at}: no such file"));
                } else if !anchor.is_empty() {
                    let target_text = std::fs::read_to_string(&file).unwrap_or_default();
                    if !anchors(&target_text).contains(anchor) {
                        broken.push(format!("{at}: no heading makes #{anchor}"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked > 50, "only {checked} relative links found: is the scanner broken?");
}

#[test]
fn the_link_checker_finds_broken_links() {
    // The checker itself, on a page made to fail: a missing file, a missing anchor, code ignored.
    let page = "# Top\n\n## A `code` heading: yes\n\nsee [x](#a-code-heading-yes), [y](#nope), `[z](#nope2)`\n";
    let found = anchors(page);
    assert!(found.contains("top") && found.contains("a-code-heading-yes"), "{found:?}");
    let targets = links(page.lines().nth(4).unwrap());
    assert_eq!(targets, ["#a-code-heading-yes", "#nope"]);
    assert!(!found.contains("nope"));
    assert_eq!(anchors("## Same\n## Same\n"), HashSet::from(["same".to_string(), "same-1".to_string()]));
}

/// A fresh directory holding a copy of the fixtures, where a page's examples run.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("fixtures"), &dir.path().join("fixtures"));
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// Runs shell text with the `angcut` under test first on PATH; `cargo run --release --` in the
/// front page's set-up command is that binary too. Returns the exit code and stderr + stdout.
fn shell(dir: &Path, script: &str) -> (i32, String) {
    let bin = assert_cmd::cargo::cargo_bin("angcut");
    let path = format!("{}:{}", bin.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let script = script.replace("cargo run --release -- ", "angcut ");
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c"])
        .arg(format!("exec 2>&1\n{script}"))
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .expect("bash runs");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether an output line matches an expected one, where `[..]` stands for any text.
fn matches(expected: &str, actual: &str) -> bool {
    let mut parts = expected.split("[..]");
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = actual.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Runs a `console` block: each `$ ` line is a command, the lines after it its expected output,
/// `[exit N]` its exit code (0 if absent).
fn run_console(dir: &Path, block: &Block, at: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let mut commands: Vec<(String, Vec<String>)> = Vec::new();
    for line in block.text.lines() {
        match line.strip_prefix("$ ") {
            Some(command) => commands.push((command.to_string(), Vec::new())),
            None => match commands.last_mut() {
                Some((_, expected)) => expected.push(line.to_string()),
                None => failures.push(format!("{at}: output before any `$ ` command")),
            },
        }
    }
    for (command, mut expected) in commands {
        let mut code = 0;
        if let Some(last) = expected.last().and_then(|l| l.strip_prefix("[exit ")).and_then(|l| l.strip_suffix(']')) {
            code = last.parse().expect("[exit N] holds a number");
            expected.pop();
        }
        let (actual_code, output) = shell(dir, &command);
        let actual: Vec<&str> = output.lines().collect();
        let same = actual.len() == expected.len() && expected.iter().zip(&actual).all(|(e, a)| matches(e, a));
        if !same || actual_code != code {
            failures.push(format!(
                "{at}: `{command}`: exit {actual_code} (expected {code}), printed:\n{output}expected:\n{}",
                expected.join("\n")
            ));
        }
    }
    failures
}

#[test]
fn every_example_runs_as_written() {
    let mut failures = Vec::new();
    let mut ran = 0;
    for page in guide_pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let dir = workdir();
        let name = page.strip_prefix(repo()).unwrap().display().to_string();
        for block in parse(&text).0 {
            let at = format!("{name}:{}", block.line);
            match block.lang() {
                "sh" | "console" | "toml" if !block.runs() => {}
                "sh" => {
                    let (code, output) = shell(dir.path(), &block.text);
                    if code != 0 {
                        failures.push(format!("{at}: exit {code}:\n{output}"));
                    }
                    ran += 1;
                }
                "console" => {
                    failures.extend(run_console(dir.path(), &block, &at));
                    ran += 1;
                }
                "toml" => match block.info.get(1) {
                    Some(file) if std::fs::read_to_string(repo().join(file)).ok().as_deref() == Some(&block.text) => {}
                    Some(file) => failures.push(format!("{at}: the block is not {file} as it is")),
                    None => failures.push(format!("{at}: a toml block names the file it shows")),
                },
                "python" | "rust" | "text" => {}
                other => failures
                    .push(format!("{at}: a `{other}` block is not run: say norun or use a language the tests run")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(ran > 15, "only {ran} blocks ran");
}

#[test]
fn console_output_is_matched_with_wildcards() {
    assert!(matches("read [..] rows in [..] s", "read 20 rows in 0.1 s"));
    assert!(matches("exact", "exact"));
    assert!(!matches("exact", "exactly"));
    assert!(!matches("read [..] rows", "read 20 rows, more"));
    assert!(matches("[..]", "anything"));
    let dir = tempfile::tempdir().unwrap();
    let block = Block { line: 1, info: vec!["console".into()], text: "$ echo hi; exit 3\nhi\n[exit 3]\n".into() };
    assert!(run_console(dir.path(), &block, "t").is_empty());
    let wrong = Block { line: 1, info: vec!["console".into()], text: "$ echo hi\nho\n".into() };
    assert_eq!(run_console(dir.path(), &wrong, "t").len(), 1);
}

/// The long options an `--help` lists (its option lines, not its prose).
fn help_options(subcommand: &str) -> HashSet<String> {
    let out = assert_cmd::Command::cargo_bin("angcut").unwrap().args([subcommand, "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let line = line.strip_prefix("-q, ").or_else(|| line.strip_prefix("-c, ")).unwrap_or(line);
            let option = line.strip_prefix("--")?.split([' ', '\t']).next()?;
            (option != "help").then(|| format!("--{option}"))
        })
        .collect()
}

/// The long options the reference's table for a subcommand names (first column).
fn documented_options(reference: &str, subcommand: &str) -> HashSet<String> {
    let heading = format!("## angcut {subcommand}\n");
    let start = reference.find(&heading).unwrap_or_else(|| panic!("docs/cli.md has no '{heading}'"));
    let section = &reference[start + heading.len()..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut options = HashSet::new();
    for row in section.lines().filter(|l| l.starts_with('|')) {
        let first = row.split(" | ").next().unwrap_or("");
        for word in first.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if word.starts_with("--") && word[2..].starts_with(|c: char| c.is_ascii_lowercase()) {
                options.insert(word.to_string());
            }
        }
    }
    options
}

#[test]
fn the_reference_lists_exactly_what_help_prints() {
    let reference = std::fs::read_to_string(repo().join("docs/cli.md")).unwrap();
    for subcommand in ["stream", "randoms", "area", "gen"] {
        let help = help_options(subcommand);
        let documented = documented_options(&reference, subcommand);
        assert!(help.len() >= 4, "{subcommand}: {help:?}");
        let missing: Vec<_> = help.difference(&documented).collect();
        let stale: Vec<_> = documented.difference(&help).collect();
        assert!(
            missing.is_empty() && stale.is_empty(),
            "docs/cli.md, angcut {subcommand}: not documented {missing:?}; documented but not in --help {stale:?}"
        );
    }
}
