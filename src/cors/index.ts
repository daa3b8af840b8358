export { corsControl, corsSchema, type CorsPolicy } from "./cors.js";
