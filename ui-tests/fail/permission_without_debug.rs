use axum_login::Permission;

#[derive(Clone, Copy, PartialEq, Eq, Permission)]
enum Perm {
    PostsRead,
}

fn main() {}
