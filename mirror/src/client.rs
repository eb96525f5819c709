//! GraphQL over HTTP with an API key: one POST per request, the `data` typed by the caller,
//! and the errors a consumer must tell apart (a resync, throttling) by their
//! `extensions.code`.

use crate::Error;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// Retries of one request that the server throttled or could not serve for a moment.
const RETRIES: u32 = 20;

/// The API, as one caller.
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    key: String,
}

#[derive(Deserialize)]
struct Response<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

#[derive(Deserialize)]
struct GraphqlError {
    message: String,
    #[serde(default)]
    extensions: Option<Value>,
}

impl GraphqlError {
    fn code(&self) -> &str {
        self.extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Codes that mean "try again shortly".
fn transient(code: &str) -> bool {
    matches!(code, "THROTTLED" | "TIMEOUT" | "DATABASE_UNAVAILABLE")
}

impl Client {
    /// A client of the API at `url` (its base, or its `/graphql` endpoint) with the API key
    /// `key`.
    pub fn new(url: &str, key: &str) -> Result<Client, Error> {
        let base = url.trim_end_matches('/');
        let endpoint = if base.ends_with("/graphql") {
            base.to_owned()
        } else {
            format!("{base}/graphql")
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        Ok(Client {
            http,
            endpoint,
            key: key.to_owned(),
        })
    }

    /// Runs `query` with `variables` and returns its `data`; a GraphQL error fails the call
    /// (`RESYNC_REQUIRED` as [`Error::Resync`]), except those that say to try again shortly,
    /// which are retried.
    pub async fn query<T: DeserializeOwned>(
        &self,
        query: &str,
        variables: Value,
    ) -> Result<T, Error> {
        let body = json!({ "query": query, "variables": variables });
        let mut attempt = 0;
        loop {
            attempt += 1;
            let response = self
                .http
                .post(&self.endpoint)
                .header("x-api-key", &self.key)
                .header("anju-purpose", "mirror of the register")
                .json(&body)
                .send()
                .await?;
            let status = response.status();
            let wait = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(Duration::from_secs)
                .unwrap_or(Duration::from_millis(200 * u64::from(attempt.min(10))));
            let text = response.text().await?;
            let parsed: Result<Response<T>, _> = serde_json::from_str(&text);
            let retry = match &parsed {
                Ok(r) => r.errors.iter().any(|e| transient(e.code())),
                Err(_) => status.as_u16() == 429 || status.is_server_error(),
            };
            if retry && attempt <= RETRIES {
                tracing::debug!(%status, "the API asks to try again; waiting {wait:?}");
                tokio::time::sleep(wait).await;
                continue;
            }
            let parsed = parsed.map_err(|e| Error::Api {
                code: format!("HTTP {status}"),
                message: format!(
                    "unreadable answer ({e}): {}",
                    text.chars().take(500).collect::<String>()
                ),
            })?;
            if let Some(error) = parsed.errors.first() {
                return Err(match error.code() {
                    "RESYNC_REQUIRED" => Error::Resync(error.message.clone()),
                    code => Error::Api {
                        code: code.to_owned(),
                        message: error.message.clone(),
                    },
                });
            }
            return parsed.data.ok_or_else(|| Error::Api {
                code: format!("HTTP {status}"),
                message: "an answer without data".into(),
            });
        }
    }
}
