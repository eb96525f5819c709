//! The GraphQL-over-HTTP protocol: reading a request from GET parameters or a JSON body, choosing
//! the response media type from `Accept`, and the status codes the specification asks for.

use crate::error::Code;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The media type of the GraphQL-over-HTTP specification.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// The legacy media type every client understands.
pub const APPLICATION_JSON: &str = "application/json";

/// How the response is encoded, from the request's `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: request errors get 4xx codes.
    GraphqlResponse,
    /// `application/json`: every well-formed GraphQL response is 200.
    Json,
}

impl MediaType {
    /// The `Content-Type` to answer with.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type, or `None` when the client accepts neither.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, MediaType)> = None;
    for part in accept.split(',') {
        let mut pieces = part.split(';').map(str::trim);
        let range = pieces.next().unwrap_or("").to_ascii_lowercase();
        let q = pieces
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let media = match range.as_str() {
            GRAPHQL_RESPONSE_JSON => MediaType::GraphqlResponse,
            APPLICATION_JSON | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        if q <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((bq, bm)) => {
                q > bq || (q == bq && media == MediaType::GraphqlResponse && bm != media)
            }
        };
        if better {
            best = Some((q, media));
        }
    }
    best.map(|(_, m)| m)
}

/// A request that is not a well-formed GraphQL-over-HTTP request.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
}

impl Rejection {
    /// A failure of the service itself, told to the client without its cause.
    pub fn internal() -> Self {
        Rejection {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: Code::Internal,
            message: "internal error".into(),
        }
    }

    /// The database could not be reached; the same request will most likely succeed shortly.
    pub fn database_unavailable() -> Self {
        Rejection {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: Code::DatabaseUnavailable,
            message: "the database is unavailable; try again shortly".into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            code: Code::BadRequest,
            message: message.into(),
        }
    }
}

/// The parameters of one GraphQL request.
#[derive(Debug, Default, Clone)]
pub struct Params {
    pub query: String,
    pub operation_name: Option<String>,
    pub variables: Option<Map<String, Value>>,
    pub extensions: Option<Map<String, Value>>,
}

fn object_or_null(
    value: Option<Value>,
    name: &str,
) -> Result<Option<Map<String, Value>>, Rejection> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(Rejection::bad_request(format!(
            "`{name}` must be an object or null"
        ))),
    }
}

fn params_from_object(mut body: Map<String, Value>) -> Result<Params, Rejection> {
    let persisted = body
        .get("extensions")
        .and_then(|e| e.get("persistedQuery"))
        .is_some();
    let query = match body.remove("query") {
        Some(Value::String(q)) => q,
        // A persisted query may come as its hash alone.
        None | Some(Value::Null) if persisted => String::new(),
        None | Some(Value::Null) => {
            return Err(Rejection::bad_request("the request has no `query`"))
        }
        Some(_) => return Err(Rejection::bad_request("`query` must be a string")),
    };
    let operation_name = match body.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            return Err(Rejection::bad_request(
                "`operationName` must be a string or null",
            ))
        }
    };
    Ok(Params {
        query,
        operation_name,
        variables: object_or_null(body.remove("variables"), "variables")?,
        extensions: object_or_null(body.remove("extensions"), "extensions")?,
    })
}

/// Reads the parameters of a GET request from its query string.
pub fn from_query_string(params: HashMap<String, String>) -> Result<Params, Rejection> {
    let mut body = Map::new();
    for (key, value) in params {
        let value = match key.as_str() {
            "variables" | "extensions" => serde_json::from_str(&value)
                .map_err(|_| Rejection::bad_request(format!("`{key}` is not valid JSON")))?,
            _ => Value::String(value),
        };
        body.insert(key, value);
    }
    params_from_object(body)
}

