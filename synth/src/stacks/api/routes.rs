//! The API's routes: one resource per path prefix, shared by every route below it, and for each declared
//! route its method (behind the authorizer when private) and the permission to invoke its function.

use std::collections::BTreeMap;

use contract::{Function, Segment, route};

use super::Gateway;
use crate::config::Stage;
use crate::model::resources::{ApiResource, Authorizer, Function as LambdaFunction, Integration, Method, Permission};
use crate::model::{Handle, LogicalId, Template};

/// `orders/*` for `/orders/{id}`: the path as it appears in an execute-api ARN, parameters as `*`.
fn arn_path(segments: &[Segment<'_>]) -> String {
    let parts: Vec<&str> = segments
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => *l,
            Segment::Parameter(_) => "*",
        })
        .collect();
    parts.join("/")
}

/// Every route's resources, method and invoke permission; returns the ids the deployment snapshots.
pub(super) fn build(
    t: &mut Template,
    api: &Gateway,
    stage: &Stage,
    functions: &BTreeMap<Function, Handle<LambdaFunction>>,
    authorizer: Option<&Handle<Authorizer>>,
) -> Vec<LogicalId> {
    let mut ids = Vec::new();
    let mut resources: BTreeMap<String, Handle<ApiResource>> = BTreeMap::new();
    for (f, target) in functions {
        let Some(route) = f.route() else { continue };
        // Declarations are checked (contract::functions::check) before synth runs; a bad path here
        // is a bug, and the route is skipped rather than half-built.
        let Ok(segments) = route::parse_path(&route.path) else { continue };
        let Some(resource) = resource(t, api, &segments, &mut resources, &mut ids) else { continue };
        let id = format!("{}{}", route.method.pascal(), route::path_id(&segments));
        let request_parameters: BTreeMap<String, bool> = segments
            .iter()
            .filter_map(|s| match s {
                Segment::Parameter(p) => Some((format!("method.request.path.{p}"), true)),
                Segment::Literal(_) => None,
            })
            .collect();
        let method = t.add(
            &format!("{id}Method"),
            Method {
                rest_api_id: api.api.reference(),
                resource_id: resource.reference(),
                http_method: route.method.as_str(),
                authorization_type: if route.authorized() { "CUSTOM" } else { "NONE" },
                authorizer_id: authorizer.filter(|_| route.authorized()).map(Handle::reference),
                request_parameters,
                integration: Integration {
                    kind: "AWS_PROXY",
                    integration_http_method: "POST",
                    uri: Gateway::invoke_uri(target),
                },
            },
        );
        t.add(
            &format!("{id}InvokePermission"),
            Permission {
                action: "lambda:InvokeFunction",
                function_name: target.arn(),
                principal: "apigateway.amazonaws.com",
                source_arn: api.execute_api_arn(vec![
                    format!("{}/{}/{}", stage.name, route.method.as_str(), arn_path(&segments)).into(),
                ]),
            },
        );
        ids.push(method.id().clone());
    }
    ids
}

/// The resource of the path `segments`, made with any missing parent, parents first; each new one's id is
/// added to `ids`.
fn resource(
    t: &mut Template,
    api: &Gateway,
    segments: &[Segment<'_>],
    resources: &mut BTreeMap<String, Handle<ApiResource>>,
    ids: &mut Vec<LogicalId>,
) -> Option<Handle<ApiResource>> {
    let mut parent = api.api.root_resource_id();
    let mut handle = None;
    for depth in 1..=segments.len() {
        let prefix = &segments[..depth];
        // Keyed by the path itself: distinct paths never share a resource (contract::functions::check
        // also refuses distinct paths whose logical ids would collide).
        let key = route::path_text(prefix);
        let resource = match resources.get(&key) {
            Some(existing) => existing.clone(),
            None => {
                let created = t.add(
                    &route::resource_id(prefix),
                    ApiResource {
                        parent_id: parent.clone(),
                        path_part: prefix[depth - 1].path_part(),
                        rest_api_id: api.api.reference(),
                    },
                );
                ids.push(created.id().clone());
                resources.insert(key, created.clone());
                created
            }
        };
        parent = resource.reference();
        handle = Some(resource);
    }
    handle
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_keep_the_first_apis_and_name_the_rest_by_path() {
        let ids = |p| route::resource_id(&route::parse_path(p).unwrap_or_default());
        assert_eq!(ids("/signup"), "PostSignupResource");
        assert_eq!(ids("/orders/{id}"), "OrdersByIdResource");
        assert_eq!(arn_path(&route::parse_path("/users/{id}/orders").unwrap_or_default()), "users/*/orders");
    }
}
