//! warden-enrich
