//! Resident bytes per series, each measured in a fresh process: insa-metrics against the peers.
//!
//! For each kind of series (a counter; a 13-bucket histogram) and each
//! implementation (`insa_metrics`, `prometheus`, `prometheus_client`,
//! `metrics` with `metrics-exporter-prometheus`), the benchmark re-executes
//! itself (`--child KIND IMPL N`). The child reads its resident set size
//! from `/proc/self/statm`, builds the empty family (the collector with a
//! cardinality limit of N), records N series (one increment or one
//! observation each, the label values of `benches/common/mod.rs`), reads it
//! again, scrapes once, and reads it a third time. Freed memory is handed back to the kernel (`malloc_trim`)
//! before each reading, so the figures are what the series keep. The
//! parent runs each measurement `--runs` times and prints (RSS after − RSS
//! before) / N, median and range; `metrics` keeps histogram observations
//! raw until a scrape folds them into buckets, so its "after a scrape"
//! column is the one to compare. A counting global allocator also gives
//! the heap blocks and the heap bytes (as requested, without the
//! allocator's overhead) that each series adds.
//!
//! ```sh
//! cargo bench -p insa-metrics --bench memory -- --series 100000 --runs 3
//! python3 scripts/bench_store.py
//! ```
//!
//! The results also go to `target/bench-memory.json` for the script.
#![allow(unsafe_code)] // libc: sysconf and malloc_trim; a counting allocator.

#[allow(dead_code)]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::env;
use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicI64, Ordering};

use common::{Kind, MetricsRs, Ours, Prometheus, PrometheusClient};

/// The implementations, in the order of the table.
const IMPLEMENTATIONS: [&str; 4] = ["insa_metrics", "prometheus", "prometheus_client", "metrics"];

/// One implementation holding series of one kind.
enum Store {
    Ours(Box<Ours>),
    Prometheus(Prometheus),
    PrometheusClient(PrometheusClient),
    Metrics(MetricsRs),
}

impl Store {
    fn new(name: &str, kind: Kind, series: usize) -> Store {
        match name {
            "insa_metrics" => Store::Ours(Box::new(Ours::new(series))),
            "prometheus" => Store::Prometheus(Prometheus::new(kind, &[])),
            "prometheus_client" => Store::PrometheusClient(PrometheusClient::new(kind, &[])),
            "metrics" => Store::Metrics(MetricsRs::new()),
            other => panic!("unknown implementation {other}"),
        }
    }

    fn record(&self, kind: Kind, i: usize) {
        match self {
            Store::Ours(store) => store.record(kind, i),
            Store::Prometheus(store) => store.record(kind, i),
            Store::PrometheusClient(store) => store.record(kind, i),
            Store::Metrics(store) => store.record(kind, i),
        }
    }

    /// One scrape; the length of the text.
    fn scrape(&self) -> usize {
        match self {
            Store::Ours(store) => store.scrape().len(),
            Store::Prometheus(store) => store.scrape(0).len(),
            Store::PrometheusClient(store) => store.scrape(0).len(),
            Store::Metrics(store) => store.scrape().len(),
        }
    }
}

/// The measurements of one implementation holding series of one kind.
struct Runs {
    kind: Kind,
    name: &'static str,
    /// Resident bytes per series after building, one per run.
    built: Vec<f64>,
    /// Resident bytes per series after a scrape, one per run.
    scraped: Vec<f64>,
    /// Heap blocks per series after a scrape, one per run.
    blocks: Vec<f64>,
    /// Heap bytes per series after a scrape, as requested, one per run.
    heap: Vec<f64>,
}

/// The system allocator, counting the blocks and bytes live.
struct Counting;

static LIVE_BLOCKS: AtomicI64 = AtomicI64::new(0);
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

fn size(bytes: usize) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

// SAFETY: every call is forwarded to `System` unchanged; the counters are
// only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(size(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(size(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(size(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(size(new_size) - size(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What the process holds at one moment.
struct Held {
    /// Resident bytes.
    resident: u64,
    /// Heap blocks live.
    blocks: i64,
    /// Heap bytes live, as requested (without the allocator's overhead).
    heap: i64,
}

impl Held {
    fn now() -> Held {
        Held {
            resident: resident_bytes(),
            blocks: LIVE_BLOCKS.load(Ordering::Relaxed),
            heap: LIVE_BYTES.load(Ordering::Relaxed),
        }
    }
}

/// Resident bytes of this process, after handing freed memory back.
fn resident_bytes() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm (Linux)");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("statm's resident field");
    // SAFETY: sysconf reads a constant of the system.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).expect("a page size")
}

