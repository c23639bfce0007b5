//! GZip (placeholder, completed below).
#[derive(Clone, Debug, Default)]
pub struct GZip;
impl super::Middleware for GZip {
    async fn around<E: super::Endpoint>(
        &self,
        req: &mut crate::RequestContext<'_>,
        next: super::Next<'_, E>,
    ) -> crate::Response {
        next.run(req).await
    }
}
