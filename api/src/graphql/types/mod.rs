//! The register's GraphQL object types, one file per record kind with its filter inputs and
//! queries. They refer to one another (an area lists its sites, a site its households, a
//! household its site and area, `node` any of them), so they live in one module, apart from the
//! rest of the GraphQL layer.

pub mod area;
pub mod audit;
pub mod changes;
pub mod drilldown;
pub mod employment;
pub mod homestead;
pub mod household;
pub mod member;
pub mod node;
pub mod period;
pub mod site;
pub mod webhook;
