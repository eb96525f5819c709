//! Protection limits that refuse an abusive document before any resolver or SQL runs.
//!
//! The directive and alias limits and the introspection switch are this module's
//! [`DocumentRules`], checked right after parsing; depth and cost, which the engine's validation
//! measures, are [`ValidationLimits`], checked right after validation. Each refusal carries its
//! own code. The cost model: every field costs 1; a list costs its page size (`first`,
//! default 20) times what one of its nodes costs; lists bounded by one household or site cost
//! their expected size instead (members 5, employments 2, homesteads 2, works 10); `indicators`
//! costs 10 and `indicatorSeries` 10 per month end.

use super::errors::refusal;
use crate::error::Code;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Positioned, ServerResult, ValidationResult};
use std::collections::HashMap;

/// The limits in force.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_cost: usize,
    pub max_aliases: usize,
    pub max_directives: usize,
}

impl From<&crate::config::ServeConfig> for Limits {
    /// The limits a serve configuration sets.
    fn from(serve: &crate::config::ServeConfig) -> Self {
        Self {
            max_depth: serve.max_depth,
            max_cost: serve.max_cost,
            max_aliases: serve.max_aliases,
            max_directives: serve.max_directives,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_cost: 20_000,
            max_aliases: 30,
            max_directives: 10,
        }
    }
}

/// Refuses documents with a field carrying more directives than allowed, with more aliased
/// fields than allowed (`__typename` aliases included, fragments counted once per use) and, when
/// introspection is off, documents that ask for `__schema` or `__type`.
#[derive(Clone, Copy)]
pub struct DocumentRules {
    pub max_directives: usize,
    pub max_aliases: usize,
    pub introspection: bool,
}

impl DocumentRules {
    /// Refuses `doc` if it breaks a rule. Run right after parsing by [`super::rules::Rules`].
    pub fn check(&self, doc: &ExecutableDocument) -> ServerResult<()> {
        check_directives(doc, self.max_directives)?;
        let count = count_aliases(doc);
        if count > self.max_aliases {
            return Err(refusal(
                format!(
                    "the document has {count} aliases; at most {} are allowed",
                    self.max_aliases
                ),
                Code::TooManyAliases,
            ));
        }
        if !self.introspection && asks_for_schema(doc) {
            return Err(refusal(
                "introspection is disabled".into(),
                Code::IntrospectionDisabled,
            ));
        }
        Ok(())
    }
}

/// Refuses a validated document nested deeper, or costing more, than allowed: its depth and cost
/// as the engine's validation measured them (cost first, as the engine would check them).
#[derive(Clone, Copy)]
pub struct ValidationLimits {
    pub max_depth: usize,
    pub max_cost: usize,
}

impl ValidationLimits {
    /// Refuses the document `result` measures if it breaks a limit. Run right after validation
    /// by [`super::rules::Rules`]. The messages are the engine's own, as clients have known them.
    pub fn check(&self, result: &ValidationResult) -> ServerResult<()> {
        if result.complexity > self.max_cost {
            return Err(refusal(
                "Query is too complex.".into(),
                Code::QueryTooCostly,
            ));
        }
        if result.depth > self.max_depth {
            return Err(refusal(
                "Query is nested too deep.".into(),
                Code::QueryTooDeep,
            ));
        }
        Ok(())
    }
}

/// The first field of an operation (fragments followed) carrying more than `max` directives,
/// refused in the engine's own words, as clients have known them. The engine's nesting check has
/// run on the document before (a cycle of fragments cannot get here); the walk stops well past
/// that nesting all the same.
fn check_directives(doc: &ExecutableDocument, max: usize) -> ServerResult<()> {
    fn in_set(
        doc: &ExecutableDocument,
        set: &Positioned<SelectionSet>,
        max: usize,
        depth: usize,
    ) -> ServerResult<()> {
        if depth > 64 {
            return Ok(());
        }
        for item in &set.node.items {
            match &item.node {
                Selection::Field(field) => {
                    if field.node.directives.len() > max {
                        let mut err = refusal(
                            format!(
                                "The number of directives on the field `{}` cannot be greater than `{max}`",
                                field.node.name.node
                            ),
                            Code::TooManyDirectives,
                        );
                        err.locations = vec![field.pos];
                        return Err(err);
                    }
                    in_set(doc, &field.node.selection_set, max, depth + 1)?;
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = doc.fragments.get(&spread.node.fragment_name.node) {
                        in_set(doc, &fragment.node.selection_set, max, depth + 1)?;
                    }
                }
                Selection::InlineFragment(fragment) => {
                    in_set(doc, &fragment.node.selection_set, max, depth + 1)?;
                }
            }
        }
        Ok(())
    }
    for (_, op) in doc.operations.iter() {
        in_set(doc, &op.node.selection_set, max, 0)?;
    }
    Ok(())
}

/// Whether any selection of the document is `__schema` or `__type`.
fn asks_for_schema(doc: &ExecutableDocument) -> bool {
    fn in_set(set: &SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(f) => {
                matches!(f.node.name.node.as_str(), "__schema" | "__type")
                    || in_set(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => in_set(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    doc.operations
        .iter()
        .any(|(_, op)| in_set(&op.node.selection_set.node))
        || doc
            .fragments
            .values()
            .any(|f| in_set(&f.node.selection_set.node))
}

/// Aliased fields in every operation, with fragment spreads expanded.
pub fn count_aliases(doc: &ExecutableDocument) -> usize {
    let mut memo = HashMap::new();
    doc.operations
        .iter()
        .map(|(_, op)| in_set(doc, &op.node.selection_set.node, &mut memo, 0))
        .sum()
}

fn in_set(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    memo: &mut HashMap<String, usize>,
    depth: usize,
) -> usize {
    // Fragment cycles are a validation error found later; stop counting well before they matter.
    if depth > 64 {
        return 0;
    }
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some())
                    + in_set(doc, &f.node.selection_set.node, memo, depth + 1)
            }
            Selection::InlineFragment(f) => {
                in_set(doc, &f.node.selection_set.node, memo, depth + 1)
            }
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.to_string();
                if let Some(n) = memo.get(&name) {
                    return *n;
                }
                let n = doc
                    .fragments
                    .get(&s.node.fragment_name.node)
                    .map(|f| in_set(doc, &f.node.selection_set.node, memo, depth + 1))
                    .unwrap_or(0);
                memo.insert(name, n);
                n
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(q: &str) -> usize {
        count_aliases(&async_graphql::parser::parse_query(q).unwrap())
    }

    #[test]
    fn aliases_are_counted_through_fragments() {
        assert_eq!(count("{ a: __typename b: __typename c }"), 2);
        assert_eq!(
            count("{ ...F ...F } fragment F on Query { x: __typename y: __typename }"),
            4
        );
        assert_eq!(count("{ area(code: \"1\") { p: parent { q: code } } }"), 2);
    }
}
