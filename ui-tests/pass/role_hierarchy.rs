use axum_login::{authz::ParseNameError, Permission, Role};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    #[role(implies(Editor, Auditor))]
    Admin,
    #[role(implies(Viewer))]
    Editor,
    #[role(implies(Viewer), rename = "audit")]
    Auditor,
    Viewer,
    Guest,
}

#[derive(Debug, Role)]
#[role(rename_all = "SCREAMING_SNAKE_CASE")]
enum Shouty {
    ReadOnly,
}

// No `Clone`, `Copy` or `PartialEq`: the derive compares variants by `match`.
#[derive(Debug, Permission)]
#[permission(rename_all = "dot.case")]
enum Perm {
    PostsWrite,
    #[permission(rename = "posts:read")]
    PostsRead,
}

fn main() {
    use Access::*;
    // Transitive: Admin -> Editor -> Viewer.
    assert!(Admin.satisfies(&Viewer));
    assert!(Admin.satisfies(&Auditor));
    assert!(Admin.satisfies(&Admin));
    assert!(!Admin.satisfies(&Guest));
    assert!(Editor.satisfies(&Viewer));
    assert!(!Editor.satisfies(&Admin));
    assert!(!Viewer.satisfies(&Editor));
    assert!(Guest.satisfies(&Guest));

    assert_eq!(Access::ALL, [Admin, Editor, Auditor, Viewer, Guest]);
    assert_eq!(Auditor.as_str(), "audit");
    assert_eq!(Editor.to_string(), "editor");
    assert_eq!("audit".parse::<Access>(), Ok(Auditor));
    let error: ParseNameError = "root".parse::<Access>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown role `root`; expected one of: `admin`, `editor`, `audit`, `viewer`, `guest`"
    );

    assert_eq!(serde_json::to_string(&Admin).unwrap(), "\"admin\"");
    assert_eq!(
        serde_json::from_str::<Access>("\"viewer\"").unwrap(),
        Viewer
    );
    let error = serde_json::from_str::<Access>("\"root\"")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("unknown role `root`; expected one of: `admin`"),
        "{error}"
    );

    assert_eq!(Shouty::ReadOnly.as_str(), "READ_ONLY");
    assert!(Shouty::ReadOnly.satisfies(&Shouty::ReadOnly));

    assert_eq!(Perm::PostsWrite.as_str(), "posts.write");
    assert_eq!(Perm::PostsRead.to_string(), "posts:read");
    assert!(matches!(
        "posts.write".parse::<Perm>(),
        Ok(Perm::PostsWrite)
    ));
    let error = "posts.delete".parse::<Perm>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown permission `posts.delete`; expected one of: `posts.write`, `posts:read`"
    );
    assert_eq!(Perm::ALL.len(), 2);
}
