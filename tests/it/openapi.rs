//! The OpenAPI description at `/api/v1/openapi.json`: open to anyone, and
//! naming every `/api/v1` route of the route table with its method, so a
//! route added without a description shows up here.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_api_route() {
    let app = spawn_app(&[]).await;

    // No token needed: the description holds no data.
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("application/json"), "{kind}");
    let doc: Value = response.json().await.unwrap();

    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "{version}");
    assert_eq!(doc["info"]["title"], "callpop");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["scheme"], "bearer", "{bearer}");

    let paths = doc["paths"].as_object().expect("paths");
    let mut missing = Vec::new();
    let mut described = 0;
    for route in callpop::web::routes() {
        if !route.path.starts_with("/api/v1") || route.path == "/api/v1/openapi.json" {
            continue;
        }
        let method = route.method.as_str().to_lowercase();
        let op = &paths.get(route.path).unwrap_or(&Value::Null)[&method];
        if !op.is_object() {
            missing.push(format!("{} {}", route.method, route.path));
            continue;
        }
        described += 1;
        let what = format!("{} {}", route.method, route.path);
        assert!(op["responses"]["401"].is_object(), "{what}: no 401");
        let ok = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .any(|status| status.starts_with('2'));
        assert!(ok, "{what}: no success response");
        // Every `{param}` of the path is described.
        for part in route.path.split('/') {
            let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) else {
                continue;
            };
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let found = params
                .iter()
                .any(|p| p["name"] == name && p["in"] == "path");
            assert!(found, "{what}: {{{name}}} not described");
        }
    }
    assert!(
        missing.is_empty(),
        "routes with no description: {missing:?}"
    );
    assert!(described >= 35, "only {described} routes described");

    // And nothing described that is not served.
    let served: Vec<(String, String)> = callpop::web::routes()
        .into_iter()
        .map(|r| (r.method.as_str().to_lowercase(), r.path.to_owned()))
        .collect();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let pair = (method.clone(), path.clone());
            assert!(
                served.contains(&pair),
                "{method} {path} is described, not served"
            );
        }
    }

    app.stop().await;
}
