//! Turns criterion's output of `benches/compare.rs` into the Markdown table README.md shows.
//!
//! ```sh
//! cargo bench --features full --bench compare
//! cargo run --example bench_table            # reads target/criterion
//! cargo run --example bench_table -- DIR     # or another criterion directory
//! ```
//!
//! For every workload (a criterion group) it prints the mean time of the fork, upstream hyper
//! 1.13.0 and the raw socket copy where there is one, the fork's throughput, and the two ratios
//! the benches exist to show: fork/upstream and fork/raw socket, as speed (above 1.00 means
//! the fork is faster).
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One benchmark's result as criterion stored it.
struct Measurement {
    group: String,
    function: String,
    /// Mean time per iteration, in nanoseconds.
    mean_ns: f64,
    /// Bytes or requests per iteration, with its unit.
    throughput: Option<(f64, &'static str)>,
}

/// The value after `"key":` in a flat JSON text: a string or a number, unescaped enough for
/// the names criterion writes.
fn json_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = text[at..].trim_start();
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"')?;
        Some(&quoted[..end])
    } else {
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }
}

fn read_measurement(dir: &Path) -> Option<Measurement> {
    let bench = fs::read_to_string(dir.join("new/benchmark.json")).ok()?;
    let estimates = fs::read_to_string(dir.join("new/estimates.json")).ok()?;
    let mean = &estimates[estimates.find("\"mean\"")?..];
    let throughput = [("Bytes", "B"), ("Elements", "req")]
        .into_iter()
        .find_map(|(key, unit)| Some((json_value(&bench, key)?.parse().ok()?, unit)));
    Some(Measurement {
        group: json_value(&bench, "group_id")?.to_string(),
        function: json_value(&bench, "function_id")?.to_string(),
        mean_ns: json_value(mean, "point_estimate")?.parse().ok()?,
        throughput,
    })
}

fn collect(dir: &Path, out: &mut Vec<Measurement>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.join("new/benchmark.json").is_file() {
            out.extend(read_measurement(&path));
        } else if path.is_dir() && path.file_name().is_some_and(|n| n != "report") {
            collect(&path, out);
        }
    }
}

fn rate(m: &Measurement) -> String {
    match m.throughput {
        Some((amount, "B")) => format!("{:.2} GB/s", amount / m.mean_ns),
        Some((amount, _)) => format!("{:.0}k req/s", amount / m.mean_ns * 1e6),
        None => String::new(),
    }
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/criterion"));
    let mut all = Vec::new();
    collect(&dir, &mut all);
    if all.is_empty() {
        eprintln!(
            "no criterion results under {}; run `cargo bench --features full --bench compare` first",
            dir.display()
        );
        std::process::exit(1);
    }
    let mut groups: BTreeMap<&str, BTreeMap<&str, &Measurement>> = BTreeMap::new();
    for m in &all {
        groups.entry(&m.group).or_default().insert(&m.function, m);
    }
    println!("| workload | fork | upstream 1.13.0 | raw socket | fork / upstream | fork / raw |");
    println!("|---|---|---|---|---|---|");
    for (group, sides) in &groups {
        let (Some(fork), Some(upstream)) = (sides.get("fork"), sides.get("upstream")) else {
            continue;
        };
        let raw = sides.get("raw socket");
        println!(
            "| {group} | {} | {} | {} | {:.2} | {} |",
            rate(fork),
            rate(upstream),
            raw.map(|r| rate(r)).unwrap_or_default(),
            upstream.mean_ns / fork.mean_ns,
            raw.map(|r| format!("{:.2}", r.mean_ns / fork.mean_ns))
                .unwrap_or_default(),
        );
    }
}
