//! What xtask's integration tests share: scratch directories, commands run as a person, and the smallest
//! function binary deploy accepts. Each test binary uses some of it.
#![allow(dead_code, reason = "each test binary uses a part of the support, not all of it")]

pub mod elf;
pub mod person;
pub mod scratch;
