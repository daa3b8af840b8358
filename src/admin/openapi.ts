import { z } from "zod";
import { POLICY_NAME } from "../pipeline/names.js";
import type { AdminOperation } from "./operations.js";

const problem = {
  description: "Error",
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
};

export function openApiDocument(operations: readonly AdminOperation[], version: string): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const op of operations) {
    const path = op.path.replace(/:(\w+)/g, "{$1}");
    const params = [...op.path.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      // Ids are UUIDs; names (limits) follow the policy's name pattern.
      schema: m[1] === "id" ? { type: "string", format: "uuid" } : { type: "string", pattern: POLICY_NAME.source },
    }));
    (paths[path] ??= {})[op.method.toLowerCase()] = {
      operationId: op.operationId,
      summary: op.summary,
      parameters: params,
      ...(op.body === undefined
        ? {}
        : { requestBody: { required: true, content: { "application/json": { schema: z.toJSONSchema(op.body, { io: "input" }) } } } }),
      responses: {
        [op.status]: { description: "OK", content: { "application/json": { schema: z.toJSONSchema(op.response) } } },
        default: problem,
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "Portcullis admin API", version },
    components: {
      securitySchemes: { adminToken: { type: "http", scheme: "bearer" } },
      schemas: {
        Problem: {
          type: "object",
          required: ["type", "title", "status", "code", "request_id"],
          properties: {
            type: { type: "string" },
            title: { type: "string" },
            status: { type: "integer" },
            code: { type: "string" },
            detail: { type: "string" },
            request_id: { type: "string" },
          },
        },
      },
    },
    security: [{ adminToken: [] }],
    paths,
  };
}
