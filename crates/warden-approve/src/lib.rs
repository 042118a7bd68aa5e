//! warden-approve
