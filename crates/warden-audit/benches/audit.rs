//! Audit log benchmarks (filled in by the benchmark work of issue 6).
fn main() {}
