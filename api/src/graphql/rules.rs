//! The request rules the engine enforces, as its one extension.
//!
//! The engine runs every extension's `resolve` hook around every field of a response, so each
//! extension costs a boxed future and a hop per field: on a page of a hundred households with
//! their members that is thousands of hops. The rules therefore travel together in one
//! extension, each hook handing over to the module that owns the rule:
//! - after parsing, [`super::limits::DocumentRules`] (directives, aliases, introspection) and
//!   [`super::nul::check`] (no NUL character in any string argument or variable);
//! - after validation, [`super::limits::ValidationLimits`] (depth, cost) and
//!   [`super::cost::charge`] (the caller's rate-limit budget);
//! - around each field, [`super::access::gate`] (what an anonymous caller may read).
//!
//! The same hooks code the engine's own errors by the phase that raised them
//! ([`super::errors`]): whatever fails in parsing, in validation, in a field, or in between.
//!
//! The per-field hook matters to anonymous callers only. A principal's request is therefore
//! admitted here (every hook up to execution, which [`AdmitOnly`] skips) and then executed by
//! a twin schema without extensions, whose fields take the engine's direct path; its errors
//! are coded afterwards the way the hooks would have ([`super::Engine`]).

use super::errors;
use super::limits::{DocumentRules, ValidationLimits};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
    NextResolve, NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};
use std::sync::Arc;

/// Marks a request that is to be admitted only: parsed, checked, validated and charged, but not
/// executed.
pub struct AdmitOnly;

/// The extension; one instance per request.
#[derive(Clone, Copy)]
pub struct Rules {
    pub document: DocumentRules,
    pub validation: ValidationLimits,
}

impl ExtensionFactory for Rules {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Rules {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        errors::request_errors(&mut response.errors);
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| errors::unparsed(e, query))?;
        self.document.check(&doc)?;
        super::nul::check(&doc, variables)?;
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next
            .run(ctx)
            .await
            .map_err(|errs| errs.into_iter().map(errors::invalid).collect::<Vec<_>>())?;
        self.validation.check(&result).map_err(|e| vec![e])?;
        super::cost::charge(ctx, &result)
            .await
            .map_err(|e| vec![e])?;
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        // Admitted, and not to be run here: the engine's schema without extensions runs it
        // (see [`super::Engine::execute`]).
        if ctx.data_opt::<AdmitOnly>().is_some() {
            return Response::new(Value::Null);
        }
        next.run(ctx, operation_name).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        super::access::gate(ctx, info, next)
            .await
            .map_err(errors::field_error)
    }
}
