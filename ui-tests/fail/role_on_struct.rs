use axum_login::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
struct Admin;

fn main() {}
