//! How responses leave: the body rendered with its cost, refusals, and the retry advice of an
//! unavailable database.
use super::protocol::{MediaType, Rejection};
use super::AppState;
use crate::error::Code;
use crate::graphql::RequestId;
use axum::body::Bytes;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// How long a client told the database is unavailable waits before sending again, in seconds:
/// the pool reconnects as soon as the database answers.
const RETRY_AFTER_SECS: &str = "1";

pub(super) fn retry_after(response: &mut Response) {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
}

/// A response body: `data` when given, `errors` when there are any, and `extensions` (the
/// response's own, then `cost` when given) when there are any. Serialized straight from the
/// engine's values.
pub(super) fn render(
    data: Option<&async_graphql::Value>,
    errors: &[async_graphql::ServerError],
    extensions: &std::collections::BTreeMap<String, async_graphql::Value>,
    cost: Option<&async_graphql::Value>,
) -> serde_json::Result<Vec<u8>> {
    use serde::ser::{SerializeMap, Serializer};
    struct Extensions<'a> {
        own: &'a std::collections::BTreeMap<String, async_graphql::Value>,
        cost: Option<&'a async_graphql::Value>,
    }
    impl serde::Serialize for Extensions<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            for (k, v) in self.own.iter().filter(|(k, _)| k.as_str() != "cost") {
                map.serialize_entry(k, v)?;
            }
            if let Some(cost) = self.cost {
                map.serialize_entry("cost", cost)?;
            }
            map.end()
        }
    }
    let mut out = Vec::with_capacity(4096);
    let mut ser = serde_json::Serializer::new(&mut out);
    let mut map = ser.serialize_map(None)?;
    if let Some(data) = data {
        map.serialize_entry("data", data)?;
    }
    if !errors.is_empty() {
        map.serialize_entry("errors", errors)?;
    }
    if !extensions.is_empty() || cost.is_some() {
        map.serialize_entry(
            "extensions",
            &Extensions {
                own: extensions,
                cost,
            },
        )?;
    }
    map.end()?;
    Ok(out)
}

/// `body` (a JSON object without top-level `extensions`, as [`render`] writes it without
/// extensions) with `extensions.cost` added, by appending the member before its closing brace.
pub(super) fn with_cost(body: Bytes, cost: async_graphql::Value) -> Bytes {
    let Ok(cost) = serde_json::to_vec(&cost) else {
        return body;
    };
    let trimmed = body.trim_ascii_end();
    let Some(open) = trimmed.strip_suffix(b"}") else {
        return body;
    };
    let empty = open.trim_ascii_end().ends_with(b"{");
    let mut out = Vec::with_capacity(body.len() + cost.len() + 32);
    out.extend_from_slice(open);
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(b"\"extensions\":{\"cost\":");
    out.extend_from_slice(&cost);
    out.extend_from_slice(b"}}");
    Bytes::from(out)
}

/// A JSON response with the negotiated media type.
pub(super) fn json_response(status: StatusCode, media: MediaType, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, media.content_type())], body).into_response()
}

/// Answers a request that never reached GraphQL execution.
pub(super) fn reject(
    state: &AppState,
    media: MediaType,
    request_id: &RequestId,
    rejection: Rejection,
) -> Response {
    state.metrics.rejected(rejection.code.as_str());
    let body = serde_json::json!({
        "errors": [{
            "message": rejection.message,
            "extensions": { "code": rejection.code.as_str(), "requestId": request_id.0 },
        }]
    });
    let mut response = (
        rejection.status,
        [(header::CONTENT_TYPE, media.content_type())],
        Json(body),
    )
        .into_response();
    if rejection.code == Code::DatabaseUnavailable {
        retry_after(&mut response);
    }
    response
}

/// Gives every error of an executed request the request id, and masks one without a code as
/// `INTERNAL`: the schema codes all it raises (see `graphql::errors`), so an uncoded error is an
/// unplanned failure, whose words are logged and never shown.
pub(super) fn finish_errors(errors: &mut [async_graphql::ServerError], request_id: &RequestId) {
    for error in errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            tracing::error!(request_id = %request_id.0, message = %error.message, "uncoded error masked as INTERNAL");
            error.message = "internal error".into();
            ext.set("code", Code::Internal.as_str());
        }
        ext.set("requestId", request_id.0.clone());
    }
}

/// The codes of `errors`, in order.
pub(super) fn codes(errors: &[async_graphql::ServerError]) -> Vec<&str> {
    errors
        .iter()
        .filter_map(|e| e.extensions.as_ref()?.get("code"))
        .filter_map(|v| match v {
            async_graphql::Value::String(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Name, ServerError, Value as GqlValue};
    use std::collections::BTreeMap;

    fn cost() -> GqlValue {
        let mut m = async_graphql::indexmap::IndexMap::new();
        m.insert(Name::new("requested"), GqlValue::from(3));
        GqlValue::Object(m)
    }

    fn parse(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).expect("JSON")
    }

    #[test]
    fn the_cost_is_added_to_a_rendered_body() {
        let data = GqlValue::from_json(serde_json::json!({ "a": [1, "x"] })).expect("value");
        let plain = render(Some(&data), &[], &BTreeMap::new(), None).expect("render");
        assert_eq!(
            parse(&plain),
            serde_json::json!({ "data": { "a": [1, "x"] } })
        );
        let body = with_cost(Bytes::from(plain), cost());
        assert_eq!(
            parse(&body),
            serde_json::json!({ "data": { "a": [1, "x"] }, "extensions": { "cost": { "requested": 3 } } })
        );
        assert_eq!(
            parse(&with_cost(Bytes::from_static(b"{ }"), cost())),
            serde_json::json!({ "extensions": { "cost": { "requested": 3 } } })
        );
    }

    #[test]
    fn errors_and_own_extensions_render_beside_the_cost() {
        let errors = vec![ServerError::new("no", None)];
        let mut own = BTreeMap::new();
        own.insert("trace".to_owned(), GqlValue::from(true));
        own.insert("cost".to_owned(), GqlValue::from("stale"));
        let body = render(None, &errors, &own, Some(&cost())).expect("render");
        assert_eq!(
            parse(&body),
            serde_json::json!({
                "errors": [{ "message": "no" }],
                "extensions": { "trace": true, "cost": { "requested": 3 } }
            })
        );
    }
}
