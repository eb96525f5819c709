//! How errors reach clients as GraphQL errors, each with its `extensions.code` (a [`Code`]): the
//! domain's [`Error`], the refusals of a request or a field, and the engine's own errors, which
//! are coded by the phase that raised them ([`super::rules::Rules`] hands them here from each
//! phase's hook).

use crate::error::{is_unavailable, Code, Error, Result};
use async_graphql::parser;
use async_graphql::{ErrorExtensions, ServerError};
use sea_orm::DbErr;

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        if let Error::Database(cause) = self {
            let source = std::error::Error::source(cause);
            if is_unavailable(cause) {
                tracing::warn!(error = %cause, ?source, "database unavailable");
            } else {
                tracing::error!(error = %cause, ?source, "database error");
            }
        }
        coded(self.to_string(), self.code())
    }
}

/// Converts a domain result into a GraphQL result with the error's code attached.
pub trait GqlResult<T> {
    /// Maps the error through [`ErrorExtensions::extend`].
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResult<T> for Result<T> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

impl<T> GqlResult<T> for std::result::Result<T, DbErr> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| Error::Database(e).extend())
    }
}

/// An error with `code`, as a resolver returns it.
pub fn coded(message: impl Into<String>, code: Code) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code.as_str()))
}

/// A refusal of the request, or of a field: an error with `code` (and no location or path).
pub fn refusal(message: String, code: Code) -> ServerError {
    let mut err = ServerError::new(message, None);
    give_code(&mut err, code);
    err
}

/// Gives `err` the code `code`, unless it carries a code already.
fn give_code(err: &mut ServerError, code: Code) {
    let ext = err.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code.as_str());
    }
}

/// The engine's error from the parsing phase of `query`: reading the text, then its checks of
/// the document's nesting. A syntax error is `GRAPHQL_PARSE_FAILED`; a well-formed text that is
/// no document to run (two anonymous operations, a name defined twice, no operation at all, or
/// nested past the engine's recursion limits) is `GRAPHQL_VALIDATION_FAILED`.
pub fn unparsed(mut err: ServerError, query: &str) -> ServerError {
    // The engine turns the parser's error into a plain `ServerError`, dropping its kind; the
    // text is parsed once more to learn it, on this failure path only.
    let code = match parser::parse_query(query) {
        Err(parser::Error::Syntax { .. }) => Code::GraphqlParseFailed,
        _ => Code::GraphqlValidationFailed,
    };
    give_code(&mut err, code);
    err
}

/// The engine's error from validating the document against the schema.
pub fn invalid(mut err: ServerError) -> ServerError {
    give_code(&mut err, Code::GraphqlValidationFailed);
    err
}

/// The errors of a finished response, for those the engine raised between the phases above: an
/// error without a path that is still uncoded is a request error raised after validation, while
/// choosing the operation to run (an `operationName` the document lacks, none given for a
/// document of several), and is `GRAPHQL_VALIDATION_FAILED`. Errors with a path are the fields'
/// ([`field_error`]).
pub fn request_errors(errors: &mut [ServerError]) {
    for err in errors.iter_mut().filter(|e| e.path.is_empty()) {
        give_code(err, Code::GraphqlValidationFailed);
    }
}

/// An error raised while resolving a field (its arguments included), on its way out of the
/// field. One the service raised carries its code already. The engine's error for an argument
/// value its type refused to parse (a malformed `Date`, say) is `BAD_USER_INPUT`.
///
/// That error has no kind to read: async-graphql 7 builds it from the type's `InputValueError`
/// as a plain `ServerError` with a message and the argument's location, no source and no
/// extension, as it does any resolver's error. Its wording, `Failed to parse "<type>": …`
/// (`InputValueError::custom`, which a type's `parse` reaches through `?`), is the only mark it
/// bears, so it is told by that prefix, and only here, among the uncoded errors of a field. (The
/// engine's other wording for a refused argument, `Invalid value for argument …`, comes from
/// validation only, and is coded there by its phase.)
pub fn field_error(mut err: ServerError) -> ServerError {
    code_field_error(&mut err);
    err
}