/// Reads the parameters of a POST request from its JSON body.
pub fn from_body(headers: &HeaderMap, body: &[u8]) -> Result<Params, Rejection> {
    let unsupported = |message: String| Rejection {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code: Code::UnsupportedMediaType,
        message,
    };
    let Some(content_type) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Err(unsupported(
            "a POST request needs `Content-Type: application/json`".into(),
        ));
    };
    let mut pieces = content_type.split(';').map(str::trim);
    let essence = pieces.next().unwrap_or("").to_ascii_lowercase();
    if essence != APPLICATION_JSON {
        return Err(unsupported(format!(
            "`{essence}` is not supported; send `application/json`"
        )));
    }
    if let Some(charset) = pieces.find_map(|p| {
        p.to_ascii_lowercase()
            .strip_prefix("charset=")
            .map(str::to_owned)
    }) {
        if charset.trim_matches('"') != "utf-8" {
            return Err(unsupported(format!(
                "charset `{charset}` is not supported; send UTF-8"
            )));
        }
    }
    if body.is_empty() {
        return Err(Rejection::bad_request("a POST request needs a JSON body"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => params_from_object(map),
        Ok(Value::Array(_)) => Err(Rejection::bad_request(
            "batched requests are not accepted; send one request",
        )),
        Ok(_) => Err(Rejection::bad_request("the body must be a JSON object")),
        Err(e) => Err(Rejection::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// The operation a document runs, given the request's `operationName`: its name (when it has
/// one) and its type. `None` when the name selects nothing or a nameless choice is ambiguous;
/// the executor then reports that properly.
pub fn selected_operation(
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<(Option<String>, OperationType)> {
    match (&doc.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some((None, op.node.ty)),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name).map(|op| (Some(name.to_owned()), op.node.ty))
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .iter()
            .next()
            .map(|(name, op)| (Some(name.to_string()), op.node.ty)),
        _ => None,
    }
}

/// Whether `doc` reads the change feed (`changesHead`, `changes`) anywhere: the feed, and the
/// records it carries with their versions, are read from the primary, where the feed's order
/// is decided, never from a standby a little behind it.
pub fn reads_change_feed(doc: &ExecutableDocument) -> bool {
    use async_graphql::parser::types::{Selection, SelectionSet};
    fn walk(set: &SelectionSet) -> bool {
        set.items.iter().any(|item| match &item.node {
            Selection::Field(f) => {
                matches!(f.node.name.node.as_str(), "changes" | "changesHead")
                    || walk(&f.node.selection_set.node)
            }
            Selection::InlineFragment(f) => walk(&f.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    doc.operations
        .iter()
        .any(|(_, op)| walk(&op.node.selection_set.node))
        || doc
            .fragments
            .values()
            .any(|f| walk(&f.node.selection_set.node))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &str) -> Option<MediaType> {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        negotiate(&h)
    }

    #[test]
    fn accept_header_picks_the_media_type() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(MediaType::Json));
        assert_eq!(accept("application/json"), Some(MediaType::Json));
        assert_eq!(accept("*/*"), Some(MediaType::Json));
        assert_eq!(
            accept("application/graphql-response+json"),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(
            accept("application/json;q=0.9, application/graphql-response+json"),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, application/json"),
            Some(MediaType::Json)
        );
        assert_eq!(accept("text/html"), None);
    }

    #[test]
    fn parameters_are_type_checked() {
        let p = |v: serde_json::Value| params_from_object(v.as_object().unwrap().clone());
        assert!(p(serde_json::json!({ "query": "{ a }" })).is_ok());
        assert!(p(serde_json::json!({ "query": 1 })).is_err());
        assert!(p(serde_json::json!({})).is_err());
        assert!(p(serde_json::json!({ "query": "{ a }", "variables": "x" })).is_err());
        assert!(p(serde_json::json!({ "query": "{ a }", "operationName": 3 })).is_err());
        assert!(p(serde_json::json!({ "query": "{ a }", "extensions": [] })).is_err());
        assert!(
            p(serde_json::json!({ "query": "{ a }", "variables": null, "extensions": {} })).is_ok()
        );
    }

    #[test]
    fn the_selected_operation_is_found() {
        let select = |q: &str, op: Option<&str>| {
            let doc = async_graphql::parser::parse_query(q).unwrap();
            selected_operation(&doc, op)
        };
        assert_eq!(
            select("mutation { a }", None),
            Some((None, OperationType::Mutation))
        );
        assert_eq!(select("{ a }", None), Some((None, OperationType::Query)));
        assert_eq!(
            select("query Q { a } mutation M { b }", Some("M")),
            Some((Some("M".into()), OperationType::Mutation))
        );
        assert_eq!(
            select("query Q { a } mutation M { b }", Some("Q")),
            Some((Some("Q".into()), OperationType::Query))
        );
        assert_eq!(
            select("query Q { a }", None),
            Some((Some("Q".into()), OperationType::Query))
        );
        assert_eq!(select("query Q { a } query R { b }", None), None);
        assert_eq!(select("query Q { a }", Some("X")), None);
    }
}
