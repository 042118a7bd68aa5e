//! Ingest throughput per alert format, against plain JSON parsing.
//!
//! For every format, over the same record bytes, on one thread:
//!
//! - baseline: `serde_json::from_slice::<Value>` of each record;
//! - Warden: `warden_ingest::parse_record` with the default read options
//!   (UTF-8, size and depth checks, JSON parse, format detection,
//!   normalisation, SHA-256 of the bytes).
//!
//! The corpus is every alert record available: the shared third-party data
//! (`alerts/**`, `ocsf/examples`; found as the tests find it, see
//! `warden_testkit::shared_data`), `examples/alerts/` and
//! `crates/warden-ingest/testdata/`, split into records as the reader
//! splits them. Records are grouped by the format detection gives them (the
//! built-ins, and `mapped` through `examples/mappings/wazuh.toml`); records
//! it cannot place are skipped.
//!
//! Target: no format slower than 3x the baseline. The table is printed;
//! with `WARDEN_BENCH_ENFORCE=1` a format over the target fails the run.
//! `WARDEN_BENCH_QUICK=1` takes fewer, shorter rounds (for CI).
//!
//! Run with `cargo bench -p warden-ingest --bench throughput`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::Value;
use warden_domain::SourceFormat;
use warden_ingest::{FormatChoice, Formats, Mapping, ReadOptions, detect, parse_record};
use warden_testkit::bench::{Plan, env_flag, median};

/// Warden may take at most this many times the baseline's time.
const TARGET_RATIO: f64 = 3.0;

/// One record: where it came from and its exact bytes.
#[derive(Debug)]
struct Record {
    origin: String,
    bytes: Vec<u8>,
}

/// The records of one format and what was measured on them.
#[derive(Debug)]
struct Row {
    format: SourceFormat,
    records: usize,
    bytes: usize,
    /// Records `parse_record` rejected (still timed: they are part of the
    /// real path too).
    rejected: usize,
    baseline: Duration,
    warden: Duration,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.warden.as_secs_f64() / self.baseline.as_secs_f64()
    }

    fn per_second(&self, per_pass: Duration) -> f64 {
        self.records as f64 / per_pass.as_secs_f64()
    }
}

