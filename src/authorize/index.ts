export { authorizeControl, authorizeSchema, type AuthorizeSpec, type PermissionSource } from "./scopes.js";
