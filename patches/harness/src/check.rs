//! `check PATH`: does an application's dependency graph hold a hyper that loses bytes?
//!
//! The graph comes from `cargo metadata` on PATH (a package or a workspace). When the workspace
//! has a `Cargo.lock`, cargo reads it with `--locked`: the versions checked are the ones the
//! application builds, and the lock file is never rewritten (an out-of-date lock is a reason
//! to stop, exit 2). Without a lock file cargo resolves the graph as a build would today, and
//! writes the `Cargo.lock` that build would write.
//!
//! Every package named `hyper` in the graph is listed with its source, then judged:
//! - **the fork**: a path or git package whose description is [`FORK_DESCRIPTION`] (the
//!   fork is not published, so a registry package never is the fork). The description is
//!   what the fork's `Cargo.toml` says of itself; it is checked as a whole string, so an
//!   upstream checkout or a vendored copy of hyper never passes for the fork;
//! - **a patched release**: a path or git copy that holds [`PATCHED_MARKER`], the file
//!   `materialize` writes beside the patched `Cargo.toml`, which names the patches applied;
//!   the bugs those patches fix are struck off its version's list;
//! - anything else (a registry release, or a copy of hyper without the marker) by its
//!   version, through [`bugs_in`].
//!
//! Exit status: 1 when some hyper in the graph has a known bug left, 0 when none has,
//! 2 when PATH is not a Cargo project or its graph cannot be resolved (one line on stderr).
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The `description` in the fork's `Cargo.toml`: how `check` recognises the fork.
pub const FORK_DESCRIPTION: &str =
    "An HTTP library whose HTTP/1 connections close only after every encoded byte was written";

/// The file `materialize` writes into a patched release: one line per patch applied.
pub const PATCHED_MARKER: &str = "PATCHED-BY-HYPER-FORK";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    /// `1.10.1`, `1.0.0-rc.4`, `0.14.32+build`: pre-release and build parts are ignored.
    pub fn parse(text: &str) -> Option<Version> {
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let version = Version {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        };
        parts.next().is_none().then_some(version)
    }

    const fn new(major: u64, minor: u64, patch: u64) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Whether `self` falls in `first..=last`, patch levels included.
    fn within(self, first: (u64, u64), last: (u64, u64)) -> bool {
        (self.major, self.minor) >= first && (self.major, self.minor) <= last
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The known ways an upstream hyper server connection loses (or never writes) response bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bug {
    /// The connection shuts its IO down without flushing.
    ShutdownWithoutFlush,
    /// `without_shutdown` / `into_parts` return with the last response still buffered.
    HandsBackUnflushed,
    /// `pipeline_flush(true)`: an upgrade hands off the IO with the `101` still buffered.
    UpgradeDrops101,
    /// `pipeline_flush(true)`: a closing request with more requests behind it is never
    /// answered on the wire.
    PipelinedCloseDropsResponse,
    /// Vectored writes: the connection stops between pipelined responses.
    VectoredPipelineStall,
}

impl Bug {
    pub fn describe(self) -> &'static str {
        match self {
            Bug::ShutdownWithoutFlush => {
                "a response is cut short when the connection closes after it (keep-alive off, \
                 `Connection: close`, a request body the service did not read) while the client \
                 reads slower than the server writes: the IO is shut down without a flush"
            }
            Bug::HandsBackUnflushed => {
                "`without_shutdown()` / `into_parts()` hand the IO back before the last response \
                 was written: whatever the application then does with the IO (close it, pool it) \
                 cuts that response short"
            }
            Bug::UpgradeDrops101 => {
                "with `pipeline_flush(true)`, an upgrade whose client sends data right behind the \
                 request hands the IO off with the `101 Switching Protocols` never written"
            }
            Bug::PipelinedCloseDropsResponse => {
                "with `pipeline_flush(true)`, a `Connection: close` request with more requests \
                 behind it: the connection closes with the whole response still buffered, the \
                 client gets nothing and the connection returns `Ok(())`"
            }
            Bug::VectoredPipelineStall => {
                "with vectored writes, a connection can stop for good between pipelined \
                 responses, the next response already produced and never written"
            }
        }
    }

    /// A few words for it, where a list of bugs is named in one line.
    pub fn short_name(self) -> &'static str {
        match self {
            Bug::ShutdownWithoutFlush => "no flush before shutdown",
            Bug::HandsBackUnflushed => "without_shutdown/into_parts before the write",
            Bug::UpgradeDrops101 => "the 101 of an upgrade unwritten",
            Bug::PipelinedCloseDropsResponse => {
                "a closing response with requests behind it unwritten"
            }
            Bug::VectoredPipelineStall => "the vectored-write stall",
        }
    }

    /// The reproducer cases (`patches/harness/repro/common.rs`) or tests that show it.
    pub fn shown_by(self) -> &'static str {
        match self {
            Bug::ShutdownWithoutFlush => "harness cases `full`, `chunked`",
            Bug::HandsBackUnflushed => "harness cases `*+without_shutdown`",
            Bug::UpgradeDrops101 => "harness case `upgrade+pipeline_flush`",
            Bug::PipelinedCloseDropsResponse => "harness cases `*+close_pipelined+pipeline_flush`",
            Bug::VectoredPipelineStall => "regression test `h1_writev_pipeline`",
        }
    }

    /// The bugs a patch of `patches/hyper-*/` fixes, by its file name.
    pub fn fixed_by_patch(file_name: &str) -> &'static [Bug] {
        if file_name.contains("-fix-http1-write-out-the-buffer-") {
            &[
                Bug::ShutdownWithoutFlush,
                Bug::HandsBackUnflushed,
                Bug::UpgradeDrops101,
                Bug::PipelinedCloseDropsResponse,
            ]
        } else if file_name.contains("-fix-http1-keep-writing-pipelined-responses-") {
            &[Bug::VectoredPipelineStall]
        } else {
            &[]
        }
    }
}

