//! The OpenAPI 3.1 document, generated from the route table so it cannot drift from the routes.
//! Each operation carries `x-warden-roles`, the roles that may call it.

use serde_json::{Map, Value, json};

use crate::auth::Access;
use crate::routes::Route;

/// Build the document for `routes`.
pub fn document(routes: &[Route]) -> Value {
    let mut paths = Map::new();
    for route in routes {
        let mut parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(route.query.iter().map(|(name, required, description)| {
            json!({"name": name, "in": "query", "required": required, "description": description})
        }));
        let (status, description) = route.success;
        let mut operation = json!({
            "summary": route.summary,
            "operationId": format!("{}{}", route.method.as_str().to_lowercase(), route.path.replace(['/', '{', '}', '.'], "_")),
            "parameters": parameters,
            "responses": {
                status.to_string(): {"description": description},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "413": {"$ref": "#/components/responses/Error"},
                "422": {"$ref": "#/components/responses/Error"},
                "503": {"$ref": "#/components/responses/Error"},
            },
        });
        match route.access {
            Access::Public => {
                operation["security"] = json!([]);
                operation["x-warden-roles"] = json!("public");
            }
            Access::Roles(roles) => {
                operation["security"] = json!([{"bearer": []}]);
                operation["x-warden-roles"] = json!(roles);
            }
        }
        if route.upload {
            operation["requestBody"] = json!({
                "required": true,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}},
                },
            });
        } else if let Some(schema) = route.request {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}},
            });
        }
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method.as_str().to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Warden API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Frontier-AI safety practices as running software. Send `Authorization: Bearer wdn_…`; each operation lists its roles in `x-warden-roles`.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {
                "description": "What went wrong and what to do",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }}},
                "AppendRequest": {"type": "object", "additionalProperties": false, "required": ["kind", "subject"], "properties": {
                    "kind": {"type": "string", "pattern": "^[a-z][a-z0-9._-]{0,63}$", "examples": ["note.incident"], "description": "kinds a capability reserves (access., data., eval., gate., guard., ledger., mark., registry., watermark.) are refused with 403: write them through that capability's routes"},
                    "subject": {"type": "string", "minLength": 1, "maxLength": 512},
                    "payload": {"description": "any JSON value; integers beyond ±2^53 must be strings"},
                }},
                "SignRequest": {"type": "object", "additionalProperties": false, "required": ["role", "note"], "properties": {
                    "role": {"type": "string", "description": "a role the proposal needs and the calling key holds", "examples": ["safety-officer"]},
                    "note": {"type": "string", "description": "the text of GET /v1/gate/proposals/{id}/statement signed by the person's registered signing key, as a C2SP signed note"},
                }},
                "BatchRequest": {"type": "object", "additionalProperties": false, "required": ["entries"], "properties": {
                    "entries": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"$ref": "#/components/schemas/AppendRequest"}},
                }},
                "ChatCompletionRequest": {"type": "object", "required": ["messages"], "properties": {
                    "model": {"type": "string"},
                    "messages": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["role"], "properties": {"role": {"type": "string"}, "content": {}}}},
                    "temperature": {"type": "number", "minimum": 0, "maximum": 10},
                    "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                    "top_k": {"type": "integer", "minimum": 0},
                    "repetition_penalty": {"type": "number"},
                    "seed": {"type": "integer"},
                    "max_tokens": {"type": "integer", "minimum": 1},
                    "max_completion_tokens": {"type": "integer", "minimum": 1},
                    "stop": {},
                    "stream": {"type": "boolean"},
                }},
                "CreateKeyRequest": {"type": "object", "additionalProperties": false, "required": ["name", "roles"], "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 64},
                    "roles": {"type": "array", "minItems": 1, "items": {"enum": warden_core::Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>()}},
                }},
            },
        },
    })
}
