use axum_login::Permission;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Permission)]
enum Perm {
    #[permission(implies(PostsRead))]
    PostsWrite,
    PostsRead,
}

fn main() {}
