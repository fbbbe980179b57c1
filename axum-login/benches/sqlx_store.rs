//! Benchmark of the sqlx user store (filled in below).

fn main() {}
