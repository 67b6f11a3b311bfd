//! The patch harness.
//!
//! `verify [RELEASE...]`: for every release with patches (or the ones named), get the pristine
//! crate through cargo (downloaded from crates.io and checksum-verified by cargo), copy it
//! twice under `target/patches/<release>/`, apply the patches to one copy, build the same
//! reproducer against both copies, run it, and print a table. Fails if a patch no longer
//! applies, if the pristine release does not lose bytes in every case its `REPRODUCES` file
//! lists, or if the patched release loses bytes in any case. `--tests` also runs the
//! regression tests that the patches add, inside the patched copy.
//!
//! `materialize RELEASE DIR`: writes the patched release to `DIR` (with a
//! `PATCHED-BY-HYPER-FORK` file naming the patches, which `check` reads) and prints the
//! `[patch.crates-io]` lines that make a project use it.
//!
//! `check PATH`: lists every hyper in the dependency graph of the Cargo project at PATH, and
//! for each affected one the known bugs and the fixes (see `check.rs`). Exit status 1 when
//! an affected hyper is in the graph, 0 when none is, 2 when PATH cannot be resolved.
mod check;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

/// A patched release: its version and where its patches live.
struct Release {
    version: String,
    dir: PathBuf,
}

impl Release {
    fn is_0_14(&self) -> bool {
        self.version.starts_with("0.14.")
    }

    fn patches(&self) -> Vec<PathBuf> {
        let mut list: Vec<PathBuf> = fs::read_dir(&self.dir)
            .unwrap_or_else(|e| die(&format!("reading {}: {e}", self.dir.display())))
            .map(|entry| entry.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|ext| ext == "patch"))
            .collect();
        list.sort();
        list
    }

    /// The reproducer cases that must lose bytes on the pristine release.
    fn reproduces(&self) -> Vec<String> {
        let text = fs::read_to_string(self.dir.join("REPRODUCES")).unwrap_or_default();
        text.lines()
            .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Features the reproducer and the regression tests need from this release.
    fn features(&self) -> &'static str {
        if self.is_0_14() {
            r#"["server", "http1", "runtime"]"#
        } else {
            r#"["server", "http1"]"#
        }
    }
}

fn die(msg: &str) -> ! {
    eprintln!("patch harness: {msg}");
    exit(2)
}

fn repo_root() -> PathBuf {
    // patches/harness/Cargo.toml → the repository root is two levels up.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("repository root")
        .to_path_buf()
}

fn work_dir() -> PathBuf {
    repo_root().join("target/patches")
}

