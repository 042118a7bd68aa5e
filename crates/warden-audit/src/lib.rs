//! warden-audit
