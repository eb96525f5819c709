//! Refuses any string argument holding a NUL character (U+0000), however it arrives: written in
//! the document, as a variable, or as a variable's default. PostgreSQL cannot store NUL in text
//! and refuses the whole statement, which would otherwise reach the client as an internal error
//! from whichever resolver first sent the value to the database. Checked once per request, right
//! after parsing and before anything runs, by [`super::rules::Rules`], so no resolver has to.

use super::errors::refusal;
use crate::error::Code;
use async_graphql::parser::types::{
    Directive, ExecutableDocument, Selection, SelectionSet, VariableDefinition,
};
use async_graphql::{
    Name, Pos, Positioned, ServerError, ServerResult, Value as ConstValue, Variables,
};
use std::convert::Infallible;

/// The first string argument of `doc` or value of `variables` that holds a NUL, as a
/// `BAD_USER_INPUT` error naming where it is.
pub fn check(doc: &ExecutableDocument, variables: &Variables) -> ServerResult<()> {
    for (name, value) in variables.iter() {
        if let Some(at) = in_const(value, format!("${name}")) {
            return Err(nul(format!("variable `{at}`"), None));
        }
    }
    for (_, op) in doc.operations.iter() {
        for var in &op.node.variable_definitions {
            in_definition(var)?;
        }
        in_directives(&op.node.directives)?;
        in_set(&op.node.selection_set.node)?;
    }
    for fragment in doc.fragments.values() {
        in_directives(&fragment.node.directives)?;
        in_set(&fragment.node.selection_set.node)?;
    }
    Ok(())
}

fn nul(what: String, pos: Option<Pos>) -> ServerError {
    let mut err = refusal(
        format!(
            "{what} contains a NUL character (U+0000), which the register cannot store: remove it"
        ),
        Code::BadUserInput,
    );
    err.locations = pos.into_iter().collect();
    err
}

fn in_definition(var: &Positioned<VariableDefinition>) -> ServerResult<()> {
    let def = &var.node;
    if let Some(default) = &def.default_value {
        if let Some(at) = in_const(&default.node, format!("${}", def.name.node)) {
            return Err(nul(
                format!("the default value of variable `{at}`"),
                Some(default.pos),
            ));
        }
    }
    in_directives(&def.directives)
}

fn in_directives(directives: &[Positioned<Directive>]) -> ServerResult<()> {
    for d in directives {
        let owner = format!("directive `@{}`", d.node.name.node);
        for (name, value) in &d.node.arguments {
            let Ok(written) = value.node.clone().into_const_with(variables_as_null);
            in_argument(&owner, name, written, value.pos)?;
        }
    }
    Ok(())
}

fn in_argument(
    owner: &str,
    name: &Positioned<Name>,
    value: ConstValue,
    pos: Pos,
) -> ServerResult<()> {
    match in_const(&value, name.node.to_string()) {
        Some(at) => Err(nul(format!("argument `{at}` of {owner}"), Some(pos))),
        None => Ok(()),
    }
}

fn in_set(set: &SelectionSet) -> ServerResult<()> {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                let owner = format!("field `{}`", f.node.name.node);
                for (name, value) in &f.node.arguments {
                    let Ok(written) = value.node.clone().into_const_with(variables_as_null);
                    in_argument(&owner, name, written, value.pos)?;
                }
                in_directives(&f.node.directives)?;
                in_set(&f.node.selection_set.node)?;
            }
            Selection::InlineFragment(f) => {
                in_directives(&f.node.directives)?;
                in_set(&f.node.selection_set.node)?;
            }
            Selection::FragmentSpread(s) => in_directives(&s.node.directives)?,
        }
    }
    Ok(())
}

/// Reads a variable in a written value as null: variables are checked on their own.
fn variables_as_null(_: Name) -> Result<ConstValue, Infallible> {
    Ok(ConstValue::Null)
}

/// The path below `at` of the first string holding a NUL in a constant value.
fn in_const(value: &ConstValue, at: String) -> Option<String> {
    match value {
        ConstValue::String(s) => s.contains('\0').then_some(at),
        ConstValue::List(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| in_const(v, format!("{at}[{i}]"))),
        ConstValue::Object(fields) => fields
            .iter()
            .find_map(|(k, v)| in_const(v, format!("{at}.{k}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(query: &str, variables: serde_json::Value) -> Option<String> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        check(&doc, &Variables::from_json(variables))
            .err()
            .map(|e| e.message)
    }

    #[test]
    fn a_nul_is_found_wherever_a_string_argument_is() {
        let none = serde_json::json!({});
        assert_eq!(
            message(r#"{ household(code: "H01") { code } }"#, none.clone()),
            None
        );
        let inline = message(r#"{ household(code: "H\u0000") { code } }"#, none.clone());
        assert_eq!(
            inline.as_deref(),
            Some("argument `code` of field `household` contains a NUL character (U+0000), which the register cannot store: remove it")
        );
        let nested = message(
            r#"mutation { createHousehold(input: { members: [{ name: "ok" }, { name: "a\u0000" }] }) { userErrors { code } } }"#,
            none.clone(),
        );
        assert!(nested
            .unwrap()
            .starts_with("argument `input.members[1].name` of field `createHousehold`"));
        let fragment = message(
            r#"{ ...F } fragment F on Query { site(code: "\u0000") { code } }"#,
            none.clone(),
        );
        assert!(fragment
            .unwrap()
            .starts_with("argument `code` of field `site`"));
        let variable = message(
            "query($input: X) { a(input: $input) }",
            serde_json::json!({ "input": { "headName": "王\u{0}" } }),
        );
        assert!(variable.unwrap().starts_with("variable `$input.headName`"));
        let default = message(r#"query($c: String = "\u0000") { a(c: $c) }"#, none);
        assert!(default
            .unwrap()
            .starts_with("the default value of variable `$c`"));
    }
}
