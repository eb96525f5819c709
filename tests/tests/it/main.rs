//! Anju's integration tests: one binary. Every test runs against SQLite, or against PostgreSQL
//! when `ANJU_TEST_DATABASE_URL` names a server (each test gets a fresh database there).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod api;
mod auth;
mod bulletins;
mod cache;
mod cache_state;
mod changes;
mod config;
mod db_faults;
mod demo;
mod drilldown;
mod edge;
mod errors;
mod http_protocol;
mod import;
mod indicators_domain;
mod input;
mod layers;
mod limits;
mod mirror;
mod mutations;
mod ops;
mod periods;
mod persisted;
mod read_routing;
mod redis_cluster;
mod relay;
mod replicas;
mod response_cache;
mod rollup;
mod rows;
mod schema;
mod statements;
mod subscriptions;
mod support;
mod throttle;
mod watchlists;
mod webhooks;
