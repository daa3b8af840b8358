export { GATEWAY_CSP, headersSchema, securityHeaders, type HeadersPolicy } from "./security-headers.js";
