//! The stacks of a stage: data (stateful) and api (stateless, freely replaced), after the bootstrap
//! stack that each account and region needs once, and the stage's delivery pipeline when it has one.

pub mod api;
pub mod bootstrap;
pub mod data;
pub mod pipeline;