fn releases(only: &[String]) -> Vec<Release> {
    let patches = repo_root().join("patches");
    let mut all: Vec<Release> = fs::read_dir(&patches)
        .expect("patches/ exists")
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_str()?.to_string();
            let version = name.strip_prefix("hyper-")?.to_string();
            path.is_dir().then_some(Release { version, dir: path })
        })
        .collect();
    all.sort_by(|a, b| a.version.cmp(&b.version));
    if !only.is_empty() {
        all.retain(|r| {
            only.iter()
                .any(|o| *o == r.version || *o == format!("hyper-{}", r.version))
        });
        if all.is_empty() {
            die(&format!("no patches for {only:?}"));
        }
    }
    all
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| die(&format!("{what}: cannot run: {e}")));
    if !out.status.success() {
        die(&format!(
            "{what} failed\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
    fs::write(path, text).unwrap_or_else(|e| die(&format!("writing {}: {e}", path.display())));
}

/// Has cargo download (and verify) the release, then returns where cargo unpacked it.
fn pristine_source(release: &Release) -> PathBuf {
    let fetch = work_dir().join(format!("fetch-{}", release.version));
    write(
        &fetch.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n\n\
             [dependencies]\nhyper = \"={}\"\n",
            release.version
        ),
    );
    write(&fetch.join("src/lib.rs"), "");
    let meta = run(
        Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1", "--manifest-path"])
            .arg(fetch.join("Cargo.toml")),
        "cargo metadata",
    );
    let suffix = format!("hyper-{}/Cargo.toml\"", release.version);
    let end = meta
        .find(&suffix)
        .unwrap_or_else(|| die(&format!("cargo did not resolve hyper {}", release.version)));
    let start = meta[..end].rfind('"').expect("quoted manifest path") + 1;
    let manifest = &meta[start..end + suffix.len() - 1];
    PathBuf::from(manifest.replace("\\\\", "\\"))
        .parent()
        .expect("crate dir")
        .to_path_buf()
}

fn copy_tree(from: &Path, to: &Path) {
    if to.exists() {
        fs::remove_dir_all(to).expect("remove old copy");
    }
    fs::create_dir_all(to).expect("create copy");
    for entry in fs::read_dir(from).expect("read source") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Applies every patch of the release to `copy`; false (with the reason printed) if one no
/// longer applies.
fn apply_patches(release: &Release, copy: &Path) -> bool {
    apply_patch_list(release, &release.patches(), copy)
}

fn apply_patch_list(release: &Release, patches: &[PathBuf], copy: &Path) -> bool {
    // git ignores relative ceiling directories, and would then apply the patch relative to
    // an enclosing repository (skipping every file outside the current directory).
    assert!(copy.is_absolute(), "patch targets must be absolute paths");
    for patch in patches {
        // The copy lives inside this repository's target/; stop git from treating it as
        // part of this repository (which would resolve paths against the repository root).
        let out = Command::new("git")
            .current_dir(copy)
            .env("GIT_CEILING_DIRECTORIES", copy.parent().expect("parent"))
            .args(["apply", "--whitespace=nowarn"])
            .arg(patch)
            .output()
            .unwrap_or_else(|e| die(&format!("cannot run git: {e}")));
        let applied = out.status.success()
            && Command::new("git")
                .current_dir(copy)
                .env("GIT_CEILING_DIRECTORIES", copy.parent().expect("parent"))
                .args(["apply", "--check", "--reverse"])
                .arg(patch)
                .output()
                .is_ok_and(|o| o.status.success());
        if !applied {
            eprintln!(
                "hyper {}: {} does not apply:\n{}",
                release.version,
                patch.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            return false;
        }
    }
    true
}

/// Builds the reproducer against the hyper at `copy` and returns its report lines.
fn run_reproducer(
    release: &Release,
    variant: &str,
    copy: &Path,
) -> Vec<(String, usize, usize, String)> {
    let root = repo_root();
    let project = work_dir()
        .join(&release.version)
        .join(format!("repro-{variant}"));
    let (source, deps) = if release.is_0_14() {
        ("v0_14.rs", "")
    } else {
        ("v1.rs", "http = \"1\"\nhttp-body = \"1\"\nbytes = \"1\"\n")
    };
    let manifest = format!(
        "[package]\nname = \"repro-{name}-{variant}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [workspace]\n\n[[bin]]\nname = \"repro\"\npath = \"{src}\"\n\n[dependencies]\n\
         hyper = {{ version = \"={version}\", features = {features} }}\n\
         tokio = {{ version = \"1\", features = [\"rt\", \"net\", \"time\", \"io-util\"] }}\n{deps}\n\
         [patch.crates-io]\nhyper = {{ path = \"{copy}\" }}\n",
        name = release.version.replace('.', "_"),
        src = root.join("patches/harness/repro").join(source).display(),
        version = release.version,
        features = release.features(),
        copy = copy.display(),
    );
    write(&project.join("Cargo.toml"), &manifest);
    let target = work_dir().join("build");
    run(
        Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--release", "--manifest-path"])
            .arg(project.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target),
        &format!(
            "building the reproducer against {variant} hyper {}",
            release.version
        ),
    );
    let exe = target.join("release/repro");
    // Both variants build a binary named `repro`; run it before the next build replaces it.
    let report = run(&mut Command::new(exe), "the reproducer");
    report
        .lines()
        .filter_map(|line| {
            // case <name> truncated <k>/<n> received <min>..<max> of <expected>
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() != 8 || words[0] != "case" {
                return None;
            }
            let (k, n) = words[3].split_once('/')?;
            Some((
                words[1].to_string(),
                k.parse().ok()?,
                n.parse().ok()?,
                format!("{} of {}", words[5], words[7]),
            ))
        })
        .collect()
}

/// The integration tests the release's patches add (every `tests/*.rs` a patch creates).
fn regression_tests(release: &Release) -> Vec<String> {
    let mut names = Vec::new();
    for patch in release.patches() {
        let text = fs::read_to_string(&patch).expect("read patch");
        for line in text.lines() {
            let created = line
                .strip_prefix("+++ b/tests/")
                .and_then(|p| p.strip_suffix(".rs"));
            if let Some(name) = created {
                names.push(name.to_string());
            }
        }
    }
    names
}

/// Builds and runs one regression test of `copy` (`copy/tests/<name>.rs`); true if it passed.
///
/// The test is built as the integration test of a small generated package that depends on
/// `copy` by path, not by `cargo test` inside the copy: that would also resolve every
/// dev-dependency of the release, and 1.13.0's (`pretty_env_logger = "0.6"`) is not
/// available from every registry mirror. An integration test sees only the public API either
/// way, so it is the same test. The package is named after `variant`, so the binaries built
/// from the two copies never mix.
fn regression_test_passes(release: &Release, copy: &Path, variant: &str, name: &str) -> bool {
    let project = work_dir()
        .join(&release.version)
        .join(format!("tests-{variant}"));
    let dev_deps = if release.is_0_14() {
        ""
    } else {
        "bytes = \"1\"\nhttp-body = \"1\"\nhttp-body-util = \"0.1\"\n"
    };
    let mut manifest = format!(
        "[package]\nname = \"regression-{variant}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [workspace]\n\n[lib]\npath = \"lib.rs\"\n\n\
         [dependencies]\nhyper = {{ path = \"{copy}\", features = {features} }}\n\
         tokio = {{ version = \"1\", features = [\"macros\", \"rt\", \"rt-multi-thread\", \"net\", \"time\", \"io-util\", \"test-util\"] }}\n\
         {dev_deps}",
        copy = copy.display(),
        features = release.features(),
    );
    for test in regression_tests(release) {
        let path = copy.join("tests").join(format!("{test}.rs"));
        write!(
            manifest,
            "\n[[test]]\nname = \"{test}\"\npath = \"{}\"\n",
            path.display()
        )
        .unwrap();
    }
    write(&project.join("Cargo.toml"), &manifest);
    write(&project.join("lib.rs"), "");
    let out = Command::new(env!("CARGO"))
        .args(["test", "--quiet", "--test", name, "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .env(
            "CARGO_TARGET_DIR",
            work_dir().join(format!("build-tests-{variant}")),
        )
        .output()
        .unwrap_or_else(|e| die(&format!("cannot run cargo test: {e}")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() && !stdout.contains("test result: FAILED") {
        // Not a test failure: the test did not build. That is a broken patch.
        die(&format!(
            "regression test {name} does not build against {}:\n{}",
            copy.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    out.status.success()
}

fn verify(only: &[String], with_tests: bool) {
    let mut table = String::new();
    let mut failures = Vec::new();
    writeln!(
        table,
        "| release | case | pristine truncated | patched truncated | pristine received |"
    )
    .unwrap();
    writeln!(table, "|---|---|---|---|---|").unwrap();
    for release in releases(only) {
        eprintln!("hyper {}: fetching, copying, patching", release.version);
        let source = pristine_source(&release);
        let base = work_dir().join(&release.version);
        let pristine = base.join("pristine");
        let patched = base.join("patched");
        copy_tree(&source, &pristine);
        copy_tree(&source, &patched);
        if !apply_patches(&release, &patched) {
            failures.push(format!(
                "hyper {}: a patch no longer applies",
                release.version
            ));
            continue;
        }
        eprintln!(
            "hyper {}: building and running the reproducer, pristine",
            release.version
        );
        let before = run_reproducer(&release, "pristine", &pristine);
        eprintln!(
            "hyper {}: building and running the reproducer, patched",
            release.version
        );
        let after = run_reproducer(&release, "patched", &patched);
        let must = release.reproduces();
        if must.is_empty() {
            failures.push(format!(
                "hyper {}: REPRODUCES lists no case",
                release.version
            ));
        }
        for (case, k, n, received) in &before {
            let (pk, pn) = after
                .iter()
                .find(|(c, ..)| c == case)
                .map(|(_, k, n, _)| (*k, *n))
                .unwrap_or((usize::MAX, 0));
            writeln!(
                table,
                "| {} | {case} | {k}/{n} | {pk}/{pn} | {received} |",
                release.version
            )
            .unwrap();
            if must.contains(case) && *k == 0 {
                failures.push(format!(
                    "hyper {}: pristine does not reproduce `{case}`",
                    release.version
                ));
            }
            if pk != 0 {
                failures.push(format!(
                    "hyper {}: patched still loses bytes in `{case}`",
                    release.version
                ));
            }
        }
        for case in &must {
            if !before.iter().any(|(c, ..)| c == case) {
                failures.push(format!(
                    "hyper {}: the reproducer has no case `{case}`",
                    release.version
                ));
            }
        }
        if with_tests {
            // The tests alone on the pristine release must fail: they reproduce the bug.
            let tests_only = base.join("pristine-with-tests");
            copy_tree(&source, &tests_only);
            let test_patches: Vec<PathBuf> = release
                .patches()
                .into_iter()
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.contains("-test-"))
                })
                .collect();
            if !apply_patch_list(&release, &test_patches, &tests_only) {
                failures.push(format!(
                    "hyper {}: a test patch does not apply alone",
                    release.version
                ));
                continue;
            }
            for name in regression_tests(&release) {
                eprintln!(
                    "hyper {}: regression test {name}, pristine and patched",
                    release.version
                );
                let before = regression_test_passes(&release, &tests_only, "pristine", &name);
                let after = regression_test_passes(&release, &patched, "patched", &name);
                writeln!(
                    table,
                    "| {} | test `{name}` | {} | {} | |",
                    release.version,
                    if before { "passes" } else { "fails" },
                    if after { "passes" } else { "fails" },
                )
                .unwrap();
                if before {
                    failures.push(format!(
                        "hyper {}: `{name}` passes on the pristine release",
                        release.version
                    ));
                }
                if !after {
                    failures.push(format!(
                        "hyper {}: `{name}` fails on the patched release",
                        release.version
                    ));
                }
            }
        }
    }
    println!("{table}");
    if failures.is_empty() {
        println!("verified: every listed case loses bytes on the pristine release and none on the patched one");
    } else {
        for f in &failures {
            println!("FAILED: {f}");
        }
        exit(1);
    }
}

fn materialize(version: &str, dir: &Path) {
    let release = releases(&[version.to_string()]).remove(0);
    let source = pristine_source(&release);
    copy_tree(&source, dir);
    let dir = fs::canonicalize(dir).expect("canonical dir");
    if !apply_patches(&release, &dir) {
        die("a patch no longer applies");
    }
    let applied: String = release
        .patches()
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(|n| format!("{n}\n")))
        .collect();
    write(&dir.join(check::PATCHED_MARKER), &applied);
    eprintln!(
        "wrote patched hyper {} to {}",
        release.version,
        dir.display()
    );
    println!(
        "[patch.crates-io]\nhyper = {{ path = \"{}\" }}",
        dir.display()
    );
}

/// `check PATH`: never panics at the user (a panic becomes one line and exit status 2).
fn check_command(path: &Path) -> ! {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string().replace('\n', " ");
        eprintln!("check: cannot tell (internal error: {message})");
        exit(2)
    }));
    let graph = match check::manifest_of(path).and_then(|m| check::resolve(&m)) {
        Ok(graph) => graph,
        Err(check::CannotTell(reason)) => {
            eprintln!("check: cannot tell: {reason}");
            exit(2)
        }
    };
    let patches = repo_root().join("patches");
    let patch_names = |dir: &Path| -> Vec<String> {
        fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|n| n.ends_with(".patch"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let patched_releases = fs::read_dir(&patches)
        .map(|entries| {
            entries
                .filter_map(|e| {
                    let path = e.ok()?.path();
                    let name = path.file_name()?.to_str()?;
                    let version = check::Version::parse(name.strip_prefix("hyper-")?)?;
                    Some((version, patch_names(&path)))
                })
                .collect()
        })
        .unwrap_or_default();
    let remedies = check::Remedies {
        fork_dir: repo_root(),
        harness_manifest: repo_root().join("patches/harness/Cargo.toml"),
        patched_releases,
    };
    let (text, status) = check::report(&graph, &remedies);
    print!("{text}");
    exit(status)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") if args.len() == 2 => check_command(Path::new(&args[1])),
        Some("check") => {
            eprintln!("check: usage: patch-harness check PATH (a Cargo project or workspace)");
            exit(2)
        }
        Some("verify") => {
            let with_tests = args.iter().any(|a| a == "--tests");
            let only: Vec<String> = args[1..]
                .iter()
                .filter(|a| !a.starts_with("--"))
                .cloned()
                .collect();
            verify(&only, with_tests);
        }
        Some("materialize") if args.len() == 3 => materialize(&args[1], Path::new(&args[2])),
        _ => die(
            "usage: patch-harness verify [--tests] [RELEASE...] | materialize RELEASE DIR | check PATH",
        ),
    }
}