/// One row of the version-range table: the releases examined and what they lose.
pub struct Range {
    pub label: &'static str,
    first: (u64, u64),
    last: (u64, u64),
    pub bugs: &'static [Bug],
}

/// What a release loses when nothing flushes before a connection finishes (before 1.11.0).
const NO_FLUSH_BEFORE_FINISHING: [Bug; 4] = [
    Bug::ShutdownWithoutFlush,
    Bug::HandsBackUnflushed,
    Bug::UpgradeDrops101,
    Bug::PipelinedCloseDropsResponse,
];

/// What this team found in each line of upstream releases (patch levels included). Versions
/// outside every row were not examined: `check` says so and does not count them as affected.
pub const RANGES: &[Range] = &[
    Range {
        label: "0.14.x",
        first: (0, 14),
        last: (0, 14),
        bugs: &NO_FLUSH_BEFORE_FINISHING,
    },
    // Not offered as patches: the reproducer run by hand against 1.0.1 and 1.7.0 loses the
    // same bytes as on 1.10.1 in every case (the vectored-write stall was not looked for).
    Range {
        label: "1.0 to 1.7",
        first: (1, 0),
        last: (1, 7),
        bugs: &NO_FLUSH_BEFORE_FINISHING,
    },
    Range {
        label: "1.8 to 1.10",
        first: (1, 8),
        last: (1, 10),
        // The vectored-write stall was seen on 1.10.1 (not looked for on 1.8 and 1.9).
        bugs: &[
            Bug::ShutdownWithoutFlush,
            Bug::HandsBackUnflushed,
            Bug::UpgradeDrops101,
            Bug::PipelinedCloseDropsResponse,
            Bug::VectoredPipelineStall,
        ],
    },
    Range {
        label: "1.11 to 1.13",
        first: (1, 11),
        last: (1, 13),
        bugs: &[
            Bug::HandsBackUnflushed,
            Bug::UpgradeDrops101,
            Bug::PipelinedCloseDropsResponse,
            Bug::VectoredPipelineStall,
        ],
    },
];

/// The row of [`RANGES`] that holds `version`, if one does.
pub fn range_of(version: Version) -> Option<&'static Range> {
    RANGES.iter().find(|r| version.within(r.first, r.last))
}

/// The known bugs of an upstream release; `None` when its line was not examined.
pub fn bugs_in(version: Version) -> Option<&'static [Bug]> {
    range_of(version).map(|r| r.bugs)
}

/// Where cargo got a package from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Registry(String),
    Path(PathBuf),
    Git(String),
}

