//! `check PATH` end to end: the harness binary on small applications, for its exit status
//! (1 affected, 0 not, 2 cannot tell) and the lines a user acts on.
//!
//! The applications locked to crates.io releases are committed with their `Cargo.lock`
//! (`fixtures/`); the one patched to the fork is written at test time, since its lock would
//! go stale whenever the fork's own dependencies change. Nothing here needs a network beyond
//! crates.io, and only while a crate is not yet in cargo's cache.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn harness_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn repo_root() -> PathBuf {
    harness_dir()
        .ancestors()
        .nth(2)
        .expect("the repository root holds patches/harness")
        .to_path_buf()
}

fn check(path: &Path) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_patch-harness"))
        .arg("check")
        .arg(path)
        .output()
        .expect("run the harness");
    (
        status.code().expect("an exit status, not a signal"),
        String::from_utf8(stdout).expect("utf-8 stdout"),
        String::from_utf8(stderr).expect("utf-8 stderr"),
    )
}

/// A directory of this test's own under the system temp dir, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("patch-harness-check-{}-{name}", std::process::id()));
    if dir.exists() {
        fs::remove_dir_all(&dir).expect("clear scratch dir");
    }
    fs::create_dir_all(dir.join("src")).expect("create scratch dir");
    fs::write(dir.join("src/main.rs"), "fn main() {}\n").expect("write main.rs");
    dir
}

fn assert_cannot_tell(code: i32, stdout: &str, stderr: &str, reason: &str) {
    assert_eq!(code, 2, "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stdout, "", "nothing on stdout when check cannot tell");
    assert_eq!(stderr.lines().count(), 1, "one line of reason: {stderr:?}");
    assert!(stderr.contains(reason), "{stderr:?} names {reason:?}");
    assert!(!stderr.contains("panicked"), "{stderr:?}");
}

#[test]
fn an_app_locked_to_1_10_1_is_affected_with_the_shutdown_truncation() {
    let (code, out, err) = check(&harness_dir().join("fixtures/app-locked-to-1.10.1"));
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("(from its Cargo.lock)"), "{out}");
    assert!(
        out.contains("hyper 1.10.1 (registry crates.io, used by app-locked-to-hyper-1-10-1 0.1.0): AFFECTED (1.8 to 1.10)"),
        "{out}"
    );
    assert!(out.contains("the IO is shut down without a flush"), "{out}");
    assert!(out.contains("`without_shutdown()`"), "{out}");
    // Both ways out: the fork, and the patched release of the same line.
    let fork = format!("hyper = {{ path = \"{}\" }}", repo_root().display());
    assert!(out.contains(&fork), "{out}");
    assert!(out.contains("-- materialize 1.10.1 "), "{out}");
    assert!(out.contains("affected: 1 of 1 hyper package(s)"), "{out}");
}

#[test]
fn an_app_locked_to_1_13_0_is_affected_by_the_bugs_left_after_1_11() {
    let (code, out, err) = check(&harness_dir().join("fixtures/app-locked-to-1.13.0"));
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("hyper 1.13.0 (registry crates.io"), "{out}");
    assert!(out.contains("AFFECTED (1.11 to 1.13)"), "{out}");
    assert!(
        !out.contains("shut down without a flush"),
        "fixed in 1.11.0: {out}"
    );
    assert!(
        out.contains("`Connection: close` request with more requests"),
        "{out}"
    );
    assert!(out.contains("-- materialize 1.13.0 "), "{out}");
}

#[test]
fn an_app_patched_to_the_fork_is_not_affected() {
    let app = scratch("fork");
    fs::write(
        app.join("Cargo.toml"),
        format!(
            "[package]\nname = \"app-on-the-fork\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [workspace]\n\n[dependencies]\nhyper = \"1\"\n\n\
             [patch.crates-io]\nhyper = {{ path = \"{}\" }}\n",
            repo_root().display()
        ),
    )
    .expect("write Cargo.toml");
    let (code, out, err) = check(&app);
    fs::remove_dir_all(&app).expect("remove scratch dir");
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(
        out.contains("no Cargo.lock: resolved as a build would today"),
        "{out}"
    );
    let fork = format!(
        "hyper 1.13.1 (path {}, used by app-on-the-fork 0.1.0): the fork, not affected",
        repo_root().display()
    );
    assert!(out.contains(&fork), "{out}");
    assert!(out.ends_with("not affected\n"), "{out}");
}

