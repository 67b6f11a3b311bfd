//! Real downstream applications switched to the fork with `[patch.crates-io]`, built and run.
//!
//! Each app under `tests/downstream/` is a standalone crate whose manifest carries the same
//! one-entry patch the README gives users. The test checks that cargo resolved `hyper` to
//! this checkout (not crates.io), then runs the app, which serves real requests over TCP and
//! asserts on the answers.
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cargo(app: &str, args: &[&str]) -> Command {
    let manifest = root().join("tests/downstream").join(app).join("Cargo.toml");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(args)
        .arg("--manifest-path")
        .arg(manifest)
        // One shared target directory for both apps, apart from the outer build's lock.
        .env("CARGO_TARGET_DIR", root().join("target/downstream"));
    cmd
}

fn build_and_run(app: &str) {
    let tree = cargo(
        app,
        &["tree", "--quiet", "--invert", "hyper", "--depth", "0"],
    )
    .output()
    .expect("cargo tree runs");
    let tree = String::from_utf8_lossy(&tree.stdout);
    let fork = format!(
        "hyper v{} ({})",
        env!("CARGO_PKG_VERSION"),
        root().display()
    );
    assert!(
        tree.lines().any(|l| l.trim() == fork),
        "{app} does not link the fork; `cargo tree -i hyper` says:\n{tree}"
    );

    let out = cargo(app, &["run", "--quiet"])
        .output()
        .expect("cargo run runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{app} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{app}: ok")),
        "{app} did not finish: {stdout}"
    );
}

#[test]
fn axum_app_on_the_fork_serves_keep_alive_echo_and_a_slowly_read_4mib_body() {
    build_and_run("axum-app");
}

#[test]
fn hyper_util_app_on_the_fork_serves_and_shuts_down_gracefully() {
    build_and_run("hyper-util-app");
}

#[test]
fn hyper_util_pooled_client_on_the_fork_reuses_a_keep_alive_connection() {
    build_and_run("hyper-util-client-app");
}

#[test]
fn reqwest_without_default_features_on_the_fork_reuses_a_keep_alive_connection() {
    build_and_run("reqwest-app");
}
