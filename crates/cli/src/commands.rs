//! One module per command: its arguments and what it does. `main.rs` keeps
//! the parser and the dispatch.

pub(crate) mod chat;
pub(crate) mod corpus;
pub(crate) mod eval;
pub(crate) mod export;
pub(crate) mod info;
pub(crate) mod plot;
pub(crate) mod prepare;
pub(crate) mod sample;
pub(crate) mod serve;
pub(crate) mod train;
