//! Anju's integration tests: one binary. Every test runs against SQLite, or against PostgreSQL
//! when `ANJU_TEST_DATABASE_URL` names a server (each test gets a fresh database there).

mod support;
mod schema;
mod indicators_domain;
