//! warden-ingest
