//! What every command shares: the data directory and what lives in it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use warden_pipeline::Config;
use warden_policy::PolicyEngine;
use warden_store::{Backend, StoreUrl};

/// The database file inside the data directory (the embedded store).
pub const DATABASE: &str = "warden.db";
/// Where the store is, winning over `[store] url`.
pub const STORE_URL_VAR: &str = "WARDEN_STORE_URL";
/// The configuration file inside the data directory.
pub const CONFIG: &str = "warden.toml";
/// The audit log's key pair (`audit.key`, owner-only, and `audit.pub`).
pub const KEYS: &str = "keys";
/// The newest signed checkpoint, to ship to another system.
pub const CHECKPOINT: &str = "audit-checkpoint.txt";

/// The audit log as commands use it, on either backend.
pub type Audit = warden_audit::StoreAuditLog<dyn Backend>;

/// An opened data directory.
#[derive(Debug)]
pub struct Env {
    pub data_dir: PathBuf,
    pub config: Config,
    /// Where the store is (shown with its password masked).
    pub store_url: StoreUrl,
    pub store: Arc<dyn Backend>,
    pub policy: PolicyEngine,
    pub attack: Option<warden_ingest::AttackCatalogue>,
    /// The built-in formats plus the configured mappings.
    pub formats: warden_ingest::Formats,
    /// The operator's playbooks (`[playbooks] dir`); `None`: the shipped set.
    pub playbooks: Option<warden_playbook::PlaybookSet>,
    /// The audit log, signing checkpoints with the data directory's key.
    pub audit: Arc<Audit>,
}

impl Env {
    /// The pipeline over this data directory, with `context`.
    pub fn pipeline(
        &self,
        context: warden_enrich::Context,
    ) -> anyhow::Result<warden_pipeline::Pipeline> {
        use warden_domain::{Clock, SystemClock};
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let pipeline = warden_pipeline::Pipeline::new(
            self.config.clone(),
            self.store.clone(),
            self.audit.clone(),
            clock,
            self.policy.clone(),
            context,
        )?
        .with_formats(self.formats.clone());
        let pipeline = match &self.playbooks {
            Some(playbooks) => pipeline.with_playbooks(playbooks.clone())?,
            None => pipeline,
        };
        Ok(match &self.attack {
            Some(catalogue) => pipeline.with_attack_catalogue(catalogue.clone()),
            None => pipeline,
        })
    }
}

impl Env {
    /// End of a command that wrote to the log: sign a checkpoint over
    /// everything it wrote (and ship it to the checkpoint file).
    pub async fn finish(&self) -> anyhow::Result<()> {
        self.audit
            .checkpoint()
            .await
            .context("cannot sign the audit checkpoint")?;
        Ok(())
    }

    /// Also read the sources described by these mapping files (`--mapping`).
    pub fn add_mappings(&mut self, files: &[PathBuf]) -> anyhow::Result<()> {
        for file in files {
            self.formats.add(warden_ingest::Mapping::load(file)?)?;
        }
        Ok(())
    }

    /// The format `--format NAME` names: a built-in or a loaded mapping.
    pub fn format(
        &self,
        name: Option<&str>,
    ) -> anyhow::Result<Option<warden_ingest::FormatChoice>> {
        name.map(|name| self.formats.choose(name).map_err(anyhow::Error::msg))
            .transpose()
    }
}

/// What [`open`] created that did not exist before.
#[derive(Debug, Default)]
pub struct Created {
    pub paths: Vec<PathBuf>,
}

