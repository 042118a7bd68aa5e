//! What every command shares: the data directory and what lives in it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use warden_pipeline::Config;
use warden_policy::PolicyEngine;
use warden_store::SqliteStore;

/// The database file inside the data directory.
pub const DATABASE: &str = "warden.db";
/// The configuration file inside the data directory.
pub const CONFIG: &str = "warden.toml";

/// An opened data directory.
#[derive(Debug)]
pub struct Env {
    pub data_dir: PathBuf,
    pub config: Config,
    pub store: Arc<SqliteStore>,
    pub policy: PolicyEngine,
    pub attack: Option<warden_ingest::AttackCatalogue>,
    /// The built-in formats plus the configured mappings.
    pub formats: warden_ingest::Formats,
    /// The operator's playbooks (`[playbooks] dir`); `None`: the shipped set.
    pub playbooks: Option<warden_playbook::PlaybookSet>,
}

impl Env {
    /// The pipeline over this data directory, with `context`.
    pub fn pipeline(
        &self,
        context: warden_enrich::Context,
    ) -> anyhow::Result<warden_pipeline::Pipeline> {
        use warden_domain::{Clock, SystemClock};
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let audit = Arc::new(warden_audit::StoreAuditLog::new(
            self.store.clone(),
            clock.clone(),
        ));
        let pipeline = warden_pipeline::Pipeline::new(
            self.config.clone(),
            self.store.clone(),
            audit,
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

    let database = data_dir.join(DATABASE);
    if !database.exists() {
        created.paths.push(database.clone());
    }
    let store = SqliteStore::open(&database)
        .await
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))?;

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
            store: Arc::new(store),
            policy,
            attack,
            formats,
            playbooks,
        },
        created,
    ))
}
