//! CORS (placeholder, completed below).
#[derive(Clone, Debug, Default)]
pub struct Cors;
impl super::Middleware for Cors {
    async fn around<E: super::Endpoint>(
        &self,
        req: &mut crate::RequestContext<'_>,
        next: super::Next<'_, E>,
    ) -> crate::Response {
        next.run(req).await
    }
}
