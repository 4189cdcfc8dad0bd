//! The request pipeline: a stack of tower layers, read top to bottom in
//! [`build`]. Each stage is a [`Stage`]; the last step, countersign and
//! forward, is a plain service.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::util::BoxCloneService;
use tower::{Layer, Service, ServiceBuilder};

use crate::body::GatewayBody;
use crate::Gateway;

/// A request inside the pipeline.
pub type PipelineRequest = Request<GatewayBody>;
/// A response inside the pipeline.
pub type PipelineResponse = Response<GatewayBody>;
/// The rest of the pipeline, as seen from a stage.
pub type Next = BoxCloneService<PipelineRequest, PipelineResponse, Infallible>;
/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One step of the pipeline: it may answer itself or pass the request on.
pub trait Stage: Send + Sync + 'static {
    /// Handles `req`, calling `next` to continue.
    fn call(self: Arc<Self>, req: PipelineRequest, next: Next) -> BoxFuture<PipelineResponse>;
}

/// Makes a [`Stage`] a tower [`Layer`].
#[derive(Debug)]
pub struct StageLayer<S>(Arc<S>);

impl<S> StageLayer<S> {
    /// Wraps a stage.
    pub fn new(stage: S) -> Self {
        Self(Arc::new(stage))
    }
}

impl<S: Stage, I> Layer<I> for StageLayer<S>
where
    I: Service<PipelineRequest, Response = PipelineResponse, Error = Infallible>
        + Clone
        + Send
        + 'static,
    I::Future: Send + 'static,
{
    type Service = StageService<S>;

    fn layer(&self, inner: I) -> StageService<S> {
        StageService {
            stage: self.0.clone(),
            next: BoxCloneService::new(inner),
        }
    }
}

/// A stage with the rest of the pipeline behind it.
pub struct StageService<S> {
    stage: Arc<S>,
    next: Next,
}

impl<S> Clone for StageService<S> {
    fn clone(&self) -> Self {
        Self {
            stage: self.stage.clone(),
            next: self.next.clone(),
        }
    }
}

impl<S: Stage> Service<PipelineRequest> for StageService<S> {
    type Response = PipelineResponse;
    type Error = Infallible;
    type Future = BoxFuture<Result<PipelineResponse, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: PipelineRequest) -> Self::Future {
        let fut = self.stage.clone().call(req, self.next.clone());
        Box::pin(async move { Ok(fut.await) })
    }
}

/// The pipeline, outermost first.
pub fn build(gateway: Arc<Gateway>) -> Next {
    let forward = crate::forward::Forward(gateway.clone());
    BoxCloneService::new(
        ServiceBuilder::new()
            // Request id, the audit event and request metrics.
            .layer(StageLayer::new(crate::stages::Audit(gateway.clone())))
            // SigV4 verification of the client's gateway credentials.
            .layer(StageLayer::new(crate::stages::Authenticate(
                gateway.clone(),
            )))
            // Service catalog: operation, IAM actions, resources, condition keys.
            .layer(StageLayer::new(crate::stages::Classify(gateway.clone())))
            // The principal's compiled policy decides; anything not allowed is denied.
            .layer(StageLayer::new(crate::stages::Authorize(gateway)))
            // Strip the client's auth, re-sign upstream, forward, stream back.
            .service(forward),
    )
}