fn main() -> ExitCode {
    let plan = Plan::from_env(
        Plan {
            min_sample: Duration::from_millis(50),
            rounds: 3,
        },
        Plan {
            min_sample: Duration::from_millis(500),
            rounds: 7,
        },
    );
    // The example mapping is loaded, as a user would, so mapped sources are
    // measured too.
    let mapping = warden_testkit::repo().join("examples/mappings/wazuh.toml");
    let formats = match Mapping::load(&mapping).and_then(|m| Formats::with_mappings(vec![m])) {
        Ok(formats) => formats,
        Err(err) => {
            eprintln!("throughput: {err}");
            return ExitCode::FAILURE;
        }
    };
    let options = ReadOptions {
        formats,
        ..ReadOptions::default()
    };
    let (by_format, sources, undetected) = corpus(&options.formats);
    if by_format.is_empty() {
        eprintln!("throughput: no alert records found");
        return ExitCode::FAILURE;
    }
    println!(
        "ingest throughput: {} records from {sources} files ({undetected} undetected, skipped); \
         {} rounds of at least {} ms each, median",
        by_format.values().map(Vec::len).sum::<usize>(),
        plan.rounds,
        plan.min_sample.as_millis(),
    );

    let rows: Vec<Row> = by_format
        .into_iter()
        .map(|(format, records)| measure(format, &records, &options, plan))
        .collect();

    print_table(&rows);
    let over: Vec<&str> = rows
        .iter()
        .filter(|row| row.ratio() > TARGET_RATIO)
        .map(|row| row.format.as_str())
        .collect();
    if over.is_empty() {
        println!("\nevery format within {TARGET_RATIO}x the JSON-parse baseline");
        return ExitCode::SUCCESS;
    }
    println!(
        "\nover {TARGET_RATIO}x the JSON-parse baseline: {}",
        over.join(", ")
    );
    if env_flag("WARDEN_BENCH_ENFORCE") {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Time both paths on `records`, interleaving their rounds so that noise on
/// the machine hits both alike.
fn measure(format: SourceFormat, records: &[Record], options: &ReadOptions, plan: Plan) -> Row {
    let baseline_pass = || {
        for record in records {
            let _ = black_box(serde_json::from_slice::<Value>(black_box(&record.bytes)));
        }
    };
    let warden_pass = || {
        for record in records {
            let _ = black_box(parse_record(
                black_box(&record.origin),
                black_box(&record.bytes),
                options,
            ));
        }
    };
    let rejected = records
        .iter()
        .filter(|r| parse_record(&r.origin, &r.bytes, options).is_err())
        .count();

    let baseline_passes = passes_for(plan.min_sample, baseline_pass);
    let warden_passes = passes_for(plan.min_sample, warden_pass);
    let mut baseline = Vec::with_capacity(plan.rounds);
    let mut warden = Vec::with_capacity(plan.rounds);
    for round in 0..plan.rounds {
        // Alternate which goes first, so neither always runs on a warm cache.
        if round % 2 == 0 {
            baseline.push(per_pass(baseline_passes, baseline_pass));
            warden.push(per_pass(warden_passes, warden_pass));
        } else {
            warden.push(per_pass(warden_passes, warden_pass));
            baseline.push(per_pass(baseline_passes, baseline_pass));
        }
    }
    Row {
        format,
        records: records.len(),
        bytes: records.iter().map(|r| r.bytes.len()).sum(),
        rejected,
        baseline: median(&baseline),
        warden: median(&warden),
    }
}

/// How many passes over the records one measurement needs to last at least
/// `min` (after one warm-up pass).
fn passes_for(min: Duration, pass: impl Fn()) -> u32 {
    pass();
    let mut passes: u32 = 1;
    loop {
        let started = Instant::now();
        for _ in 0..passes {
            pass();
        }
        let took = started.elapsed();
        if took >= min || passes >= u32::MAX / 2 {
            return passes;
        }
        // Aim a little past `min`, at least doubling while it is too short
        // to extrapolate from.
        let scale = if took < min / 100 {
            2.0
        } else {
            (min.as_secs_f64() / took.as_secs_f64() * 1.1).max(1.1)
        };
        passes = ((f64::from(passes) * scale).ceil() as u32).max(passes + 1);
    }
}

/// Time for one pass, measured over `passes` passes.
fn per_pass(passes: u32, pass: impl Fn()) -> Duration {
    let started = Instant::now();
    for _ in 0..passes {
        pass();
    }
    started.elapsed() / passes
}

fn print_table(rows: &[Row]) {
    println!(
        "\n{:<10} {:>7} {:>10} {:>14} {:>14} {:>7}  verdict (target <= {TARGET_RATIO}x)",
        "format", "records", "bytes", "baseline/s", "warden/s", "ratio"
    );
    for row in rows {
        let verdict = if row.ratio() <= TARGET_RATIO {
            "ok"
        } else {
            "OVER"
        };
        let rejected = if row.rejected > 0 {
            format!(" ({} rejected by parse_record)", row.rejected)
        } else {
            String::new()
        };
        println!(
            "{:<10} {:>7} {:>10} {:>14.0} {:>14.0} {:>6.2}x  {verdict}{rejected}",
            row.format.as_str(),
            row.records,
            row.bytes,
            row.per_second(row.baseline),
            row.per_second(row.warden),
            row.ratio(),
        );
    }
}

/// Every alert record available, grouped by detected format; also the
/// number of files read and of records no format claimed.
fn corpus(formats: &Formats) -> (BTreeMap<SourceFormat, Vec<Record>>, usize, usize) {
    let repo = warden_testkit::repo();
    let mut roots = vec![
        repo.join("examples/alerts"),
        repo.join("crates/warden-ingest/testdata"),
    ];
    for relative in ["alerts", "ocsf/examples"] {
        roots.extend(warden_testkit::shared_data(relative));
    }
    let mut files = Vec::new();
    for root in roots.iter().filter(|r| r.exists()) {
        collect_files(root, &mut files);
    }
    files.sort();
    files.dedup();

    let mut by_format: BTreeMap<SourceFormat, Vec<Record>> = BTreeMap::new();
    let mut undetected = 0;
    for file in &files {
        for record in records_in(file) {
            let format = serde_json::from_slice::<Value>(&record.bytes)
                .ok()
                .and_then(|value| formats.detect(&value).ok())
                .map(|choice| match choice {
                    FormatChoice::Builtin(format) => format,
                    FormatChoice::Mapped(_) => SourceFormat::Mapped,
                });
            match format {
                Some(format) => by_format.entry(format).or_default().push(record),
                None => undetected += 1,
            }
        }
    }
    (by_format, files.len(), undetected)
}

/// Alert files under `dir`: `.json` and `.jsonl`, leaving out the shared
/// data's manifests and provenance sidecars.
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("throughput: cannot read {}", dir.display());
        return;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() {
            collect_files(&path, out);
        } else if name == "manifest.jsonl" || name.ends_with(".provenance.jsonl") {
            continue;
        } else if name.ends_with(".json") || name.ends_with(".jsonl") {
            out.push(path);
        }
    }
}

/// The records of one file, as the reader sees them: a `.jsonl` line's
/// bytes; a `.json` object's whole file; the elements of a `.json` array, or
/// of an API response wrapping a list (`{"Findings": [...]}`,
/// `{"hits": {"hits": [...]}}`), in their compact serialised form.
fn records_in(path: &Path) -> Vec<Record> {
    let Ok(bytes) = std::fs::read(path) else {
        eprintln!("throughput: cannot read {}", path.display());
        return Vec::new();
    };
    let name = path.display().to_string();
    if name.ends_with(".jsonl") {
        return bytes
            .split(|b| *b == b'\n')
            .enumerate()
            .map(|(index, line)| (index, line.strip_suffix(b"\r").unwrap_or(line)))
            .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
            .map(|(index, line)| Record {
                origin: format!("{name}:{}", index + 1),
                bytes: line.to_vec(),
            })
            .collect();
    }
    let items = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Array(items)) => items,
        Ok(value) => {
            let listed = if detect(&value).is_err() {
                envelope(&value)
            } else {
                Vec::new()
            };
            if listed.is_empty() {
                return vec![Record {
                    origin: name,
                    bytes,
                }];
            }
            listed
        }
        Err(_) => return Vec::new(),
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| {
            Some(Record {
                origin: format!("{name}[{index}]"),
                bytes: serde_json::to_vec(item).ok()?,
            })
        })
        .collect()
}

/// The objects listed by an API response envelope: every top-level array of
/// objects, and Elasticsearch's `hits.hits`. (Wider than the reader's list
/// of keys; what is not an alert is left out by `detect` afterwards.)
fn envelope(value: &Value) -> Vec<Value> {
    let Some(map) = value.as_object() else {
        return Vec::new();
    };
    let hits = map.get("hits").and_then(|h| h.get("hits"));
    map.values()
        .chain(hits)
        .filter_map(Value::as_array)
        .filter(|items| items.iter().all(Value::is_object))
        .flatten()
        .cloned()
        .collect()
}
