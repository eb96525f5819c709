//! Bearer JSON Web Tokens for people.
//!
//! One algorithm is accepted, fixed by configuration: HS256 with a shared secret, or RS256 or
//! EdDSA with a public key. The header's `alg` must equal it (so `none`, and a public key used
//! as an HMAC secret, are refused), and `exp`, `nbf`, `iss`, `aud` and `sub` are checked.

use super::AuthError;
use crate::config::AuthConfig;
use anyhow::Context as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

/// The secret `anju token` and a development server share when no key is configured.
pub const DEV_SECRET_NAME: &str = "jwt_development_hs256";

/// The claims Anju reads from a token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The person.
    pub sub: String,
    /// One of the roles (`officer`, …).
    pub role: String,
    /// The area code whose subtree the person sees.
    pub area: String,
    /// For a site manager, the site.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
}

/// Checks tokens (and, with an HMAC secret, mints them).
pub struct Verifier {
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    algorithm: Algorithm,
    issuer: String,
    audience: String,
}

impl Verifier {
    /// A verifier for an HMAC secret.
    pub fn hs256(secret: &[u8], issuer: &str, audience: &str) -> anyhow::Result<Self> {
        Ok(Self::new(
            Algorithm::HS256,
            DecodingKey::from_secret(secret)?,
            Some(EncodingKey::from_secret(secret)?),
            issuer,
            audience,
        ))
    }

    fn new(
        algorithm: Algorithm,
        decoding: DecodingKey,
        encoding: Option<EncodingKey>,
        issuer: &str,
        audience: &str,
    ) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 30;
        Self {
            decoding,
            encoding,
            validation,
            algorithm,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        }
    }

    /// The verifier the configuration names; `None` when tokens cannot be checked (production
    /// without a configured key).
    pub async fn from_config(
        db: &DatabaseConnection,
        config: &AuthConfig,
        production: bool,
    ) -> anyhow::Result<Option<Self>> {
        let (iss, aud) = (&config.jwt_issuer, &config.jwt_audience);
        if let Some(path) = &config.jwt_public_key {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read the token public key {}", path.display()))?;
            let (algorithm, key) = match config.jwt_algorithm.as_str() {
                "RS256" => (Algorithm::RS256, DecodingKey::from_rsa_pem(&pem)),
                "EdDSA" => (Algorithm::EdDSA, DecodingKey::from_ed_pem(&pem)),
                other => anyhow::bail!(
                    "ANJU_JWT_ALGORITHM must be RS256 or EdDSA with a public key, not `{other}`"
                ),
            };
            let key = key.with_context(|| {
                format!(
                    "{} is not a {algorithm:?} public key in PEM",
                    path.display()
                )
            })?;
            return Ok(Some(Self::new(algorithm, key, None, iss, aud)));
        }
        if let Some(secret) = config
            .jwt_secret
            .as_ref()
            .map(ExposeSecret::expose_secret)
            .filter(|s| !s.is_empty())
        {
            if secret.len() < 32 {
                anyhow::bail!("ANJU_JWT_SECRET must be at least 32 bytes long");
            }
            return Ok(Some(Self::hs256(secret.as_bytes(), iss, aud)?));
        }
        if production {
            return Ok(None);
        }
        let secret = super::secrets::get_or_create(db, DEV_SECRET_NAME).await?;
        Ok(Some(Self::hs256(secret.as_bytes(), iss, aud)?))
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))?;
        if header.alg != self.algorithm {
            return Err(AuthError::InvalidToken(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))
    }

    /// Signs a token for `sub` valid for `ttl` (HMAC secrets only).
    pub fn mint(
        &self,
        sub: &str,
        role: super::Role,
        area: &str,
        site: Option<&str>,
        ttl: std::time::Duration,
    ) -> anyhow::Result<String> {
        let key = self.encoding.as_ref().context(
            "tokens for a public key are issued by the identity provider that holds the private key",
        )?;
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: sub.to_owned(),
            role: role.as_str().to_owned(),
            area: area.to_owned(),
            site: site.map(str::to_owned),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + ttl.as_secs(),
            nbf: now,
            iat: now,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(self.algorithm),
            &claims,
            key,
        )?)
    }
}
