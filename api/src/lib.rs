//! Anju (安居): the poverty-alleviation relocation register, its indicators, and the GraphQL API
//! over them.
//!
//! Dependencies point one way: `startup → http → graphql → auth, ratelimit → register → domain →
//! cache, db → config, error, telemetry` (ARCHITECTURE.md; a test holds it). The `register`
//! module reads and writes the CSV interchange format, whose files and columns `anju-contract`
//! fixes; the demo county `serve` loads into an empty register comes from `anju-demo`.

pub mod auth;
pub mod cache;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod http;
pub mod ratelimit;
pub mod register;
pub mod startup;
pub mod telemetry;
