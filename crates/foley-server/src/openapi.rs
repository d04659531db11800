//! The OpenAPI 3.1 document of the API (`GET /api/openapi.json`), written by hand; the upload
//! form's fields come from the same table the server parses them with.

use serde_json::{Map, Value, json};

use crate::form::{FIELDS, Kind};

/// The whole document.
pub(crate) fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "foley",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Give a silent video a synchronized soundtrack. Upload a video, follow the job's progress, fetch the muxed mp4, the wav and a spectrogram. With a token (`foley serve --token`), every /api route but this document needs `Authorization: Bearer TOKEN` or `?token=TOKEN`. Errors are `{\"error\": message}`."
        },
        "security": [{ "bearer": [] }, { "query_token": [] }],
        "paths": {
            "/healthz": {
                "get": {
                    "summary": "Liveness and load",
                    "security": [],
                    "responses": { "200": json_response("The server runs", "Health") }
                }
            },
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": {} } } }
                }
            },
            "/api/jobs": {
                "get": {
                    "summary": "The jobs the server knows, newest first",
                    "responses": { "200": json_response("The jobs", "JobList"), "401": error("Missing or wrong token") }
                },
                "post": {
                    "summary": "Upload a video and queue a generation job",
                    "description": "The upload is probed with ffprobe and every option checked before the job is queued. Files are stored under names the server chooses.",
                    "requestBody": {
                        "required": true,
                        "content": { "multipart/form-data": { "schema": form_schema() } }
                    },
                    "responses": {
                        "202": {
                            "description": "Queued",
                            "headers": { "Location": { "description": "The job's URL", "schema": { "type": "string" } } },
                            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Created" } } }
                        },
                        "400": error("Not a video the job can use, a bad or unknown field (the message names it)"),
                        "401": error("Missing or wrong token"),
                        "413": error("The upload is over the server's limit"),
                        "429": {
                            "description": "The queue is full",
                            "headers": { "Retry-After": { "description": "Seconds", "schema": { "type": "integer" } } },
                            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                        },
                        "503": error("The server is shutting down")
                    }
                }
            },
            "/api/jobs/{id}": {
                "parameters": [id_parameter()],
                "get": {
                    "summary": "A job's state, progress and results",
                    "responses": { "200": json_response("The job", "Job"), "401": error("Missing or wrong token"), "404": error("No such job (or expired)") }
                },
                "delete": {
                    "summary": "Cancel a job, or delete its results",
                    "description": "A queued job leaves the queue; a running one stops at its next window; a finished one's files are deleted.",
                    "responses": { "204": { "description": "Deleted" }, "401": error("Missing or wrong token"), "404": error("No such job") }
                }
            },
            "/api/jobs/{id}/events": {
                "parameters": [id_parameter()],
                "get": {
                    "summary": "Progress as server-sent events",
                    "description": "One `event: job` whose data is the Job record, at once and on every change; the stream ends after `done` or `failed` (or when the job is deleted). Comments keep the connection alive.",
                    "responses": {
                        "200": { "description": "An event stream", "content": { "text/event-stream": { "schema": { "type": "string" } } } },
                        "401": error("Missing or wrong token"),
                        "404": error("No such job")
                    }
                }
            },
            "/api/jobs/{id}/result.mp4": result("The video with its new soundtrack (video stream copied unchanged)", "video/mp4"),
            "/api/jobs/{id}/result.wav": result("The soundtrack", "audio/wav"),
            "/api/jobs/{id}/mel.png": result("The soundtrack's log-mel spectrogram", "image/png")
        },
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "The server's --token" },
                "query_token": { "type": "apiKey", "in": "query", "name": "token", "description": "The same token, for clients that cannot send headers (EventSource, <video src>)" }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": { "error": { "type": "string", "description": "What is wrong and what to do" } }
                },
                "Created": { "type": "object", "required": ["id"], "properties": { "id": { "type": "string", "pattern": "^[0-9a-f]{32}$" } } },
                "Health": {
                    "type": "object",
                    "required": ["status", "workers", "queued", "running", "model"],
                    "properties": {
                        "status": { "const": "ok" },
                        "workers": { "type": "integer" },
                        "queued": { "type": "integer" },
                        "running": { "type": "integer" },
                        "model": { "type": "string" }
                    }
                },
                "JobList": { "type": "object", "required": ["jobs"], "properties": { "jobs": { "type": "array", "items": { "$ref": "#/components/schemas/Job" } } } },
                "Job": job_schema()
            }
        }
    })
}

fn job_schema() -> Value {
    let seconds = |doc: &str| json!({ "type": ["number", "null"], "description": doc });
    json!({
        "type": "object",
        "required": ["id", "state", "stage", "progress", "windows_done", "windows_total", "error", "created", "started", "finished", "queue_position", "options", "duration", "results"],
        "properties": {
            "id": { "type": "string" },
            "state": { "enum": ["queued", "running", "done", "failed"] },
            "stage": { "type": ["string", "null"], "description": "The stage running or last run: generating, level and wav, mux, mel" },
            "progress": { "type": "number", "minimum": 0, "maximum": 1, "description": "Windows done / total; 1 when done" },
            "windows_done": { "type": "integer" },
            "windows_total": { "type": "integer" },
            "error": { "type": ["string", "null"], "description": "Why the job failed" },
            "created": { "type": "number", "description": "Unix seconds" },
            "started": seconds("Unix seconds"),
            "finished": seconds("Unix seconds"),
            "queue_position": { "type": ["integer", "null"], "description": "Jobs ahead of it while queued (0: next)" },
            "options": { "type": "object", "additionalProperties": { "type": "string" }, "description": "The form's text fields as given" },
            "duration": { "type": "number", "description": "Seconds of audio the job makes" },
            "results": {
                "oneOf": [
                    { "type": "null" },
                    {
                        "type": "object",
                        "required": ["mp4", "wav", "mel"],
                        "properties": { "mp4": { "type": "string" }, "wav": { "type": "string" }, "mel": { "type": "string" } }
                    }
                ],
                "description": "The result URLs, once done"
            }
        }
    })
}

/// The upload form, field by field.
fn form_schema() -> Value {
    let properties: Map<String, Value> = FIELDS
        .iter()
        .map(|field| {
            let mut schema = match field.kind {
                Kind::File => json!({ "type": "string", "format": "binary" }),
                Kind::Text => json!({ "type": "string" }),
                Kind::Integer => json!({ "type": "integer", "minimum": 0 }),
                Kind::Number => json!({ "type": "number" }),
                Kind::Boolean => json!({ "type": "boolean" }),
                Kind::Sampler => json!({ "enum": ["shortcut", "euler"] }),
            };
            schema["description"] = Value::from(field.doc);
            (field.name.to_string(), schema)
        })
        .collect();
    json!({ "type": "object", "required": ["video"], "additionalProperties": false, "properties": properties })
}

fn id_parameter() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } })
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn error(description: &str) -> Value {
    json_response(description, "Error")
}

fn result(summary: &str, content_type: &str) -> Value {
    json!({
        "parameters": [id_parameter()],
        "get": {
            "summary": summary,
            "description": "Served once the job is done; single byte ranges (`Range: bytes=A-B`) are answered with 206.",
            "responses": {
                "200": { "description": "The file", "content": { content_type: { "schema": { "type": "string", "format": "binary" } } } },
                "206": { "description": "The range asked for", "content": { content_type: { "schema": { "type": "string", "format": "binary" } } } },
                "401": error("Missing or wrong token"),
                "404": error("No such job, or not done"),
                "416": error("The range is outside the file")
            }
        }
    })
}
