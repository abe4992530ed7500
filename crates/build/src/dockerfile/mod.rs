//! Dockerfiles: [`parse`] turns the text into [`Dockerfile`] (instructions
//! with their flags and raw arguments, located by line); variables are
//! substituted later, at build time, by [`expand`], because their values
//! depend on the build's state.
//!
//! The parser's passes: `directives` (the top comments), `lines` (logical
//! lines and heredoc bodies), `node` (each instruction's syntax: flags,
//! JSON or shell form, words), `heredoc` (heredoc words), `instructions`
//! (arguments and flags checked, [`Kind`] built), `parser` (the whole
//! file and the stage check).

pub mod ast;
mod directives;
mod duration;
mod error;
pub mod expand;
mod flags;
mod heredoc;
mod instructions;
mod lines;
mod node;
mod parser;
mod suggest;

pub use ast::*;
pub use duration::parse_duration;
pub use error::ParseError;
pub use parser::parse;
