//! warden-execute
