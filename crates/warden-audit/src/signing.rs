//! The log's signing key and its checkpoints: C2SP signed notes
//! (`c2sp.org/signed-note`, Ed25519) over C2SP tlog-checkpoint bodies
//! (`c2sp.org/tlog-checkpoint`: origin, tree size, base64 root).
//!
//! Keys are kept in the text forms Go's `golang.org/x/mod/sumdb/note` uses
//! (`PRIVATE+KEY+name+id+key` and `name+id+key`), so a checkpoint can be
//! checked by any tool that speaks signed notes. The private key is only
//! ever read from its file; it has no `Debug` or `Display` that shows it.

use std::fmt;
use std::path::Path;

use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

/// What can go wrong with keys and checkpoints.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("{path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("the private key is malformed: {0}")]
    BadPrivateKey(String),
    #[error("the public key is malformed: {0}")]
    BadPublicKey(String),
    #[error("the checkpoint is malformed: {0}")]
    BadCheckpoint(String),
    #[error("the checkpoint's signature does not verify with key {key}: {reason}")]
    BadSignature { key: String, reason: String },
    #[error("the checkpoint is for log {found:?}, the key for {expected:?}")]
    WrongOrigin { expected: String, found: String },
}

/// The log's private key.
pub struct LogKey {
    signer: StandardSigner,
    public: PublicKey,
}

impl fmt::Debug for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogKey")
            .field("public", &self.public.text)
            .finish_non_exhaustive()
    }
}

/// The log's public key: all a verifier needs besides a checkpoint or proof.
#[derive(Clone)]
pub struct PublicKey {
    text: String,
    name: String,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PublicKey {
    /// Parse `name+id+base64key`.
    pub fn parse(text: &str) -> Result<Self, SigningError> {
        let text = text.trim();
        StandardVerifier::new(text).map_err(|e| SigningError::BadPublicKey(e.to_string()))?;
        let name = text
            .split('+')
            .next()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| SigningError::BadPublicKey("no key name".into()))?;
        Ok(Self {
            text: text.to_owned(),
            name: name.to_owned(),
        })
    }

    /// Read a public key file.
    pub fn load(path: &Path) -> Result<Self, SigningError> {
        let text = std::fs::read_to_string(path).map_err(|e| SigningError::KeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text)
    }

    /// The key's text form.
    pub fn as_text(&self) -> &str {
        &self.text
    }

    /// The log (origin) the key signs for.
    pub fn origin(&self) -> &str {
        &self.name
    }

    /// Check a signed checkpoint: the signature by this key, the body's
    /// format, and that it is this log's.
    pub fn open_checkpoint(&self, note: &str) -> Result<TreeHead, SigningError> {
        let verifier = StandardVerifier::new(&self.text)
            .map_err(|e| SigningError::BadPublicKey(e.to_string()))?;
        let parsed = Note::from_bytes(note.as_bytes())
            .map_err(|e| SigningError::BadCheckpoint(e.to_string()))?;
        parsed
            .verify(&VerifierList::new(vec![Box::new(verifier)]))
            .map_err(|e| SigningError::BadSignature {
                key: self.text.clone(),
                reason: e.to_string(),
            })?;
        let body = Checkpoint::from_bytes(parsed.text())
            .map_err(|e| SigningError::BadCheckpoint(e.to_string()))?;
        if body.origin() != self.name {
            return Err(SigningError::WrongOrigin {
                expected: self.name.clone(),
                found: body.origin().to_owned(),
            });
        }
        Ok(TreeHead {
            size: body.size(),
            root: *body.hash(),
        })
    }
}

/// A tree size and its root, as a verified checkpoint states them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
}

