//! Business rules and queries, one module per capability. Knows sea-orm; never async-graphql or
//! axum.

pub mod audit;
pub mod changes;
pub mod drilldown;
pub mod find;
pub use anju_contract::id_number;
pub mod indicators;
pub mod pagination;
pub mod periods;
pub mod reads;
pub mod register;
pub mod rules;
pub mod scope;
pub mod unscoped;
pub mod watch;
pub mod webhooks;
pub mod write;
