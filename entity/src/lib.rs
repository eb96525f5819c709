//! Anju's database entities: one module per table of the relocation register.
//!
//! These are storage types only. The API has its own types (see the `anju` crate), so a column
//! never becomes part of the public contract by accident.

pub mod area;
pub mod area_closure;
pub mod audit_log;
pub mod employment;
pub mod enums;
pub mod homestead;
pub mod household;
pub mod member;
pub mod positional;
pub mod site;
pub mod site_work;
