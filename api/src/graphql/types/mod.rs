//! The register's GraphQL object types. They refer to one another (an area lists its sites, a
//! site its households, a household its site and area, `node` any of them), so they live in one
//! module, apart from the rest of the GraphQL layer.

pub mod area;
pub mod audit;
pub mod household;
pub mod node;
pub mod site;