impl LogKey {
    /// A new key for the log named `origin` (no spaces or `+`).
    pub fn generate(origin: &str) -> Result<(Self, String), SigningError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(SigningError::BadPrivateKey(format!(
                "{origin:?} is not a valid log name (no spaces or '+')"
            )));
        }
        let (private, _) = signed_note::generate_key(&mut rand_core_06::OsRng, origin);
        let key = Self::parse(&private)?;
        Ok((key, private))
    }

    /// Parse `PRIVATE+KEY+name+id+base64key`.
    pub fn parse(text: &str) -> Result<Self, SigningError> {
        let text = text.trim();
        let signer = StandardSigner::new(text)
            // The parser's message never repeats the key.
            .map_err(|e| SigningError::BadPrivateKey(e.to_string()))?;
        let public = public_of(text)?;
        Ok(Self { signer, public })
    }

    /// Read the private key file.
    pub fn load(path: &Path) -> Result<Self, SigningError> {
        let text = std::fs::read_to_string(path).map_err(|e| SigningError::KeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text).map_err(|e| SigningError::KeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    /// Make a key pair in `dir`: `audit.key` (owner-only) and `audit.pub`.
    pub fn create_files(dir: &Path, origin: &str) -> Result<Self, SigningError> {
        let io = |path: &Path, e: std::io::Error| SigningError::KeyFile {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let (key, private) = Self::generate(origin)?;
        let private_path = dir.join(PRIVATE_KEY_FILE);
        write_private(&private_path, &private).map_err(|e| io(&private_path, e))?;
        let public_path = dir.join(PUBLIC_KEY_FILE);
        std::fs::write(&public_path, format!("{}\n", key.public.text))
            .map_err(|e| io(&public_path, e))?;
        Ok(key)
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// Sign the checkpoint for a tree of `size` leaves with root `root`.
    pub fn sign_checkpoint(&self, size: u64, root: Hash) -> Result<String, SigningError> {
        let body = Checkpoint::new(&self.public.name, size, root, "")
            .map_err(|e| SigningError::BadCheckpoint(e.to_string()))?;
        let mut note = Note::new(&body.to_bytes(), &[])
            .map_err(|e| SigningError::BadCheckpoint(e.to_string()))?;
        note.add_sigs(&[&self.signer])
            .map_err(|e| SigningError::BadCheckpoint(e.to_string()))?;
        String::from_utf8(note.to_bytes())
            .map_err(|e| SigningError::BadCheckpoint(format!("not UTF-8: {e}")))
    }
}

/// File names inside the key directory.
pub const PRIVATE_KEY_FILE: &str = "audit.key";
pub const PUBLIC_KEY_FILE: &str = "audit.pub";

/// The verifier key of a signer key: same name and id, the public half.
fn public_of(private: &str) -> Result<PublicKey, SigningError> {
    use base64::Engine as _;
    // Base64 may itself hold `+`: the key is everything after the fourth.
    let fields: Vec<&str> = private.splitn(5, '+').collect();
    let (Some(name), Some(key)) = (fields.get(2), fields.get(4)) else {
        return Err(SigningError::BadPrivateKey("wrong number of fields".into()));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|_| SigningError::BadPrivateKey("key is not base64".into()))?;
    let seed: [u8; 32] = bytes
        .get(1..)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| SigningError::BadPrivateKey("not an Ed25519 key".into()))?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    PublicKey::parse(&signed_note::new_ed25519_verifier_key(
        name,
        &signing.verifying_key(),
    ))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}

#[cfg(test)]
#[allow(clippy::expect_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn a_signed_checkpoint_opens_with_its_key_only() {
        let (key, private) = LogKey::generate("warden.test/audit").expect("key");
        assert!(!format!("{key:?}").contains(&private));
        let root = tlog_tiles::record_hash(b"x");
        let note = key.sign_checkpoint(7, root).expect("sign");
        let mut lines = note.lines();
        assert_eq!(lines.next(), Some("warden.test/audit"));
        assert_eq!(lines.next(), Some("7"));
        assert_eq!(lines.next(), Some(root.to_string().as_str()));
        assert_eq!(lines.next(), Some(""));
        assert!(
            lines
                .next()
                .is_some_and(|l| l.starts_with("\u{2014} warden.test/audit "))
        );
        let head = key.public().open_checkpoint(&note).expect("open");
        assert_eq!(head, TreeHead { size: 7, root });

        let (other, _) = LogKey::generate("warden.test/audit").expect("key");
        assert!(other.public().open_checkpoint(&note).is_err());
        let forged = note.replacen("\n7\n", "\n8\n", 1);
        assert!(key.public().open_checkpoint(&forged).is_err());
    }

    #[test]
    fn the_public_key_is_derived_from_the_private_one() {
        let dir = tempfile::tempdir().expect("dir");
        let key = LogKey::create_files(dir.path(), "warden.test/k").expect("create");
        let loaded = LogKey::load(&dir.path().join(PRIVATE_KEY_FILE)).expect("load");
        let public = PublicKey::load(&dir.path().join(PUBLIC_KEY_FILE)).expect("public");
        assert_eq!(loaded.public().as_text(), public.as_text());
        assert_eq!(key.public().as_text(), public.as_text());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(PRIVATE_KEY_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
