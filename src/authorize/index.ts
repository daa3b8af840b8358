export { authorizeControl, authorizeSchema, type AuthorizeSpec } from "./scopes.js";
