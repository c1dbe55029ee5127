//! Names the build for `angcut --version`: the package version, the commit it was built from
//! (with `-dirty` if the work tree had changes) and the target, so that a bug report says which
//! angcut it is about. Without git (a source tarball), the commit is `unknown`.

use std::process::Command;

fn main() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|text| text.trim().to_string())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let target = std::env::var("TARGET").unwrap_or_default();
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let dirty = if dirty { "-dirty" } else { "" };
    println!("cargo:rustc-env=ANGCUT_VERSION={version} (commit {commit}{dirty}, {target})");
    // Built again when the commit changes (HEAD moves, or the branch it names does).
    for path in [".git/HEAD", ".git/index"] {
        println!("cargo:rerun-if-changed={path}");
    }
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        println!("cargo:rerun-if-changed=.git/{reference}");
    }
}
