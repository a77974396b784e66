//! The stacks of a stage: data (stateful) and api (stateless, freely replaced), after the bootstrap
//! stack that each account and region needs once.

pub mod api;
pub mod bootstrap;
pub mod data;
