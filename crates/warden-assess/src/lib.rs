//! warden-assess