/// Open the data directory, creating it (with a default configuration and
/// an empty store) on first use.
pub async fn open(data_dir: &Path, config_path: Option<&Path>) -> anyhow::Result<(Env, Created)> {
    let mut created = Created::default();
    if !data_dir.exists() {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        created.paths.push(data_dir.to_path_buf());
    }
    let config_file = match config_path {
        Some(path) => path.to_path_buf(),
        None => {
            let path = data_dir.join(CONFIG);
            if !path.exists() {
                std::fs::write(&path, Config::default_file())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                created.paths.push(path.clone());
            }
            path
        }
    };
    let config = Config::load(&config_file)?;

    let (store_url, from) = store_url(data_dir, &config)?;
    if let StoreUrl::Sqlite(database) = &store_url
        && !database.exists()
    {
        created.paths.push(database.clone());
    }
    // The error names the store (password masked) and what failed.
    let store = warden_store::open(&store_url)
        .await
        .with_context(|| format!("store from {from}"))?;
    let (key, made_key) = audit_key(data_dir, &config.audit)?;
    if made_key {
        created.paths.push(
            data_dir
                .join(KEYS)
                .join(warden_audit::signing::PRIVATE_KEY_FILE),
        );
        created.paths.push(
            data_dir
                .join(KEYS)
                .join(warden_audit::signing::PUBLIC_KEY_FILE),
        );
    }
    let audit = Arc::new(
        warden_audit::StoreAuditLog::new(store.clone(), Arc::new(warden_domain::SystemClock))
            .with_checkpointer(
                warden_audit::Checkpointer::new(key, config.audit.checkpoint_every)
                    .with_file(data_dir.join(CHECKPOINT))
                    .with_witnesses(
                        warden_audit::witness::parse_all(&config.audit.witnesses)
                            .context("[audit] witnesses")?,
                    ),
            ),
    );

    let policy = match &config.policy.policies {
        None => PolicyEngine::default_set().context("the shipped policy set does not load")?,
        Some(file) => {
            let path = data_dir.join(file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read policy file {}", path.display()))?;
            PolicyEngine::load(warden_policy::DEFAULT_SCHEMA, &text)
                .with_context(|| format!("policy file {} is not valid", path.display()))?
        }
    };
    let attack = match &config.ingest.attack_catalogue {
        None => None,
        Some(file) => Some(
            warden_ingest::AttackCatalogue::load(&data_dir.join(file))
                .map_err(anyhow::Error::msg)
                .context("[ingest] attack_catalogue")?,
        ),
    };
    let mut formats = warden_ingest::Formats::default();
    for file in &config.ingest.mappings {
        let mapping =
            warden_ingest::Mapping::load(&data_dir.join(file)).context("[ingest] mappings")?;
        formats.add(mapping).context("[ingest] mappings")?;
    }
    let playbooks = match &config.playbooks.dir {
        None => None,
        Some(dir) => Some(
            warden_playbook::PlaybookSet::load_dir(&data_dir.join(dir))
                .context("[playbooks] dir")?,
        ),
    };
    Ok((
        Env {
            data_dir: data_dir.to_path_buf(),
            config,
            store_url,
            store,
            policy,
            attack,
            formats,
            playbooks,
            audit,
        },
        created,
    ))
}

/// Where the store is, and which setting said so: `WARDEN_STORE_URL`,
/// else `[store] url`, else `warden.db` in the data directory.
pub fn store_url(data_dir: &Path, config: &Config) -> anyhow::Result<(StoreUrl, &'static str)> {
    let from_env = std::env::var(STORE_URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty());
    let (text, from) = match (from_env, &config.store.url) {
        (Some(url), _) => (url, STORE_URL_VAR),
        (None, Some(url)) => (url.clone(), "[store] url"),
        (None, None) => {
            return Ok((
                StoreUrl::Sqlite(data_dir.join(DATABASE)),
                "the data directory's warden.db",
            ));
        }
    };
    let url = StoreUrl::parse(&text, data_dir).with_context(|| from.to_owned())?;
    Ok((url, from))
}

/// The data directory's audit key, made on first use (`warden init`). The
/// log's name is unique per data directory, so checkpoints of two
/// installations can never be confused.
fn audit_key(
    data_dir: &Path,
    audit: &warden_pipeline::AuditConfig,
) -> anyhow::Result<(warden_audit::LogKey, bool)> {
    // A key kept outside the data directory is never made here: it is
    // provisioned by the account that owns it.
    if let Some(path) = &audit.signing_key {
        let key =
            warden_audit::LogKey::load(path).with_context(|| "[audit] signing_key".to_owned())?;
        return Ok((key, false));
    }
    let dir = data_dir.join(KEYS);
    let private = dir.join(warden_audit::signing::PRIVATE_KEY_FILE);
    if private.exists() {
        let key = warden_audit::LogKey::load(&private)?;
        return Ok((key, false));
    }
    let origin = format!("warden.audit/{}", uuid::Uuid::now_v7().simple());
    let key = warden_audit::LogKey::create_files(&dir, &origin)
        .with_context(|| format!("cannot create the audit key in {}", dir.display()))?;
    Ok((key, true))
}

/// The public key that checks the checkpoints: `audit.pub` beside the
/// configured `[audit] signing_key` when there is one, else the data
/// directory's.
pub fn configured_public_key(
    data_dir: &Path,
    audit: &warden_pipeline::AuditConfig,
) -> anyhow::Result<warden_audit::PublicKey> {
    if let Some(private) = &audit.signing_key {
        let beside = private.with_file_name(warden_audit::signing::PUBLIC_KEY_FILE);
        if beside.exists() {
            return Ok(warden_audit::PublicKey::load(&beside)?);
        }
    }
    public_key(data_dir)
}

/// The public key that checks this data directory's checkpoints.
pub fn public_key(data_dir: &Path) -> anyhow::Result<warden_audit::PublicKey> {
    let path = data_dir
        .join(KEYS)
        .join(warden_audit::signing::PUBLIC_KEY_FILE);
    Ok(warden_audit::PublicKey::load(&path)?)
}
