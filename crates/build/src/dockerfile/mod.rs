//! Dockerfiles: [`parse`] turns the text into [`Dockerfile`] (instructions
//! with their flags and raw arguments, located by line); variables are
//! substituted later, at build time, by [`expand`], because their values
//! depend on the build's state.

pub mod ast;

pub use ast::*;
pub mod expand;
