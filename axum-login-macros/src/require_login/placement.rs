//! Where a `#[require_login]` handler sits, for the two placements whose expansion cannot work:
//! an associated function with a policy (an `impl` block cannot hold the policy's type), and a
//! handler without arguments under `#[axum::debug_handler]` (which calls it with the arguments it
//! was written with, and the guard would add one).
//!
//! An attribute macro is not told where its item is. So, when the compiler tells us the source
//! file (`Span::local_file`), the handler's own file is read and parsed, and the handler found by
//! its name among the functions that carry `#[require_login]`. Only when every such function of
//! that name agrees is the answer used, to give one error that says how to write the handler;
//! otherwise (no file, as under rust-analyzer; a name in several places; a handler made by a
//! `macro_rules!`) the expansion is the usual one, and a misplaced handler gets rustc's errors.
//! The file is the one being compiled, so reading it adds no input to the build.

use std::{
    cell::RefCell,
    collections::HashMap,
    path::{Path, PathBuf},
    rc::Rc,
};

use syn::{ImplItem, Item, Stmt, TraitItem};

/// What the source file says about a handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    /// In an `impl` or `trait` block.
    pub(crate) associated: bool,
    /// `#[axum::debug_handler]` is written above `#[require_login]`.
    pub(crate) debug_handler_above: bool,
}

/// Every function of a file that carries `#[require_login]`, by name.
type Handlers = HashMap<String, Vec<Placement>>;

thread_local! {
    static FILES: RefCell<HashMap<PathBuf, Rc<Handlers>>> = RefCell::new(HashMap::new());
}

/// Where the handler named `name`, being expanded now, sits; `None` when that cannot be told.
pub(crate) fn of(name: &syn::Ident) -> Option<Placement> {
    if !proc_macro::is_available() {
        return None;
    }
    let path = proc_macro::Span::call_site().local_file()?;
    let handlers = FILES.with(|files| {
        files
            .borrow_mut()
            .entry(path.clone())
            .or_insert_with(|| Rc::new(read(&path).unwrap_or_default()))
            .clone()
    });
    let found = handlers.get(&name.to_string())?;
    let first = *found.first()?;
    found.iter().all(|other| *other == first).then_some(first)
}

fn read(path: &Path) -> Option<Handlers> {
    let source = std::fs::read_to_string(path).ok()?;
    let file = syn::parse_file(&source).ok()?;
    let mut handlers = Handlers::new();
    items(&file.items, &mut handlers);
    Some(handlers)
}

fn record(name: &syn::Ident, attrs: &[syn::Attribute], associated: bool, out: &mut Handlers) {
    let last = |attr: &syn::Attribute| {
        attr.path()
            .segments
            .last()
            .map(|segment| segment.ident.to_string())
    };
    let Some(guard) = attrs
        .iter()
        .position(|attr| last(attr).as_deref() == Some("require_login"))
    else {
        return;
    };
    let debug_handler_above = attrs[..guard]
        .iter()
        .any(|attr| last(attr).as_deref() == Some("debug_handler"));
    out.entry(name.to_string()).or_default().push(Placement {
        associated,
        debug_handler_above,
    });
}

fn items(items: &[Item], out: &mut Handlers) {
    for item in items {
        match item {
            Item::Fn(function) => {
                record(&function.sig.ident, &function.attrs, false, out);
                block(&function.block, out);
            }
            Item::Mod(module) => {
                if let Some((_, content)) = &module.content {
                    self::items(content, out);
                }
            }
            Item::Impl(block_) => {
                for item in &block_.items {
                    if let ImplItem::Fn(function) = item {
                        record(&function.sig.ident, &function.attrs, true, out);
                        block(&function.block, out);
                    }
                }
            }
            Item::Trait(trait_) => {
                for item in &trait_.items {
                    if let TraitItem::Fn(function) = item {
                        record(&function.sig.ident, &function.attrs, true, out);
                        if let Some(body) = &function.default {
                            block(body, out);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// The items declared in a function body, such as handlers written inside a test.
fn block(body: &syn::Block, out: &mut Handlers) {
    let nested: Vec<Item> = body
        .stmts
        .iter()
        .filter_map(|stmt| match stmt {
            Stmt::Item(item) => Some(item.clone()),
            _ => None,
        })
        .collect();
    items(&nested, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handlers(source: &str) -> Handlers {
        let file = syn::parse_file(source).expect("valid source");
        let mut out = Handlers::new();
        items(&file.items, &mut out);
        out
    }

    #[test]
    fn tells_free_from_associated_handlers() {
        let found = handlers(
            r"
            #[require_login] async fn free() {}
            mod m { #[axum_login::require_login(role = A::B)] async fn nested() {} }
            impl Pages { #[require_login(role = A::B)] async fn method() {} }
            async fn unguarded() {}
            #[tokio::test] async fn test() { #[require_login] async fn local() {} }
            ",
        );
        let placement = |name: &str| found[name][0];
        assert!(!placement("free").associated);
        assert!(!placement("nested").associated);
        assert!(placement("method").associated);
        assert!(!placement("local").associated);
        assert!(!found.contains_key("unguarded"));
    }

    #[test]
    fn sees_debug_handler_above_the_guard_only() {
        let found = handlers(
            r"
            #[axum::debug_handler] #[require_login] async fn above() {}
            #[require_login] #[axum::debug_handler] async fn below() {}
            ",
        );
        assert!(found["above"][0].debug_handler_above);
        assert!(!found["below"][0].debug_handler_above);
    }
}
