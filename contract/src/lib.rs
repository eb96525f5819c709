//! What the register's CSV interchange format (CONTRACT §1) fixes, shared by everything that
//! reads or writes it: the service's import and export, the demo generator and the mirror.
//!
//! It knows no database and no HTTP, so any crate may depend on it.

pub mod file;
pub mod id_number;
pub mod table;