/// The child: prints, after building and after a scrape, the resident
/// bytes, heap blocks and heap bytes its series added.
fn child(kind: Kind, name: &str, series: usize) {
    // Read before the store exists, so that what it reserves up front for
    // its series (its cardinality limit is `series`) counts too; an empty
    // store is a few kB, nothing per series.
    let before = Held::now();
    let store = Store::new(name, kind, series);
    for i in 0..series {
        store.record(kind, i);
    }
    let built = Held::now();
    let text = black_box(&store).scrape();
    assert!(text > 0, "a scrape writes the series");
    let scraped = Held::now();
    for after in [built, scraped] {
        print!(
            "{} {} {} ",
            i64::try_from(after.resident).unwrap_or(i64::MAX)
                - i64::try_from(before.resident).unwrap_or(i64::MAX),
            after.blocks - before.blocks,
            after.heap - before.heap
        );
    }
    println!();
    drop(black_box(store));
}

/// Per series, after building and after a scrape: resident bytes, heap
/// blocks, heap bytes.
type PerSeries = [[f64; 3]; 2];

/// One measurement in a fresh process.
fn measure(kind: Kind, name: &str, series: usize) -> PerSeries {
    let output = Command::new(env::current_exe().expect("this executable"))
        .args(["--child", kind.name(), name, &series.to_string()])
        .output()
        .expect("the child runs");
    assert!(
        output.status.success(),
        "the child failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    #[allow(clippy::cast_precision_loss)]
    let fields: Vec<f64> = stdout
        .split_whitespace()
        .map(|field| field.parse::<i64>().expect("a number") as f64 / series as f64)
        .collect();
    let [a, b, c, d, e, f] = fields[..] else {
        panic!("unexpected child output {stdout:?}");
    };
    [[a, b, c], [d, e, f]]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn cell(values: &[f64]) -> String {
    let mut sorted = values.to_vec();
    let mid = median(&mut sorted);
    if sorted.len() > 1 {
        format!(
            "{mid:.0} ({:.0}–{:.0})",
            sorted[0],
            sorted[sorted.len() - 1]
        )
    } else {
        format!("{mid:.0}")
    }
}

fn option(args: &[String], name: &str) -> Option<usize> {
    let at = args.iter().position(|arg| arg == name)?;
    Some(
        args.get(at + 1)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{name} takes a number")),
    )
}

/// `target/bench-memory.json`, from this executable's path
/// (`target/release/deps/memory-…`).
fn results_path() -> Option<PathBuf> {
    let exe = env::current_exe().ok()?;
    Some(exe.ancestors().nth(3)?.join("bench-memory.json"))
}

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|arg| arg == "--child") {
        let kind = Kind::parse(&args[at + 1]).expect("a kind");
        let series = args[at + 3].parse().expect("a series count");
        child(kind, &args[at + 2], series);
        return;
    }
    // `cargo test --benches` runs this without `--bench`: a quick check only.
    let benchmarking = args.iter().any(|arg| arg == "--bench");
    let series = option(&args, "--series").unwrap_or(if benchmarking { 100_000 } else { 2_000 });
    let runs = option(&args, "--runs").unwrap_or(if benchmarking { 3 } else { 1 });

    let mut results: Vec<Runs> = Kind::ALL
        .into_iter()
        .flat_map(|kind| {
            IMPLEMENTATIONS.map(|name| Runs {
                kind,
                name,
                built: Vec::new(),
                scraped: Vec::new(),
                blocks: Vec::new(),
                heap: Vec::new(),
            })
        })
        .collect();
    for run in 0..runs {
        for entry in &mut results {
            let [[built, ..], [scraped, blocks, heap]] = measure(entry.kind, entry.name, series);
            eprintln!(
                "run {}: {} {}: {built:.0} resident B/series built, {scraped:.0} after a scrape, \
                 {blocks:.1} heap blocks and {heap:.0} heap bytes",
                run + 1,
                entry.kind.name(),
                entry.name
            );
            entry.built.push(built);
            entry.scraped.push(scraped);
            entry.blocks.push(blocks);
            entry.heap.push(heap);
        }
    }

    println!(
        "\nresident bytes per series, {series} series, median (range) of {runs} fresh processes\n"
    );
    println!(
        "| series | implementation | resident, after building | resident, after a scrape \
         | heap blocks | heap bytes |"
    );
    println!("|---|---|---|---|---|---|");
    for entry in &results {
        let mut blocks = entry.blocks.clone();
        println!(
            "| {} | {} | {} | {} | {:.1} | {} |",
            entry.kind.name(),
            entry.name,
            cell(&entry.built),
            cell(&entry.scraped),
            median(&mut blocks),
            cell(&entry.heap)
        );
    }

    if benchmarking {
        let mut by_kind = serde_json::Map::new();
        for entry in &results {
            let by_name = by_kind
                .entry(entry.kind.name())
                .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
            by_name[entry.name] = serde_json::json!({
                "built": entry.built,
                "scraped": entry.scraped,
                "blocks": entry.blocks,
                "heap": entry.heap,
            });
        }
        let json = serde_json::json!({ "series": series, "runs": runs, "results": by_kind });
        if let Some(path) = results_path() {
            match std::fs::write(&path, format!("{json:#}\n")) {
                Ok(()) => println!("\nwritten to {}", path.display()),
                Err(error) => eprintln!("could not write {}: {error}", path.display()),
            }
        }
    }
}