impl Source {
    /// From `cargo metadata`'s `source` field (`null` for a path package).
    pub fn from_metadata(source: Option<&str>, manifest_dir: &Path) -> Source {
        match source {
            None => Source::Path(manifest_dir.to_path_buf()),
            Some(s) if s.starts_with("git+") => Source::Git(s["git+".len()..].to_string()),
            Some(s) => {
                let url = s.split_once('+').map_or(s, |(_, url)| url);
                let crates_io = url == "https://github.com/rust-lang/crates.io-index"
                    || url.trim_end_matches('/') == "https://index.crates.io";
                Source::Registry(if crates_io {
                    "crates.io".to_string()
                } else {
                    url.to_string()
                })
            }
        }
    }

    fn is_registry(&self) -> bool {
        matches!(self, Source::Registry(_))
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Registry(r) => write!(f, "registry {r}"),
            Source::Path(p) => write!(f, "path {}", p.display()),
            Source::Git(g) => write!(f, "git {g}"),
        }
    }
}

/// A hyper package in the graph, as cargo metadata describes it.
#[derive(Clone, Debug)]
pub struct Found {
    pub version_text: String,
    pub source: Source,
    pub description: Option<String>,
    /// The patches listed in its [`PATCHED_MARKER`] (path and git copies only).
    pub patches_applied: Option<Vec<String>>,
    /// The packages that depend on it (`name version`).
    pub dependents: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Fork,
    /// No known bug left (a patched release whose patches fix all of its version's bugs).
    Clean,
    Affected(Vec<Bug>),
    /// The version's line was not examined.
    NotExamined,
}

impl Found {
    pub fn is_fork(&self) -> bool {
        !self.source.is_registry() && self.description.as_deref() == Some(FORK_DESCRIPTION)
    }

    pub fn verdict(&self) -> Verdict {
        if self.is_fork() {
            return Verdict::Fork;
        }
        let Some(bugs) = Version::parse(&self.version_text).and_then(bugs_in) else {
            return Verdict::NotExamined;
        };
        let fixed: BTreeSet<Bug> = self
            .patches_applied
            .iter()
            .flatten()
            .flat_map(|p| Bug::fixed_by_patch(p).iter().copied())
            .collect();
        let left: Vec<Bug> = bugs
            .iter()
            .copied()
            .filter(|b| !fixed.contains(b))
            .collect();
        if left.is_empty() {
            Verdict::Clean
        } else {
            Verdict::Affected(left)
        }
    }
}

/// Why `check` cannot answer: the one line printed before exiting with 2.
#[derive(Debug)]
pub struct CannotTell(pub String);

/// The manifest `check` resolves: `PATH/Cargo.toml`, or PATH itself if it names a manifest.
pub fn manifest_of(path: &Path) -> Result<PathBuf, CannotTell> {
    if !path.exists() {
        return Err(CannotTell(format!("{} does not exist", path.display())));
    }
    let manifest = if path.is_dir() {
        path.join("Cargo.toml")
    } else {
        path.to_path_buf()
    };
    if manifest.file_name().is_some_and(|n| n == "Cargo.toml") && manifest.is_file() {
        Ok(manifest)
    } else {
        Err(CannotTell(format!(
            "{} is not a Cargo project: it has no Cargo.toml",
            path.display()
        )))
    }
}

/// The first `error:` line cargo printed, with the hint a user needs for the common ones.
fn cargo_reason(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("error:"))
        .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("cargo failed without a message")
        .trim();
    if line.contains("--locked was passed") {
        "its Cargo.lock is out of date with its manifests (run `cargo update --workspace` or \
         build once, then check again)"
            .to_string()
    } else {
        format!("cargo: {line}")
    }
}

fn cargo(args: &[&str], manifest: &Path) -> Result<String, CannotTell> {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
        .output()
        .map_err(|e| CannotTell(format!("cannot run cargo: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(CannotTell(format!(
            "cannot resolve {}: {}",
            manifest.display(),
            cargo_reason(&String::from_utf8_lossy(&out.stderr))
        )))
    }
}

/// The resolved graph of a project: its hyper packages, and whether a lock file was read.
pub struct Graph {
    pub workspace_root: PathBuf,
    pub locked: bool,
    pub hypers: Vec<Found>,
}

