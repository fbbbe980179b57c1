// A user type without a password hash binds its sessions to a security stamp: text, bytes or
// an integer.
use axum_login::AuthUser;

#[derive(Clone, AuthUser)]
struct Token {
    #[auth(id)]
    id: u64,
    #[auth(security_stamp)]
    stamp: String,
}

#[derive(Clone, AuthUser)]
struct Counter {
    #[auth(id)]
    id: u64,
    #[auth(security_stamp)]
    generation: u64,
}

#[derive(Clone, AuthUser)]
struct Optional {
    #[auth(id)]
    id: u64,
    #[auth(security_stamp)]
    stamp: Option<Vec<u8>>,
}

fn main() {
    let token = Token { id: 1, stamp: "abc".into() };
    assert_eq!(&*token.security_stamp(), b"abc");
    let counter = Counter { id: 2, generation: 7 };
    assert_eq!(&*counter.security_stamp(), &7_u64.to_le_bytes());
    let optional = Optional { id: 3, stamp: None };
    assert!(optional.security_stamp().is_empty());
    assert_eq!(token.id() + counter.id() + optional.id(), 6);
}
