//! Connectors, one module per product. Each performs catalogue actions and
//! reports a result and, where possible, how to roll it back.

pub mod case_note;
pub mod sandbox;