#[test]
fn an_app_patched_to_the_materialized_1_13_0_is_not_affected() {
    let app = scratch("materialized");
    let copy = app.join("hyper-1.13.0-patched");
    let out = Command::new(env!("CARGO_BIN_EXE_patch-harness"))
        .args(["materialize", "1.13.0"])
        .arg(&copy)
        .output()
        .expect("run materialize");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::write(
        app.join("Cargo.toml"),
        "[package]\nname = \"app-on-patched-1-13\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [workspace]\n\n[dependencies]\nhyper = \"1\"\n\n\
         [patch.crates-io]\nhyper = { path = \"hyper-1.13.0-patched\" }\n",
    )
    .expect("write Cargo.toml");
    let (code, out, err) = check(&app);
    fs::remove_dir_all(&app).expect("remove scratch dir");
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("hyper 1.13.0 (path "), "{out}");
    assert!(
        out.contains(
            "a patched release (0001-fix-http1-write-out-the-buffer-before-a-connection-i.patch"
        ),
        "{out}"
    );
}

#[test]
fn a_folder_without_cargo_toml_cannot_be_told() {
    let dir = scratch("no-manifest");
    let (code, out, err) = check(&dir);
    fs::remove_dir_all(&dir).expect("remove scratch dir");
    assert_cannot_tell(
        code,
        &out,
        &err,
        "is not a Cargo project: it has no Cargo.toml",
    );
}

#[test]
fn a_path_that_does_not_exist_cannot_be_told() {
    let missing = std::env::temp_dir().join("patch-harness-check-no-such-dir/at-all");
    let (code, out, err) = check(&missing);
    assert_cannot_tell(code, &out, &err, "does not exist");
}

#[test]
fn a_manifest_cargo_cannot_read_cannot_be_told() {
    let app = scratch("broken-manifest");
    fs::write(app.join("Cargo.toml"), "[package\nname = \n").expect("write Cargo.toml");
    let (code, out, err) = check(&app);
    fs::remove_dir_all(&app).expect("remove scratch dir");
    assert_cannot_tell(code, &out, &err, "cannot resolve");
}

#[test]
fn an_out_of_date_lock_file_is_left_alone_and_cannot_be_told() {
    let app = scratch("stale-lock");
    let fixture = harness_dir().join("fixtures/app-locked-to-1.13.0");
    let lock = fs::read_to_string(fixture.join("Cargo.lock")).expect("fixture lock");
    let manifest = fs::read_to_string(fixture.join("Cargo.toml")).expect("fixture manifest");
    // A new path dependency the lock does not know about: no network needed to see it.
    let local = app.join("local");
    fs::create_dir_all(local.join("src")).expect("create local crate");
    fs::write(
        local.join("Cargo.toml"),
        "[package]\nname = \"local\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .expect("write local manifest");
    fs::write(local.join("src/lib.rs"), "").expect("write local lib");
    fs::write(
        app.join("Cargo.toml"),
        manifest.replace(
            "[dependencies]\n",
            "[dependencies]\nlocal = { path = \"local\" }\n",
        ),
    )
    .expect("write Cargo.toml");
    fs::write(app.join("Cargo.lock"), &lock).expect("write Cargo.lock");
    let (code, out, err) = check(&app);
    let after = fs::read_to_string(app.join("Cargo.lock")).expect("lock after check");
    fs::remove_dir_all(&app).expect("remove scratch dir");
    assert_cannot_tell(code, &out, &err, "Cargo.lock is out of date");
    assert_eq!(after, lock, "check never rewrites a lock file");
}

#[test]
fn check_without_a_path_prints_its_usage_and_exits_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_patch-harness"))
        .arg("check")
        .output()
        .expect("run the harness");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("usage: patch-harness check PATH"), "{err:?}");
}
