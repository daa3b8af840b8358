import { z } from "zod";
import { originSchema } from "../return-url/return-url.js";

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]{0,127}$/, "environment variable names are upper-case letters, digits and _");
const httpsUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

export const providerSchema = z
  .strictObject({
    /** The issuer, for discovery (`/.well-known/openid-configuration`, then RFC 8414's). Or give the endpoints. */
    issuer: httpsUrl.optional(),
    authorizationEndpoint: httpsUrl.optional(),
    tokenEndpoint: httpsUrl.optional(),
    /** RFC 7009; without one, deleting a connection can only forget the tokens. */
    revocationEndpoint: httpsUrl.optional(),
    clientId: z.string().min(1).max(500),
    /** The environment variable holding the client secret. A missing one stops the gateway from starting. */
    clientSecretEnv: envName,
    clientAuth: z.enum(["client_secret_basic", "client_secret_post"]).default("client_secret_basic"),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "a scope token")).default([]),
    /** Plain http to the provider: only for a local authorization server in development; production refuses it. */
    allowInsecureHttp: z.boolean().default(false),
  })
  .refine((p) => p.issuer !== undefined || (p.authorizationEndpoint !== undefined && p.tokenEndpoint !== undefined), "give issuer (discovery) or authorizationEndpoint and tokenEndpoint");

export const connectionsSchema = z
  .strictObject({
    providers: z.record(z.string().regex(/^[a-z0-9-]{1,40}$/, "provider names are a-z, 0-9 and -"), providerSchema).default({}),
    /** The gateway's public origin: the callback is {publicUrl}/portcullis/v1/connections/{provider}/callback. */
    publicUrl: originSchema.optional(),
    /** Where a finished authorization may send the user back to (exact origins). */
    returnOrigins: z.array(originSchema).default([]),
    /** How long an authorization may take, from the redirect to the callback. */
    stateTtlSeconds: z.number().int().min(30).max(3_600).default(600),
    /** An access token this close to expiry is refreshed before it is handed out. */
    refreshSkewSeconds: z.number().int().min(0).max(86_400).default(60),
  })
  .default({ providers: {}, returnOrigins: [], stateTtlSeconds: 600, refreshSkewSeconds: 60 })
  .refine((c) => Object.keys(c.providers).length === 0 || c.publicUrl !== undefined, { message: "connections.publicUrl is needed for the callback URL", path: ["publicUrl"] });

export type ConnectionsPolicy = z.infer<typeof connectionsSchema>;
export type ProviderPolicy = z.infer<typeof providerSchema>;
