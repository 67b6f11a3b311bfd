#![cfg(feature = "full")]
//! Real downstream applications that speak HTTP/2 through the fork, switched to it with the
//! one-entry `[patch.crates-io]` the README gives users, built and run.
//!
//! The apps live in `tests/downstream/{auto-app,reqwest-h2-app,tonic-app}`: standalone crates
//! with their own lockfiles. Each test first asks `cargo tree` which `hyper` the app resolved
//! (it must be this checkout, not crates.io), then runs the app, which serves and sends real
//! requests over loopback TCP, checks every answer, and prints "<app>: ok" only at the end.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn checkout() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `cargo <args>` on the app's own manifest, with the target directory the other downstream
/// apps share (kept apart from the outer build so the two don't wait on each other's lock).
fn app_cargo(app: &str, args: &[&str]) -> Output {
    let manifest: PathBuf = checkout()
        .join("tests/downstream")
        .join(app)
        .join("Cargo.toml");
    Command::new(env!("CARGO"))
        .args(args)
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", checkout().join("target/downstream"))
        .output()
        .unwrap_or_else(|e| panic!("cannot start cargo for {app}: {e}"))
}

fn assert_links_the_fork(app: &str) {
    let out = app_cargo(
        app,
        &["tree", "--quiet", "--invert", "hyper", "--depth", "0"],
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let wanted = format!(
        "hyper v{} ({})",
        env!("CARGO_PKG_VERSION"),
        checkout().display()
    );
    assert!(
        tree.lines().any(|line| line.trim() == wanted),
        "{app} does not resolve hyper to the fork ({wanted}); `cargo tree -i hyper` said:\n{tree}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run_app_on_the_fork(app: &str) {
    assert_links_the_fork(app);
    let out = app_cargo(app, &["run", "--quiet"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{app} failed to build or run ({})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        stdout.lines().any(|line| line == format!("{app}: ok")),
        "{app} exited without reaching its end\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

#[test]
fn hyper_util_auto_server_on_the_fork_answers_http1_and_h2c_on_one_listener() {
    run_app_on_the_fork("auto-app");
}

#[test]
fn reqwest_with_default_features_on_the_fork_reuses_h2c_and_http1_connections() {
    run_app_on_the_fork("reqwest-h2-app");
}

#[test]
fn tonic_on_the_fork_serves_unary_and_a_4mib_server_stream_then_shuts_down() {
    run_app_on_the_fork("tonic-app");
}
