//! The committed `schema.graphql` is what the code serves, and every part of it is documented.

use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use std::path::Path;

fn committed() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn committed_schema_matches_the_code() {
    let served = anju::graphql::sdl();
    assert!(
        committed() == served,
        "schema.graphql differs from the code: run `cargo run -- schema > schema.graphql` and commit it"
    );
}

#[test]
fn every_type_field_argument_and_enum_value_is_documented() {
    let doc = async_graphql::parser::parse_schema(committed()).expect("schema.graphql parses");
    let mut missing = Vec::new();
    for def in &doc.definitions {
        let TypeSystemDefinition::Type(ty) = def else {
            continue;
        };
        let ty = &ty.node;
        let name = ty.name.node.as_str();
        if ty.description.is_none() {
            missing.push(name.to_owned());
        }
        match &ty.kind {
            TypeKind::Object(o) => {
                for f in &o.fields {
                    let f = &f.node;
                    if f.description.is_none() {
                        missing.push(format!("{name}.{}", f.name.node));
                    }
                    for a in &f.arguments {
                        if a.node.description.is_none() {
                            missing.push(format!("{name}.{}({})", f.name.node, a.node.name.node));
                        }
                    }
                }
            }
            TypeKind::InputObject(o) => {
                for f in &o.fields {
                    if f.node.description.is_none() {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                }
            }
            TypeKind::Enum(e) => {
                for v in &e.values {
                    if v.node.description.is_none() {
                        missing.push(format!("{name}.{}", v.node.value.node));
                    }
                }
            }
            _ => {}
        }
    }
    assert!(
        missing.is_empty(),
        "undocumented schema elements: {missing:#?}"
    );
}

#[test]
fn contract_names_are_present() {
    let sdl = committed();
    for needle in [
        "scalar Date",
        "input ScopeInput @oneOf",
        "type Ratio",
        "enum WorkCategory",
        "enum EmploymentPath",
        "type CategoryRatio",
        "type PathCount",
        "type IndicatorSet",
        "indicatorSeries(",
        "type ResettlementSite",
        "type Household",
        "type Member",
        "type Employment",
        "type Homestead",
        "type SiteWork",
    ] {
        assert!(sdl.contains(needle), "schema.graphql lacks `{needle}`");
    }
}

/// `graphql-schema-linter` with the Relay rules (configuration in tests/schema-lint) passes.
/// Alphabetical-order rules are left out: the contract lists enum values in a meaningful order.
#[test]
fn the_schema_passes_the_linter() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema-lint");
    if !dir.join("node_modules/.bin/graphql-schema-linter").exists() {
        let status = std::process::Command::new("npm")
            .arg("install")
            .current_dir(&dir)
            .status()
            .expect("npm (Node.js) is needed to lint the schema");
        assert!(status.success(), "npm install failed in {}", dir.display());
    }
    let out = std::process::Command::new(dir.join("node_modules/.bin/graphql-schema-linter"))
        .arg("../../schema.graphql")
        .current_dir(&dir)
        .output()
        .expect("run graphql-schema-linter");
    assert!(
        out.status.success(),
        "schema.graphql has lint errors:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
