//! Pages of later features for the page-quality list, with the records they need.
use crate::support::TestApp;

pub async fn pages(_app: &TestApp) -> Vec<(String, Option<&'static str>)> {
    Vec::new()
}
