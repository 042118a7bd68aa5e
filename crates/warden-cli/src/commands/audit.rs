//! `warden audit`: verify the log, prove entries, export and search it.
//!
//! `verify` exits 0 when every entry and every checkpoint verifies and 1
//! when not, naming the first bad sequence number (the contract).
//! `verify-proof` needs only a proof file and the public key: it never
//! opens a data directory, so it runs on the auditor's machine.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warden_audit::witness::{SecretRef, WitnessConfig};
use warden_audit::{export, proof, search, verify};
use warden_domain::CaseId;
use warden_store::AuditQuery;

use crate::env;

#[derive(Debug, Parser)]
pub struct Args {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the tree from every entry and check every checkpoint.
    Verify {
        /// Public key to check checkpoints with [default: DATA_DIR/keys/audit.pub].
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// A checkpoint kept outside the store (a copy of
        /// audit-checkpoint.txt shipped elsewhere); repeatable. The data
        /// directory's own audit-checkpoint.txt is always checked too.
        #[arg(long = "checkpoint")]
        checkpoints: Vec<PathBuf>,
        /// A witness to check against (`file:///PATH`, `https://HOST/PATH`),
        /// besides those in `[audit] witnesses`; repeatable. Name it here
        /// when the configuration itself may have been changed. A syslog
        /// witness is push-only: it is listed as not checked.
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        /// Environment variable holding the bearer token for the
        /// `--witness` HTTP witnesses (never printed).
        #[arg(long, value_name = "NAME", requires = "witnesses")]
        witness_token_env: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Inclusion proof of entry SEQ against the newest checkpoint (one is
    /// signed first if none covers SEQ), as JSON.
    Prove {
        seq: u64,
        /// Write the proof here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Consistency proof between the checkpoints of OLD and NEW entries
    /// [NEW default: the newest], as JSON.
    Consistency {
        old: u64,
        new: Option<u64>,
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Check a proof with the public key alone (no data directory needed).
    VerifyProof {
        proof: PathBuf,
        #[arg(long)]
        public_key: PathBuf,
    },
    /// Sign a checkpoint now and print it (C2SP signed note).
    Checkpoint,
    /// Write entries as JSON lines or RFC 5424 syslog, to a file, standard
    /// output, or a UDP or TCP listener.
    Export {
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// File to write [default: standard output].
        #[arg(long, conflicts_with_all = ["udp", "tcp"])]
        output: Option<PathBuf>,
        /// Syslog listener over UDP (RFC 5426), HOST:PORT.
        #[arg(long, conflicts_with = "tcp")]
        udp: Option<SocketAddr>,
        /// Syslog listener over TCP (RFC 6587 octet counting), HOST:PORT.
        #[arg(long)]
        tcp: Option<SocketAddr>,
        /// Only entries after this sequence number (resume an export).
        #[arg(long)]
        after: Option<u64>,
        #[command(flatten)]
        filter: Filter,
    },
    /// Find entries by case, actor, action, tool, kind and time.
    Search {
        #[command(flatten)]
        filter: Filter,
        /// Filter on an action anywhere in the event (`edr.isolate_host`).
        #[arg(long)]
        action: Option<String>,
        /// Filter on a context tool (`asset_lookup`).
        #[arg(long)]
        tool: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        /// One JSON line per entry instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Syslog,
}

#[derive(Debug, clap::Args)]
pub struct Filter {
    #[arg(long)]
    case: Option<String>,
    /// Exact actor (`person:alice`, `agent:phishing`, `system:pipeline`).
    #[arg(long)]
    actor: Option<String>,
    /// Event kind (`policy_decided`, `approval_recorded`, ...); repeatable.
    #[arg(long = "kind")]
    kinds: Vec<String>,
    /// RFC 3339 time: entries at or after it.
    #[arg(long)]
    since: Option<String>,
    /// RFC 3339 time: entries at or before it.
    #[arg(long)]
    until: Option<String>,
}

fn parse_time(flag: &str, text: Option<&str>) -> anyhow::Result<Option<OffsetDateTime>> {
    text.map(|t| {
        OffsetDateTime::parse(t, &Rfc3339).with_context(|| {
            format!("--{flag} {t:?} is not an RFC 3339 time (2026-11-21T10:00:00Z)")
        })
    })
    .transpose()
}

impl Filter {
    fn case(&self) -> anyhow::Result<Option<CaseId>> {
        self.case
            .as_deref()
            .map(|c| {
                CaseId::parse(c).map_err(|e| anyhow::anyhow!("--case {c:?} is not a case id: {e}"))
            })
            .transpose()
    }

    fn query(&self) -> anyhow::Result<AuditQuery> {
        Ok(AuditQuery {
            case: self.case()?,
            actor: self.actor.clone(),
            kinds: self.kinds.clone(),
            since: parse_time("since", self.since.as_deref())?,
            until: parse_time("until", self.until.as_deref())?,
            after_seq: None,
            limit: None,
        })
    }
}

fn write_out(output: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match output {
        Some(path) => std::fs::write(path, format!("{text}\n"))
            .with_context(|| format!("cannot write {}", path.display())),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

pub async fn run(data_dir: &Path, config: Option<&Path>, args: Args) -> anyhow::Result<ExitCode> {
    if let AuditCommand::VerifyProof { proof, public_key } = &args.command {
        return verify_proof(proof, public_key);
    }
    let (env, _) = env::open(data_dir, config).await?;
    match args.command {
        AuditCommand::Verify {
            public_key,
            checkpoints,
            witnesses,
            witness_token_env,
            json,
        } => {
            let key = match public_key {
                Some(path) => warden_audit::PublicKey::load(&path)?,
                None => env::configured_public_key(data_dir, &env.config.audit)?,
            };
            let mut external = Vec::new();
            let shipped = data_dir.join(env::CHECKPOINT);
            for path in checkpoints
                .iter()
                .chain(shipped.exists().then_some(&shipped))
            {
                external.push(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read checkpoint {}", path.display()))?,
                );
            }
            // Every checkpoint each witness holds: a log rewritten and
            // re-signed with the data directory's key is not consistent
            // with what they kept. A push-only witness (syslog) cannot be
            // read back: it is named as not checked, never passed over
            // in silence.
            let mut configs = env.config.audit.witnesses.clone();
            configs.extend(witnesses.into_iter().map(|url| {
                let http = url.starts_with("https://") || url.starts_with("http://");
                WitnessConfig {
                    token: witness_token_env
                        .clone()
                        .filter(|_| http)
                        .map(SecretRef::Env),
                    url,
                }
            }));
            let mut witnessed = Vec::new();
            for witness in warden_audit::witness::parse_all(&configs).context("witnesses")? {
                let held = if witness.readable() {
                    let held = witness
                        .checkpoints()
                        .await
                        .with_context(|| format!("cannot read witness {}", witness.name()))?;
                    let count = held.len();
                    external.extend(held);
                    Some(count)
                } else {
                    None
                };
                witnessed.push((witness.name(), held));
            }
            let report = verify::verify_with(env.store.as_ref(), &key, &external).await?;
            if json {
                let mut value = serde_json::to_value(&report)?;
                if let Some(object) = value.as_object_mut() {
                    let list = witnessed
                        .iter()
                        .map(|(name, held)| match held {
                            Some(n) => serde_json::json!({"witness": name, "checkpoints": n}),
                            None => serde_json::json!({"witness": name, "checked": false}),
                        })
                        .collect();
                    object.insert("witnesses".into(), serde_json::Value::Array(list));
                }
                println!("{value}");
            } else {
                match &report.problem {
                    None => println!(
                        "ok: {} entries, root {}, {} checkpoints verified, signed through entry {}",
                        report.entries, report.root, report.checkpoints, report.signed_entries
                    ),
                    Some(problem) => println!(
                        "FAILED at entry {}: {}: {}",
                        problem.seq,
                        problem.kind.as_str(),
                        problem.detail
                    ),
                }
                for (name, held) in &witnessed {
                    match held {
                        Some(n) => println!("witness {name}: {n} checkpoints checked"),
                        None => println!("witness {name}: not readable, not checked"),
                    }
                }
            }
            Ok(if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AuditCommand::Prove { seq, output } => {
            let size = env.store.audit_size().await?;
            if seq == 0 || seq > size {
                bail!("there is no entry {seq}: the log has {size} entries");
            }
            let checkpoint = match env.store.checkpoints().await?.pop() {
                Some(newest) if newest.size >= seq => newest,
                _ => env
                    .audit
                    .checkpoint()
                    .await?
                    .context("no checkpoint could be signed")?,
            };
            let proof = proof::prove_inclusion(env.store.as_ref(), seq, &checkpoint).await?;
            write_out(output.as_deref(), &serde_json::to_string_pretty(&proof)?)?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Consistency { old, new, output } => {
            let checkpoints = env.store.checkpoints().await?;
            let find = |size: u64| {
                checkpoints
                    .iter()
                    .find(|c| c.size == size)
                    .with_context(|| {
                        let sizes: Vec<String> =
                            checkpoints.iter().map(|c| c.size.to_string()).collect();
                        format!(
                            "no checkpoint of {size} entries (checkpoints: {})",
                            sizes.join(", ")
                        )
                    })
            };
            let old = find(old)?;
            let new = match new {
                Some(size) => find(size)?,
                None => checkpoints.last().context("there are no checkpoints")?,
            };
            let proof = proof::prove_consistency(env.store.as_ref(), old, new).await?;
            write_out(output.as_deref(), &serde_json::to_string_pretty(&proof)?)?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::VerifyProof { .. } => Ok(ExitCode::FAILURE),
        AuditCommand::Checkpoint => {
            match env.audit.checkpoint().await? {
                Some(checkpoint) => print!("{}", checkpoint.note),
                None => println!("the log is empty: nothing to sign"),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export {
            format,
            output,
            udp,
            tcp,
            after,
            filter,
        } => {
            let mut query = filter.query()?;
            query.after_seq = after;
            let sink = match (output, udp, tcp) {
                (Some(path), _, _) => export::Sink::File(path),
                (_, Some(addr), _) => export::Sink::Udp(addr),
                (_, _, Some(addr)) => export::Sink::Tcp(addr),
                _ => export::Sink::Stdout,
            };
            let format = match format {
                ExportFormat::Jsonl => export::Format::JsonLines,
                ExportFormat::Syslog => export::Format::Syslog,
            };
            let done = export::export(env.store.as_ref(), &query, format, &sink).await?;
            if sink != export::Sink::Stdout {
                eprintln!(
                    "exported {} entries ({} bytes){}",
                    done.entries,
                    done.bytes,
                    done.last_seq
                        .map(|s| format!("; resume with --after {s}"))
                        .unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Search {
            filter,
            action,
            tool,
            limit,
            json,
        } => {
            let wanted = search::Search {
                query: AuditQuery {
                    limit,
                    ..filter.query()?
                },
                action,
                tool,
            };
            let records = search::search(env.store.as_ref(), &wanted).await?;
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            for record in &records {
                // A closed pipe (`| head`) ends the listing quietly.
                let written = if json {
                    writeln!(
                        out,
                        "{{\"seq\":{},\"leaf_hash\":\"{}\",\"entry\":{}}}",
                        record.seq,
                        record.leaf_hash,
                        record.entry.canonical()?
                    )
                } else {
                    let at = record.entry.at.format(&Rfc3339).unwrap_or_default();
                    let case = record
                        .entry
                        .event
                        .case_id()
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "-".into());
                    writeln!(
                        out,
                        "{:>7}  {at}  {:<28} {:<22} {case}",
                        record.seq,
                        record.entry.actor,
                        record.entry.event.kind()
                    )
                };
                if written.is_err() {
                    break;
                }
            }
            if !json {
                eprintln!("{} entries", records.len());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn verify_proof(proof_file: &Path, key_file: &Path) -> anyhow::Result<ExitCode> {
    let key = warden_audit::PublicKey::load(key_file)?;
    let text = std::fs::read_to_string(proof_file)
        .with_context(|| format!("cannot read {}", proof_file.display()))?;
    let proof = proof::AnyProof::parse(&text)?;
    match proof.verify(&key) {
        Ok(proven) => {
            match (proven.seq, proven.entry) {
                (Some(seq), Some(entry)) => println!(
                    "ok: entry {seq} ({} by {} at {}) is in log {} of {} entries",
                    entry.event.kind(),
                    entry.actor,
                    entry.at.format(&Rfc3339).unwrap_or_default(),
                    proven.origin,
                    proven.tree_size
                ),
                (Some(seq), None) => println!(
                    "ok: entry {seq} is in log {} of {} entries",
                    proven.origin, proven.tree_size
                ),
                _ => println!(
                    "ok: log {} grew consistently to {} entries",
                    proven.origin, proven.tree_size
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("FAILED: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}