pub fn resolve(manifest: &Path) -> Result<Graph, CannotTell> {
    let root_manifest = cargo(
        &["locate-project", "--workspace", "--message-format", "plain"],
        manifest,
    )?;
    let workspace_root = Path::new(root_manifest.trim())
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let locked = workspace_root.join("Cargo.lock").is_file();
    let mut args = vec!["metadata", "--format-version", "1"];
    if locked {
        args.push("--locked");
    }
    let json = cargo(&args, manifest)?;
    let meta: Value = serde_json::from_str(&json)
        .map_err(|e| CannotTell(format!("cargo metadata printed no JSON: {e}")))?;
    Ok(Graph {
        workspace_root,
        locked,
        hypers: hypers_in(&meta),
    })
}

/// Every package named `hyper` in a `cargo metadata` document.
pub fn hypers_in(meta: &Value) -> Vec<Found> {
    let packages = meta["packages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let label = |id: &str| {
        packages
            .iter()
            .find(|p| p["id"].as_str() == Some(id))
            .map(|p| {
                format!(
                    "{} {}",
                    p["name"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("?")
                )
            })
    };
    let nodes = meta["resolve"]["nodes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut found = Vec::new();
    for package in packages.iter().filter(|p| p["name"] == "hyper") {
        let id = package["id"].as_str().unwrap_or("");
        let manifest_dir = package["manifest_path"]
            .as_str()
            .map(Path::new)
            .and_then(Path::parent)
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let source = Source::from_metadata(package["source"].as_str(), &manifest_dir);
        let patches_applied = if source.is_registry() {
            None
        } else {
            fs::read_to_string(manifest_dir.join(PATCHED_MARKER))
                .ok()
                .map(|text| text.lines().map(str::trim).map(String::from).collect())
        };
        let mut dependents: Vec<String> = nodes
            .iter()
            .filter_map(|n| {
                let dep = n["deps"]
                    .as_array()?
                    .iter()
                    .find(|d| d["pkg"].as_str() == Some(id))?;
                let name = label(n["id"].as_str()?)?;
                // Only a workspace member's dev-dependencies are resolved: say so, since
                // they are in the tests, not in what the application ships.
                let dev_only = dep["dep_kinds"].as_array().is_some_and(|kinds| {
                    !kinds.is_empty() && kinds.iter().all(|k| k["kind"] == "dev")
                });
                Some(if dev_only {
                    format!("{name} (dev-dependency)")
                } else {
                    name
                })
            })
            .collect();
        dependents.sort();
        found.push(Found {
            version_text: package["version"].as_str().unwrap_or("?").to_string(),
            source,
            description: package["description"].as_str().map(String::from),
            patches_applied,
            dependents,
        });
    }
    found.sort_by(|a, b| {
        Version::parse(&a.version_text)
            .cmp(&Version::parse(&b.version_text))
            .then_with(|| a.version_text.cmp(&b.version_text))
    });
    found
}

/// What the harness knows about its own repository, for the advice it prints.
pub struct Remedies {
    /// The fork's directory (this repository's root).
    pub fork_dir: PathBuf,
    /// The harness manifest, for the `materialize` command line.
    pub harness_manifest: PathBuf,
    /// The releases `patches/` holds patches for, with their patch file names.
    pub patched_releases: Vec<(Version, Vec<String>)>,
}

impl Remedies {
    /// The patched release to move to from `version`: the oldest one at or above it in the
    /// same compatibility line (so the `[patch]` entry still meets the application's
    /// requirement), with its patches.
    pub fn patched_release_for(&self, version: Version) -> Option<&(Version, Vec<String>)> {
        let line = |v: Version| {
            if v.major == 0 {
                (0, v.minor)
            } else {
                (v.major, 0)
            }
        };
        self.patched_releases
            .iter()
            .filter(|(r, _)| line(*r) == line(version) && *r >= version)
            .min_by_key(|(r, _)| *r)
    }

    /// The two ways out for a hyper at `version` with `bugs`.
    ///
    /// `patched` says the hyper in use is already a patched release: offering the same one
    /// again would help nobody.
    fn advice(
        &self,
        version: Option<Version>,
        bugs: &[Bug],
        patched: bool,
        workspace_root: &Path,
    ) -> String {
        let mut text = String::new();
        let fork_fits = version.is_some_and(|v| v.major == 1 && v <= Version::new(1, 13, 1));
        let mut number = 0;
        if fork_fits {
            number += 1;
            writeln!(
                text,
                "    fix {number}, the fork (hyper 1.13.1, it meets every `hyper = \"1.x\"` \
                 requirement up to 1.13), in {}:\n        [patch.crates-io]\n        \
                 hyper = {{ path = \"{}\" }}",
                workspace_root.join("Cargo.toml").display(),
                self.fork_dir.display()
            )
            .unwrap();
        } else {
            writeln!(
                text,
                "    the fork (hyper 1.13.1) cannot stand in for this version"
            )
            .unwrap();
        }
        let offer = version
            .and_then(|v| self.patched_release_for(v))
            .filter(|(release, _)| !(patched && Some(*release) == version));
        let Some((release, patches)) = offer else {
            writeln!(
                text,
                "    no other patched release at or above this version in patches/"
            )
            .unwrap();
            return text;
        };
        number += 1;
        let fixed: BTreeSet<Bug> = patches
            .iter()
            .flat_map(|p| Bug::fixed_by_patch(p).iter().copied())
            .collect();
        let left: Vec<&str> = bugs
            .iter()
            .filter(|b| !fixed.contains(b))
            .map(|b| b.short_name())
            .collect();
        let leaves = if left.is_empty() {
            String::new()
        } else {
            format!(" (it still has: {})", left.join(", "))
        };
        let dir = workspace_root
            .parent()
            .unwrap_or(workspace_root)
            .join(format!("hyper-{release}-patched"));
        writeln!(
            text,
            "    fix {number}, the patched release {release}{leaves}: write it with\n        \
             cargo run --manifest-path {} -- materialize {release} {}\n      then add\n        \
             [patch.crates-io]\n        hyper = {{ path = \"{}\" }}",
            self.harness_manifest.display(),
            dir.display(),
            dir.display(),
        )
        .unwrap();
        text
    }
}

/// The report for a resolved graph, and the exit status (1 affected, 0 not).
pub fn report(graph: &Graph, remedies: &Remedies) -> (String, i32) {
    let mut text = String::new();
    writeln!(
        text,
        "dependency graph of {} ({})",
        graph.workspace_root.display(),
        if graph.locked {
            "from its Cargo.lock"
        } else {
            "no Cargo.lock: resolved as a build would today"
        }
    )
    .unwrap();
    if graph.hypers.is_empty() {
        writeln!(text, "no hyper in the graph: not affected").unwrap();
        return (text, 0);
    }
    let mut affected = 0;
    for found in &graph.hypers {
        let used_by = if found.dependents.is_empty() {
            String::new()
        } else {
            format!(", used by {}", found.dependents.join(", "))
        };
        write!(
            text,
            "hyper {} ({}{used_by}): ",
            found.version_text, found.source
        )
        .unwrap();
        match found.verdict() {
            Verdict::Fork => {
                writeln!(text, "the fork, not affected").unwrap();
            }
            Verdict::Clean => {
                writeln!(
                    text,
                    "a patched release ({}), not affected",
                    found
                        .patches_applied
                        .iter()
                        .flatten()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )
                .unwrap();
            }
            Verdict::NotExamined => {
                writeln!(
                    text,
                    "not examined (this check knows {}); not counted as affected",
                    RANGES
                        .iter()
                        .map(|r| r.label)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
                .unwrap();
            }
            Verdict::Affected(bugs) => {
                affected += 1;
                let version = Version::parse(&found.version_text);
                let label = version.and_then(range_of).map_or("?", |r| r.label);
                writeln!(text, "AFFECTED ({label})").unwrap();
                if found.patches_applied.is_some() {
                    writeln!(text, "    its patches leave {} known bug(s):", bugs.len()).unwrap();
                } else if !found.source.is_registry() {
                    writeln!(
                        text,
                        "    a copy of hyper without the fork's description or a {PATCHED_MARKER} file: judged by its version"
                    )
.unwrap();
                }
                for bug in &bugs {
                    writeln!(text, "  - {} ({})", bug.describe(), bug.shown_by()).unwrap();
                }
                text.push_str(&remedies.advice(
                    version,
                    &bugs,
                    found.patches_applied.is_some(),
                    &graph.workspace_root,
                ));
            }
        }
    }
    writeln!(
        text,
        "{}",
        if affected > 0 {
            format!(
                "affected: {affected} of {} hyper package(s) in the graph can lose or withhold response bytes",
                graph.hypers.len()
            )
        } else {
            "not affected".to_string()
        }
    )
.unwrap();
    (text, i32::from(affected > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        Version::parse(text).expect("a version")
    }

    /// 0.14.x and 1.0 to 1.7.
    const IN_0_14: &[Bug] = &[
        Bug::ShutdownWithoutFlush,
        Bug::HandsBackUnflushed,
        Bug::UpgradeDrops101,
        Bug::PipelinedCloseDropsResponse,
    ];
    const BEFORE_1_11: &[Bug] = &[
        Bug::ShutdownWithoutFlush,
        Bug::HandsBackUnflushed,
        Bug::UpgradeDrops101,
        Bug::PipelinedCloseDropsResponse,
        Bug::VectoredPipelineStall,
    ];
    const SINCE_1_11: &[Bug] = &[
        Bug::HandsBackUnflushed,
        Bug::UpgradeDrops101,
        Bug::PipelinedCloseDropsResponse,
        Bug::VectoredPipelineStall,
    ];

    #[test]
    fn versions_parse_with_pre_release_and_build_parts_ignored() {
        assert_eq!(v("1.10.1"), Version::new(1, 10, 1));
        assert_eq!(v("1.0.0-rc.4"), Version::new(1, 0, 0));
        assert_eq!(v("0.14.32+vendored"), Version::new(0, 14, 32));
        for bad in ["1.10", "1.10.1.2", "one.two.three", ""] {
            assert_eq!(Version::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_0_14_release_has_the_shutdown_truncation_and_the_finishing_bugs() {
        for version in ["0.14.0", "0.14.10", "0.14.32"] {
            assert_eq!(bugs_in(v(version)), Some(IN_0_14), "{version}");
            assert_eq!(range_of(v(version)).map(|r| r.label), Some("0.14.x"));
        }
    }

    #[test]
    fn releases_1_0_to_1_7_have_the_shutdown_truncation_and_the_finishing_bugs() {
        for version in ["1.0.0-rc.4", "1.0.1", "1.4.1", "1.7.0"] {
            assert_eq!(bugs_in(v(version)), Some(IN_0_14), "{version}");
            assert_eq!(range_of(v(version)).map(|r| r.label), Some("1.0 to 1.7"));
        }
    }

    #[test]
    fn releases_1_8_to_1_10_have_the_shutdown_truncation() {
        for version in ["1.8.0", "1.8.1", "1.9.0", "1.10.1"] {
            assert_eq!(bugs_in(v(version)), Some(BEFORE_1_11), "{version}");
            assert_eq!(range_of(v(version)).map(|r| r.label), Some("1.8 to 1.10"));
        }
    }

    #[test]
    fn releases_1_11_to_1_13_flush_before_shutdown_and_lose_bytes_elsewhere() {
        for version in ["1.11.0", "1.11.1", "1.12.0", "1.13.0", "1.13.1"] {
            assert_eq!(bugs_in(v(version)), Some(SINCE_1_11), "{version}");
            assert_eq!(range_of(v(version)).map(|r| r.label), Some("1.11 to 1.13"));
        }
    }

    #[test]
    fn releases_outside_the_examined_lines_are_not_judged() {
        for version in ["0.13.10", "0.15.0", "1.14.0", "2.0.0"] {
            assert_eq!(bugs_in(v(version)), None, "{version}");
        }
    }

    fn found(version: &str, source: Source, description: Option<&str>) -> Found {
        Found {
            version_text: version.to_string(),
            source,
            description: description.map(String::from),
            patches_applied: None,
            dependents: Vec::new(),
        }
    }

    #[test]
    fn the_fork_is_recognised_from_a_path_or_git_source_with_its_description() {
        let path = Source::Path(PathBuf::from("/src/hyper-fork"));
        let git = Source::Git("https://example.com/org/hyper-fork.git?branch=main#abc".into());
        for source in [path.clone(), git] {
            let fork = found("1.13.1", source, Some(FORK_DESCRIPTION));
            assert_eq!(fork.verdict(), Verdict::Fork);
        }
        // A registry package is never the fork, whatever it says of itself.
        let registry = Source::Registry("crates.io".into());
        let impostor = found("1.13.1", registry, Some(FORK_DESCRIPTION));
        assert_eq!(impostor.verdict(), Verdict::Affected(SINCE_1_11.to_vec()));
        // A local copy of upstream is judged by its version.
        let upstream = found(
            "1.13.0",
            path,
            Some("A protective and efficient HTTP library"),
        );
        assert_eq!(upstream.verdict(), Verdict::Affected(SINCE_1_11.to_vec()));
    }

    #[test]
    fn a_patched_release_loses_the_bugs_its_patches_fix() {
        let source = Source::Path(PathBuf::from("/src/hyper-1.13.0-patched"));
        let mut patched = found("1.13.0", source.clone(), None);
        patched.patches_applied = Some(vec![
            "0001-fix-http1-write-out-the-buffer-before-a-connection-i.patch".into(),
            "0002-test-http1-pin-that-a-connection-finishes-only-after.patch".into(),
            "0003-fix-http1-keep-writing-pipelined-responses-after-a-v.patch".into(),
            "0004-test-http1-pin-that-vectored-writes-never-stall-betw.patch".into(),
        ]);
        assert_eq!(patched.verdict(), Verdict::Clean);
        // 1.11.0's series has no vectored-write patch: that bug is left.
        let mut older = found("1.11.0", source, None);
        older.patches_applied = Some(vec![
            "0001-fix-http1-write-out-the-buffer-before-a-connection-i.patch".into(),
        ]);
        assert_eq!(
            older.verdict(),
            Verdict::Affected(vec![Bug::VectoredPipelineStall])
        );
    }

    #[test]
    fn a_version_outside_the_table_is_not_examined() {
        let registry = Source::Registry("crates.io".into());
        assert_eq!(
            found("1.14.0", registry, None).verdict(),
            Verdict::NotExamined
        );
    }

    #[test]
    fn sources_are_read_from_cargo_metadata() {
        let dir = Path::new("/x/hyper");
        assert_eq!(
            Source::from_metadata(None, dir),
            Source::Path(dir.to_path_buf())
        );
        for crates_io in [
            "registry+https://github.com/rust-lang/crates.io-index",
            "sparse+https://index.crates.io/",
        ] {
            assert_eq!(
                Source::from_metadata(Some(crates_io), dir),
                Source::Registry("crates.io".into())
            );
        }
        assert_eq!(
            Source::from_metadata(Some("sparse+https://mirror.example/index/"), dir),
            Source::Registry("https://mirror.example/index/".into())
        );
        assert_eq!(
            Source::from_metadata(Some("git+https://example.com/h.git?branch=main#0a1b"), dir),
            Source::Git("https://example.com/h.git?branch=main#0a1b".into())
        );
    }

    #[test]
    fn hyper_packages_and_their_dependents_come_from_the_metadata_document() {
        let meta: Value = serde_json::from_str(
            r#"{
              "packages": [
                {"id": "app", "name": "app", "version": "0.1.0", "source": null,
                 "manifest_path": "/app/Cargo.toml", "description": null},
                {"id": "util", "name": "hyper-util", "version": "0.1.10",
                 "source": "registry+https://github.com/rust-lang/crates.io-index",
                 "manifest_path": "/reg/hyper-util/Cargo.toml", "description": null},
                {"id": "h1", "name": "hyper", "version": "1.10.1",
                 "source": "registry+https://github.com/rust-lang/crates.io-index",
                 "manifest_path": "/reg/hyper-1.10.1/Cargo.toml", "description": "upstream"},
                {"id": "h014", "name": "hyper", "version": "0.14.32",
                 "source": "registry+https://github.com/rust-lang/crates.io-index",
                 "manifest_path": "/reg/hyper-0.14.32/Cargo.toml", "description": "upstream"}
              ],
              "resolve": {"nodes": [
                {"id": "app", "deps": [
                  {"pkg": "util", "dep_kinds": [{"kind": null}]},
                  {"pkg": "h1", "dep_kinds": [{"kind": null}]},
                  {"pkg": "h014", "dep_kinds": [{"kind": "dev"}]}
                ]},
                {"id": "util", "deps": [{"pkg": "h1", "dep_kinds": [{"kind": null}]}]},
                {"id": "h1", "deps": []},
                {"id": "h014", "deps": []}
              ]}
            }"#,
        )
        .expect("json");
        let found = hypers_in(&meta);
        let summary: Vec<(String, Vec<String>)> = found
            .iter()
            .map(|f| (f.version_text.clone(), f.dependents.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("0.14.32".into(), vec!["app 0.1.0 (dev-dependency)".into()]),
                (
                    "1.10.1".into(),
                    vec!["app 0.1.0".into(), "hyper-util 0.1.10".into()]
                ),
            ]
        );
    }

    const FINISH_FIX: &str = "0001-fix-http1-write-out-the-buffer-before-a-connection-i.patch";
    const STALL_FIX: &str = "0003-fix-http1-keep-writing-pipelined-responses-after-a-v.patch";

    fn remedies(releases: &[(&str, &[&str])]) -> Remedies {
        Remedies {
            fork_dir: PathBuf::from("/fork"),
            harness_manifest: PathBuf::from("/fork/patches/harness/Cargo.toml"),
            patched_releases: releases
                .iter()
                .map(|(r, patches)| (v(r), patches.iter().map(|p| p.to_string()).collect()))
                .collect(),
        }
    }

    #[test]
    fn the_patched_release_offered_is_the_oldest_at_or_above_in_the_same_line() {
        let r = remedies(&[
            ("0.14.32", &[FINISH_FIX]),
            ("1.10.1", &[FINISH_FIX]),
            ("1.11.0", &[FINISH_FIX]),
            ("1.12.0", &[FINISH_FIX, STALL_FIX]),
            ("1.13.0", &[FINISH_FIX, STALL_FIX]),
        ]);
        let offer = |version: &str| r.patched_release_for(v(version)).map(|x| x.0.to_string());
        assert_eq!(offer("0.14.20").as_deref(), Some("0.14.32"));
        assert_eq!(offer("1.8.1").as_deref(), Some("1.10.1"));
        assert_eq!(offer("1.10.1").as_deref(), Some("1.10.1"));
        assert_eq!(offer("1.11.1").as_deref(), Some("1.12.0"));
        assert_eq!(offer("1.13.0").as_deref(), Some("1.13.0"));
        assert_eq!(offer("1.13.1"), None);
        assert_eq!(offer("0.13.9"), None);
    }

    #[test]
    fn the_report_exits_1_only_when_a_hyper_has_bugs_left() {
        let graph = |hypers: Vec<Found>| Graph {
            workspace_root: PathBuf::from("/app"),
            locked: true,
            hypers,
        };
        let r = remedies(&[
            ("1.10.1", &[FINISH_FIX]),
            ("1.13.0", &[FINISH_FIX, STALL_FIX]),
        ]);
        let registry = || Source::Registry("crates.io".into());
        let fork = found(
            "1.13.1",
            Source::Path("/fork".into()),
            Some(FORK_DESCRIPTION),
        );
        assert_eq!(report(&graph(vec![]), &r).1, 0);
        assert_eq!(report(&graph(vec![fork.clone()]), &r).1, 0);
        assert_eq!(
            report(&graph(vec![found("0.13.9", registry(), None)]), &r).1,
            0
        );
        let (text, status) = report(&graph(vec![fork, found("1.13.0", registry(), None)]), &r);
        assert_eq!(status, 1, "{text}");
        assert!(
            text.contains("materialize 1.13.0 /hyper-1.13.0-patched"),
            "{text}"
        );
        assert!(!text.contains("it still has"), "{text}");
        // 1.10.1's patches leave the vectored-write stall, and the advice says so.
        let (text, _) = report(&graph(vec![found("1.9.0", registry(), None)]), &r);
        assert!(
            text.contains("the patched release 1.10.1 (it still has: the vectored-write stall)"),
            "{text}"
        );
        // 0.14 has no fork to move to: only its patched release is offered.
        let (text, status) = report(&graph(vec![found("0.14.32", registry(), None)]), &r);
        assert_eq!(status, 1, "{text}");
        assert!(text.contains("cannot stand in for this version"), "{text}");
        assert!(!text.contains("hyper = { path = \"/fork\" }"), "{text}");
    }
}