fn code_field_error(err: &mut ServerError) {
    if err.message.starts_with("Failed to parse \"") {
        give_code(err, Code::BadUserInput);
    }
}

/// The errors of a response executed without the rules' hooks (see [`super::Engine`]), coded
/// as the hooks would have: those with a path as [`field_error`], the rest as
/// [`request_errors`].
pub fn executed_errors(errors: &mut [ServerError]) {
    for err in errors.iter_mut().filter(|e| !e.path.is_empty()) {
        code_field_error(err);
    }
    request_errors(errors);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The code `err` carries, if any.
    fn code(err: &ServerError) -> Option<&str> {
        match err.extensions.as_ref()?.get("code")? {
            async_graphql::Value::String(s) => Some(s),
            _ => None,
        }
    }

    fn parse_error(query: &str) -> ServerError {
        parser::parse_query(query)
            .expect_err("a parse error")
            .into()
    }

    #[test]
    fn parse_errors_are_told_by_the_parser_kind() {
        for (query, expected) in [
            ("{ area(code: ", Code::GraphqlParseFailed),
            ("", Code::GraphqlParseFailed),
            ("{ a(x: 1e999) }", Code::GraphqlParseFailed),
            ("{ a } { b }", Code::GraphqlValidationFailed),
            ("query A { a } query A { b }", Code::GraphqlValidationFailed),
            ("fragment F on Query { a }", Code::GraphqlValidationFailed),
        ] {
            let err = unparsed(parse_error(query), query);
            assert_eq!(code(&err), Some(expected.as_str()), "{query}");
        }
        // Parsed, then refused by the engine's nesting check.
        let nested = unparsed(ServerError::new("too deep", None), "{ a }");
        assert_eq!(code(&nested), Some(Code::GraphqlValidationFailed.as_str()));
    }

    #[test]
    fn a_code_already_given_is_kept() {
        let refused = refusal("no".into(), Code::TooManyAliases);
        let kept = Some(Code::TooManyAliases.as_str());
        assert_eq!(code(&invalid(refused.clone())), kept);
        assert_eq!(code(&unparsed(refused.clone(), "{")), kept);
        assert_eq!(code(&field_error(refused.clone())), kept);
        let mut errors = vec![refused];
        request_errors(&mut errors);
        assert_eq!(code(&errors[0]), kept);
    }

    #[test]
    fn only_argument_parse_errors_of_a_field_are_bad_input() {
        let argument = ServerError::new(r#"Failed to parse "Date": not a date"#, None);
        assert_eq!(
            code(&field_error(argument)),
            Some(Code::BadUserInput.as_str())
        );
        assert_eq!(code(&field_error(ServerError::new("boom", None))), None);
    }

    #[test]
    fn executed_errors_are_coded_as_the_hooks_code_them() {
        let mut argument = ServerError::new(r#"Failed to parse "Date": not a date"#, None);
        argument.path = vec![async_graphql::PathSegment::Field("a".into())];
        let mut plain = ServerError::new("boom", None);
        plain.path = vec![async_graphql::PathSegment::Field("b".into())];
        let mut errors = vec![
            argument,
            plain,
            ServerError::new(r#"Unknown operation named "X""#, None),
        ];
        executed_errors(&mut errors);
        assert_eq!(code(&errors[0]), Some(Code::BadUserInput.as_str()));
        assert_eq!(code(&errors[1]), None);
        assert_eq!(
            code(&errors[2]),
            Some(Code::GraphqlValidationFailed.as_str())
        );
    }

    #[test]
    fn pathless_errors_left_uncoded_are_request_errors() {
        let mut field = ServerError::new("boom", None);
        field.path = vec![async_graphql::PathSegment::Field("a".into())];
        let mut errors = vec![
            ServerError::new(r#"Unknown operation named "X""#, None),
            field,
        ];
        request_errors(&mut errors);
        assert_eq!(
            code(&errors[0]),
            Some(Code::GraphqlValidationFailed.as_str())
        );
        assert_eq!(code(&errors[1]), None);
    }
}
