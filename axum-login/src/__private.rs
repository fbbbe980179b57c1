//! Internals for the code that the macros generate. Not public API: anything here may change in
//! any release.

pub use ::core;
pub use ::serde;
pub use ::std;
