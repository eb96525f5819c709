//! Who is asking: authentication (bearer JWTs for people, API keys for machines), the roles and
//! area scope a principal holds, masking of personal data, and the audit trail.
//!
//! Every request resolves to a [`Caller`] before any resolver runs. A principal sees the subtree
//! of its area (CONTRACT §4); see [`scope`] for how that is enforced on every path.

pub mod apikey;
pub mod audit;
pub mod jwt;
pub mod mask;
pub mod opaque;
pub mod scope;
pub mod secrets;

use crate::config::AuthConfig;
use axum::http::{header, HeaderMap};
use sea_orm::DatabaseConnection;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// What a principal may do. Each role reads within its area's subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in the subtree, including the audit log.
    Admin,
    /// Reads and writes the register.
    Officer,
    /// Reads and writes the records of one resettlement site.
    SiteManager,
    /// Reads aggregates and non-personal fields.
    Viewer,
    /// Read-only machine access (the provincial big-data system).
    Integration,
}

impl Role {
    /// Every role, in order of decreasing power.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Officer,
        Role::SiteManager,
        Role::Viewer,
        Role::Integration,
    ];

    /// The lower-case name used in tokens, keys and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Officer => "officer",
            Role::SiteManager => "site_manager",
            Role::Viewer => "viewer",
            Role::Integration => "integration",
        }
    }

    /// Whether the role may change the register.
    pub fn writes(self) -> bool {
        matches!(self, Role::Admin | Role::Officer | Role::SiteManager)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role `{s}` (one of: {})",
                    Role::ALL.map(Role::as_str).join(", ")
                )
            })
    }
}

/// An authenticated person or machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who: `user:<sub>` for a token, `key:<id>` for an API key.
    pub actor: String,
    pub role: Role,
    /// The root of what the principal sees.
    pub area_code: String,
    /// For a site manager: the one site.
    pub site_code: Option<String>,
    /// Whether personal data is shown unmasked (and each such read audited).
    pub pii: bool,
}

/// Who is asking, resolved once per request and kept in the request's data.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No credentials: only indicators and area and site names, when public reads are on.
    Anonymous,
    Principal(Arc<Principal>),
}

impl Caller {
    /// The principal, if any.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Caller::Anonymous => None,
            Caller::Principal(p) => Some(p),
        }
    }
}

/// Why a request's credentials were refused. The client only learns that they were.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the credentials are malformed")]
    Malformed,
    #[error("the token is invalid: {0}")]
    InvalidToken(String),
    #[error("the API key is unknown or revoked")]
    InvalidKey,
    #[error("credentials are required")]
    Required,
    #[error("the credentials could not be checked")]
    Unavailable,
}

/// Turns request headers into a [`Caller`].
#[derive(Clone)]
pub struct Authenticator {
    db: DatabaseConnection,
    jwt: Option<Arc<jwt::Verifier>>,
    pii_roles: Arc<Vec<Role>>,
    public_reads: bool,
}

impl Authenticator {
    /// The authenticator `config` describes. Without a configured key outside production, tokens
    /// are checked against the development secret kept in the database (what `anju token` signs
    /// with); in production without one, only API keys are accepted.
    pub async fn new(
        db: DatabaseConnection,
        config: &AuthConfig,
        production: bool,
    ) -> anyhow::Result<Self> {
        let jwt = jwt::Verifier::from_config(&db, config, production).await?;
        if jwt.is_none() {
            tracing::warn!(
                "no token key configured: bearer tokens are refused, API keys still work"
            );
        }
        Ok(Self {
            db,
            jwt: jwt.map(Arc::new),
            pii_roles: Arc::new(pii_roles(config)?),
            public_reads: config.public_reads,
        })
    }

    /// Whether callers without credentials may read indicators and names.
    pub fn public_reads(&self) -> bool {
        self.public_reads
    }

    /// Whether `role` sees personal data unmasked.
    pub fn grants_pii(&self, role: Role) -> bool {
        self.pii_roles.contains(&role)
    }

    /// Resolves the caller of a request from its `Authorization: Bearer …` or `X-Api-Key`
    /// header. No header is an anonymous caller; a bad header is an error, never anonymous.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, AuthError> {
        let authorization = match headers.get(header::AUTHORIZATION) {
            Some(value) => Some(value.to_str().map_err(|_| AuthError::Malformed)?),
            None => None,
        };
        let api_key = match headers.get("x-api-key") {
            Some(value) => Some(value.to_str().map_err(|_| AuthError::Malformed)?),
            None => None,
        };
        Ok(self
            .authenticate_values(authorization, api_key)
            .await?
            .caller)
    }

    /// Resolves a caller from the values an `Authorization` (`Bearer …`) and an `X-Api-Key`
    /// header would carry, wherever they travelled (a WebSocket's `connection_init` carries
    /// them in its payload), exactly as [`authenticate`](Self::authenticate) does; with the
    /// moment the credentials expire, if they do.
    pub async fn authenticate_values(
        &self,
        authorization: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<Authenticated, AuthError> {
        let credential = if let Some(value) = authorization {
            let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
            if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                return Err(AuthError::Malformed);
            }
            token.trim().to_owned()
        } else if let Some(value) = api_key {
            value.to_owned()
        } else {
            return if self.public_reads {
                Ok(Authenticated {
                    caller: Caller::Anonymous,
                    expires_at: None,
                })
            } else {
                Err(AuthError::Required)
            };
        };
        let (actor, role, area_code, site_code, expires_at) =
            if apikey::looks_like_key(&credential) {
                let key = apikey::verify(&self.db, &credential).await?;
                (
                    format!("key:{}", key.id),
                    key.role,
                    key.area_code,
                    key.site_code,
                    None,
                )
            } else {
                let verifier = self.jwt.as_ref().ok_or_else(|| {
                    AuthError::InvalidToken("tokens are not accepted here".into())
                })?;
                let claims = verifier.verify(&credential)?;
                let role: Role = claims.role.parse().map_err(AuthError::InvalidToken)?;
                (
                    format!("user:{}", claims.sub),
                    role,
                    claims.area,
                    claims.site,
                    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(claims.exp)),
                )
            };
        if role == Role::SiteManager && site_code.is_none() {
            return Err(AuthError::InvalidToken(
                "a site manager's credentials must name a site".into(),
            ));
        }
        Ok(Authenticated {
            caller: Caller::Principal(Arc::new(Principal {
                actor,
                role,
                pii: self.grants_pii(role),
                area_code,
                site_code,
            })),
            expires_at,
        })
    }
}

/// A caller whose credentials held, and when they stop holding.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub caller: Caller,
    /// When the token expires; `None` for API keys (valid until revoked) and anonymous callers.
    pub expires_at: Option<std::time::SystemTime>,
}

/// The roles `config` grants personal data.
fn pii_roles(config: &AuthConfig) -> anyhow::Result<Vec<Role>> {
    config
        .pii_roles
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|e: String| anyhow::anyhow!("ANJU_PII_ROLES: {e}"))
        })
        .collect()
}
