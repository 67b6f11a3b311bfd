#![cfg(feature = "full")]
//! The patch harness's `materialize` mode, end to end: it writes hyper 0.14.32 with this
//! project's patches applied, prints the `[patch.crates-io]` lines, and a small hyper-0.14
//! service built against that copy (`tests/patched_upstream/hyper014-app`) serves a client
//! that reads 16 KiB every 0.3 ms a 4 MiB response, Full and chunked, every byte intact.
//! (On pristine 0.14.32 the same app receives about 219 KB; `patches/README.md` shows the
//! harness's `verify` table.)
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn hyper_0_14_app_on_the_materialized_patched_release_serves_a_slow_reader_in_full() {
    let target = root().join("target/materialized/hyper-0.14.32");
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--manifest-path"])
        .arg(root().join("patches/harness/Cargo.toml"))
        .args(["--", "materialize", "0.14.32"])
        .arg(&target)
        .env(
            "CARGO_TARGET_DIR",
            root().join("target/patches/harness-bin"),
        )
        .output()
        .expect("cargo runs the harness");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "materialize failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = format!(
        "[patch.crates-io]\nhyper = {{ path = \"{}\" }}",
        target.canonicalize().unwrap().display()
    );
    assert!(stdout.contains(&expected), "printed:\n{stdout}");

    let app = root().join("tests/patched_upstream/hyper014-app/Cargo.toml");
    let cargo = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(args)
            .arg("--manifest-path")
            .arg(&app)
            .env("CARGO_TARGET_DIR", root().join("target/downstream"));
        cmd.output().expect("cargo runs")
    };
    let tree = cargo(&["tree", "--quiet", "--invert", "hyper", "--depth", "0"]);
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(
        tree.contains(&format!("hyper v0.14.32 ({})", target.display())),
        "the app does not link the materialized copy:\n{tree}"
    );
    let run = cargo(&["run", "--quiet"]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success() && stdout.contains("hyper014-app: ok"),
        "the app failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
