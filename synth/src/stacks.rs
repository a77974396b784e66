//! The two stacks of a stage: data (stateful) and api (stateless, freely replaced).

pub mod api;
pub mod data;
