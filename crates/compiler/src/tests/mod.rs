//! Compiler unit tests that need the whole crate (moved out of the modules they test).

mod cte;
mod select;
