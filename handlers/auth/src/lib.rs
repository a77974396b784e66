//! The logic shared by the Lambda functions: request validation, the password scheme, the token
//! scheme, the user store, the signing-key cache, and each route's handler.
//!
//! Handlers are generic over small traits ([`store::UserStore`], [`password::Cipher`],
//! [`keys::SecretSource`], [`clock::Clock`]) with an AWS implementation and an in-memory fake each, so
//! the same handler code runs in Lambda, against an AWS emulator and in plain unit tests. The binaries
//! under `handlers/` only build the AWS clients and call `handle`.

pub mod authorizer;
pub mod clock;
pub mod codes;
pub mod config;
pub mod error;
pub mod forgot;
pub mod hello;
pub mod keys;
pub mod lockout;
pub mod logging;
pub mod mail;
pub mod outbox;
pub mod password;
pub mod proxy;
pub mod refresh;
pub mod request;
pub mod reset;
pub mod session;
pub mod signin;
pub mod signout;
pub mod signup;
pub mod store;
pub mod token;
pub mod validate;
pub mod verify;

#[cfg(test)]
mod testing;
