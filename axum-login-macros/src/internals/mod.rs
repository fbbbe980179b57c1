//! Helpers shared by every macro: error collection, name suggestions, case conversion and the
//! small attribute-grammar pieces that all `#[...(...)]` parsers need.

mod case;
mod ctxt;
mod meta;
mod sql;
mod suggest;
pub(crate) mod user_struct;

pub(crate) use case::{RenameRule, snake_case};
pub(crate) use ctxt::Ctxt;
pub(crate) use meta::{
    key_of, parse_crate_path, parse_lit_str, reject_value, skip_value, unknown_key,
};
pub(crate) use sql::check_identifier;
pub(crate) use suggest::{did_you_mean, expected_one_of};
